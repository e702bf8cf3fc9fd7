package metadata

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/berth/container/errdefs"
)

// Bucket names owned by db.go.
var (
	bucketSchema     = []byte("schema")
	bucketMigrations = []byte("migrations")
	keyVersion       = []byte("version")
)

// Options tune Open. The zero value is usable.
type Options struct {
	// LockTimeout bounds the wait for the file lock held by another
	// process. Zero means one second.
	LockTimeout time.Duration
	// Log receives Info records about migrations; nil discards them.
	Log *slog.Logger
}

// DB is the apiserver's bbolt file with its schema brought up to date.
// It is safe for concurrent use.
type DB struct {
	bolt *bolt.DB
}

// Open opens (creating if absent) the bbolt file at path and runs the
// pending migrations. A file that exists but cannot be opened or parsed
// is left exactly as it is and reported with an error naming it.
func Open(path string, opt Options) (db *DB, retErr error) {
	if opt.LockTimeout == 0 {
		opt.LockTimeout = time.Second
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// bbolt can panic on some damaged files; a panic here must become an
	// error about the file, not a crash that looks like our bug.
	defer func() {
		if r := recover(); r != nil {
			db, retErr = nil, fmt.Errorf("metadata database %s is damaged (%v); it was left untouched: %w", path, r, errdefs.ErrFailedPrecondition)
		}
	}()

	info, err := os.Stat(path)
	switch {
	case err == nil && !info.Mode().IsRegular():
		return nil, fmt.Errorf("metadata database %s: not a regular file: %w", path, errdefs.ErrFailedPrecondition)
	case err == nil && info.Size() > 0:
		// Validate read-only first: an O_RDONLY open cannot change the file,
		// so a damaged one is reported with its bytes intact.
		ro, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: opt.LockTimeout})
		if err != nil {
			return nil, openError(path, err)
		}
		verr := ro.View(func(tx *bolt.Tx) error {
			_, err := readVersion(tx)
			return err
		})
		if cerr := ro.Close(); verr == nil {
			verr = cerr
		}
		if verr != nil {
			return nil, fmt.Errorf("metadata database %s: %w", path, verr)
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("metadata database %s: %w", path, err)
	}

	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.LockTimeout})
	if err != nil {
		return nil, openError(path, err)
	}
	db = &DB{bolt: b}
	defer func() {
		if retErr != nil {
			_ = b.Close()
		}
	}()
	if err := db.migrate(log); err != nil {
		return nil, fmt.Errorf("metadata database %s: %w", path, err)
	}
	return db, nil
}

func openError(path string, err error) error {
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("metadata database %s is locked by another process: %w", path, errdefs.ErrUnavailable)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrInvalidMapping):
		return fmt.Errorf("metadata database %s is damaged or not a bbolt file (%v); it was left untouched: %w",
			path, err, errdefs.ErrFailedPrecondition)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("metadata database %s: %v: %w", path, err, errdefs.ErrPermissionDenied)
	}
	return fmt.Errorf("metadata database %s cannot be opened (%v); it was left untouched: %w", path, err, errdefs.ErrFailedPrecondition)
}

// Close closes the file.
func (db *DB) Close() error { return db.bolt.Close() }

// View runs fn in a read-only transaction.
func (db *DB) View(fn func(*bolt.Tx) error) error { return db.bolt.View(fn) }

// Update runs fn in a read-write transaction, committed if fn returns nil.
func (db *DB) Update(fn func(*bolt.Tx) error) error { return db.bolt.Update(fn) }

// SchemaVersion returns the file's schema version.
func (db *DB) SchemaVersion() (uint64, error) {
	var v uint64
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = readVersion(tx)
		return err
	})
	return v, err
}

// readVersion returns the schema version recorded in tx, 0 for a file no
// migration has touched. A version newer than this binary knows is an
// error of kind ErrFailedPrecondition.
func readVersion(tx *bolt.Tx) (uint64, error) {
	b := tx.Bucket(bucketSchema)
	if b == nil {
		return 0, nil
	}
	raw := b.Get(keyVersion)
	if raw == nil {
		return 0, nil
	}
	if len(raw) != 8 {
		return 0, fmt.Errorf("schema version is %d bytes, want 8: %w", len(raw), errdefs.ErrFailedPrecondition)
	}
	v := binary.BigEndian.Uint64(raw)
	if latest := LatestVersion(); v > latest {
		return 0, fmt.Errorf("schema version %d is newer than this apiserver supports (%d): %w", v, latest, errdefs.ErrFailedPrecondition)
	}
	return v, nil
}

// migrate applies, in order, each migration newer than the file's version,
// one transaction each.
func (db *DB) migrate(log *slog.Logger) error {
	for _, m := range migrations {
		err := db.Update(func(tx *bolt.Tx) error {
			cur, err := readVersion(tx)
			if err != nil || cur >= m.version {
				return err
			}
			if cur != m.version-1 {
				return fmt.Errorf("schema version %d cannot migrate to %d: %w", cur, m.version, errdefs.ErrFailedPrecondition)
			}
			if err := m.apply(tx); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
			return recordMigration(tx, m)
		})
		if err != nil {
			return err
		}
		log.Debug("metadata schema checked", "version", m.version, "migration", m.name)
	}
	return nil
}

func recordMigration(tx *bolt.Tx, m migration) error {
	sb, err := tx.CreateBucketIfNotExists(bucketSchema)
	if err != nil {
		return err
	}
	mb, err := tx.CreateBucketIfNotExists(bucketMigrations)
	if err != nil {
		return err
	}
	key := binary.BigEndian.AppendUint64(nil, m.version)
	rec, err := json.Marshal(struct {
		Name      string    `json:"name"`
		AppliedAt time.Time `json:"applied_at"`
	}{m.name, time.Now().UTC()})
	if err != nil {
		return err
	}
	if err := mb.Put(key, rec); err != nil {
		return err
	}
	return sb.Put(keyVersion, key)
}

// Migrations returns the versions applied to the file, in order, with
// their names.
func (db *DB) Migrations() ([]AppliedMigration, error) {
	var out []AppliedMigration
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMigrations)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("migration key %x: %w", k, errdefs.ErrFailedPrecondition)
			}
			var rec AppliedMigration
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("migration record %d: %v: %w", binary.BigEndian.Uint64(k), err, errdefs.ErrFailedPrecondition)
			}
			rec.Version = binary.BigEndian.Uint64(k)
			out = append(out, rec)
			return nil
		})
	})
	return out, err
}

// AppliedMigration is one row of the migrations bucket.
type AppliedMigration struct {
	Version   uint64    `json:"-"`
	Name      string    `json:"name"`
	AppliedAt time.Time `json:"applied_at"`
}
