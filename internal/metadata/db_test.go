package metadata

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/berth/container/errdefs"
)

func TestOpenCreatesSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	v, err := db.SchemaVersion()
	if err != nil || v != LatestVersion() {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, LatestVersion())
	}
	ms, err := db.Migrations()
	if err != nil {
		t.Fatalf("Migrations: %v", err)
	}
	if len(ms) != len(migrations) || ms[0].Version != 1 || ms[0].Name == "" || ms[0].AppliedAt.IsZero() {
		t.Fatalf("Migrations = %+v", ms)
	}
	applied := ms[0].AppliedAt
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening runs nothing again.
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	ms, err = db.Migrations()
	if err != nil || len(ms) != len(migrations) || !ms[0].AppliedAt.Equal(applied) {
		t.Fatalf("after reopen Migrations = %+v, %v", ms, err)
	}
}

func TestOpenDamagedFileIsUntouched(t *testing.T) {
	for _, tc := range []struct {
		name string
		data func() []byte
	}{
		{name: "random", data: func() []byte {
			b := make([]byte, 64<<10)
			_, _ = rand.Read(b)
			return b
		}},
		{name: "text", data: func() []byte { return []byte("this is not a database\n") }},
		{name: "one byte", data: func() []byte { return []byte{0} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "metadata.db")
			want := tc.data()
			if err := os.WriteFile(path, want, 0o600); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Stat(path)
			db, err := Open(path, Options{LockTimeout: 100 * time.Millisecond})
			if err == nil {
				db.Close()
				t.Fatal("Open of a damaged file succeeded")
			}
			if !errors.Is(err, errdefs.ErrFailedPrecondition) {
				t.Errorf("error %v is not ErrFailedPrecondition", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			got, rerr := os.ReadFile(path)
			if rerr != nil || !bytes.Equal(got, want) {
				t.Fatalf("file changed: %v", rerr)
			}
			after, _ := os.Stat(path)
			if !after.ModTime().Equal(before.ModTime()) || after.Mode() != before.Mode() {
				t.Errorf("file metadata changed: %v %v -> %v %v", before.ModTime(), before.Mode(), after.ModTime(), after.Mode())
			}
		})
	}
}

func TestOpenNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		sb, err := tx.CreateBucket(bucketSchema)
		if err != nil {
			return err
		}
		return sb.Put(keyVersion, binary.BigEndian.AppendUint64(nil, LatestVersion()+1))
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	want, _ := os.ReadFile(path)

	if db, err := Open(path, Options{}); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		if db != nil {
			db.Close()
		}
		t.Fatalf("Open of a newer schema: %v, want ErrFailedPrecondition", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Fatal("file changed")
	}
}

func TestOpenLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	_, err = Open(path, Options{LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("second Open: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open took %v", d)
	}
}

func TestOpenNotRegular(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir, Options{}); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("Open(dir) = %v, want ErrFailedPrecondition", err)
	}
}

// TestViewUpdate: Update commits what fn did, and rolls back when fn
// fails; View sees what was committed.
func TestViewUpdate(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "metadata.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("test"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatal(err)
	}
	failed := errors.New("fn failed")
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("test")).Put([]byte("k"), []byte("rolled back")); err != nil {
			return err
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("failing Update = %v, want its fn's error", err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		if got := tx.Bucket([]byte("test")).Get([]byte("k")); string(got) != "v" {
			t.Errorf("Get = %q", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
