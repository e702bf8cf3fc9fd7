package metadata

import (
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/berth/container/errdefs"
)

// TestMigrateFromUnversioned opens a bbolt file that predates the schema
// bucket and checks that migration keeps its data.
func TestMigrateFromUnversioned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucket([]byte("legacy"))
		if err != nil {
			return err
		}
		return bk.Put([]byte("k"), []byte("v"))
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}

	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if v, err := db.SchemaVersion(); err != nil || v != LatestVersion() {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		if got := tx.Bucket([]byte("legacy")).Get([]byte("k")); string(got) != "v" {
			t.Errorf("legacy data = %q after migration", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFailedMigrationRollsBack adds a failing migration and checks that
// the file keeps its previous version and nothing of the failed step.
func TestFailedMigrationRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	saved := migrations
	t.Cleanup(func() { migrations = saved })
	boom := errors.New("boom")
	migrations = append(migrations[:len(migrations):len(migrations)], migration{
		version: LatestVersion() + 1, name: "fails halfway",
		apply: func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucket([]byte("half")); err != nil {
				return err
			}
			return boom
		},
	})
	if _, err := Open(path, Options{}); !errors.Is(err, boom) {
		t.Fatalf("Open with a failing migration: %v, want boom", err)
	}
	migrations = saved

	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, _ := db.SchemaVersion(); v != LatestVersion() {
		t.Errorf("version = %d, want %d", v, LatestVersion())
	}
	_ = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("half")) != nil {
			t.Error("failed migration left its bucket")
		}
		return nil
	})
}

func TestMigrationsAreConsecutive(t *testing.T) {
	for i, m := range migrations {
		if m.version != uint64(i+1) || m.name == "" || m.apply == nil {
			t.Errorf("migration %d = {%d %q}: versions must run 1, 2, 3... with a name", i, m.version, m.name)
		}
	}
	if _, err := Open(t.TempDir(), Options{}); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("Open(dir) = %v", err)
	}
}
