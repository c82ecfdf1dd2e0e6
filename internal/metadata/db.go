package metadata

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	// The pure-Go SQLite driver keeps the binary static.
	_ "modernc.org/sqlite"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/flock"
)

const schemaVersion = 4

const schema = `
CREATE TABLE IF NOT EXISTS images (
	id                  TEXT PRIMARY KEY,
	manifest_digest     TEXT NOT NULL,
	manifest_media_type TEXT NOT NULL,
	created             INTEGER NOT NULL,
	added               INTEGER NOT NULL,
	size                INTEGER NOT NULL,
	parent              TEXT NOT NULL DEFAULT '',
	labels              TEXT NOT NULL DEFAULT '',
	last_tag            INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS image_blobs (
	image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
	kind       TEXT NOT NULL,
	idx        INTEGER NOT NULL,
	digest     TEXT NOT NULL,
	media_type TEXT NOT NULL,
	size       INTEGER NOT NULL,
	diff_id    TEXT NOT NULL DEFAULT '',
	diff_size  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (image_id, kind, idx)
);
CREATE INDEX IF NOT EXISTS image_blobs_digest ON image_blobs(digest);
CREATE TABLE IF NOT EXISTS tags (
	name     TEXT PRIMARY KEY,
	image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS tags_image ON tags(image_id);
CREATE TABLE IF NOT EXISTS repo_digests (
	name     TEXT NOT NULL,
	digest   TEXT NOT NULL,
	image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
	PRIMARY KEY (name, digest)
);
CREATE INDEX IF NOT EXISTS repo_digests_image ON repo_digests(image_id);
` + containerSchema + buildCacheSchema + transferSchema

// DB is the metadata database. It is safe for concurrent use by goroutines
// and by other processes opening the same file.
type DB struct {
	db *sql.DB
}

// Open opens (creating if needed) the database at path.
func Open(path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(30000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	// Creating the file and switching it to WAL is not safe against
	// another process doing the same: serialise opening with a flock.
	unlock, err := flock.Exclusive(path + ".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	d := &DB{db: db}
	if err := d.migrate(); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

func (d *DB) migrate() error {
	var v int
	if err := d.db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read metadata version: %w", err)
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return errdefs.Newf(errdefs.ErrUnsupported, "metadata.db has schema version %d; this strata understands up to %d", v, schemaVersion)
	}
	// Every statement is CREATE ... IF NOT EXISTS, so running the whole
	// schema also upgrades older versions.
	return d.tx(context.Background(), func(tx *sql.Tx) error {
		if _, err := tx.Exec(schema); err != nil {
			return fmt.Errorf("create metadata schema: %w", err)
		}
		_, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
		return err
	})
}

// tx runs fn in one write transaction (BEGIN IMMEDIATE, so writers queue on
// SQLite's busy timeout instead of failing on lock upgrades).
func (d *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin metadata transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit metadata transaction: %w", err)
	}
	return nil
}

// SQL is the shared handle, for stores that keep their own tables in
// metadata.db (the snapshotters).
func (d *DB) SQL() *sql.DB { return d.db }
