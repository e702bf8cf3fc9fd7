// Package metadata stores the apiserver's records in one bbolt file,
// <root>/metadata.db.
//
// Schema (top-level buckets):
//
//	schema/                        owned by db.go
//	  version  -> uint64, big endian: the schema version of the file
//	migrations/                    owned by db.go: one key per applied migration
//	  <version, 8 bytes big endian> -> JSON {"name": ..., "applied_at": RFC 3339}
//	images/                        owned by images.go (image records, by name)
//	containers/                    owned by containers.go (container records, by id)
//
// Each domain store lives in its own file of this package and owns exactly
// one top-level bucket, named above; it creates the bucket lazily or in a
// migration.
//
// Open never deletes, truncates, rewrites or "repairs" a file it cannot
// open or parse: it returns an error naming the file, and the daemon stops.
// A file written by a newer apiserver (schema version above the newest
// migration known here) is refused the same way. Migrations run in order,
// each in its own transaction, and record themselves in migrations/.
//
// Foreign errors are translated where they enter: bbolt's
// ErrBucketExists becomes errdefs.ErrAlreadyExists, a lock timeout
// becomes errdefs.ErrUnavailable, an unreadable file
// errdefs.ErrFailedPrecondition.
package metadata
