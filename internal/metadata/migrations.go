package metadata

import bolt "go.etcd.io/bbolt"

// migration moves the file from version-1 to version.
type migration struct {
	version uint64
	name    string
	apply   func(tx *bolt.Tx) error
}

// migrations is the ordered list of schema changes. Append only: never
// edit or reorder a released migration. Versions are consecutive from 1.
var migrations = []migration{
	{version: 1, name: "initial schema", apply: func(tx *bolt.Tx) error {
		// Version 1 holds the schema and migrations buckets, created by
		// recordMigration; domain buckets are created by their stores.
		return nil
	}},
}

// LatestVersion is the schema version this binary writes.
func LatestVersion() uint64 { return migrations[len(migrations)-1].version }
