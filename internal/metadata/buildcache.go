package metadata

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

const buildCacheSchema = `
CREATE TABLE IF NOT EXISTS build_cache (
	key       TEXT PRIMARY KEY,
	parent    TEXT NOT NULL,
	step      TEXT NOT NULL,
	inputs    TEXT NOT NULL,
	result    BLOB NOT NULL,
	size      INTEGER NOT NULL,
	created   INTEGER NOT NULL,
	last_used INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS build_cache_parent ON build_cache(parent);
CREATE TABLE IF NOT EXISTS build_cache_blobs (
	key    TEXT NOT NULL REFERENCES build_cache(key) ON DELETE CASCADE,
	digest TEXT NOT NULL,
	PRIMARY KEY (key, digest)
);
CREATE INDEX IF NOT EXISTS build_cache_blobs_digest ON build_cache_blobs(digest);
`

// CacheEntry is one step of a build: its cache key, the key of the step
// before it, what it did and the state it produced. Blobs are the layer
// blobs that state needs; the entry keeps them from garbage collection.
type CacheEntry struct {
	Key      string
	Parent   string
	Step     string // the instruction as run, for explanations
	Inputs   []byte // JSON: what the key was computed from
	Result   []byte // JSON: the image state after the step
	Size     int64  // bytes of the layer the step added
	Created  time.Time
	LastUsed time.Time
	Blobs    []digest.Digest
}

// PutCacheEntry records e (replacing an entry with the same key).
func (d *DB) PutCacheEntry(ctx context.Context, e CacheEntry) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixNano()
		if _, err := tx.Exec(`INSERT OR REPLACE INTO build_cache (key, parent, step, inputs, result, size, created, last_used) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Key, e.Parent, e.Step, string(e.Inputs), e.Result, e.Size, now, now); err != nil {
			return fmt.Errorf("record build cache entry: %w", err)
		}
		for _, b := range e.Blobs {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO build_cache_blobs (key, digest) VALUES (?, ?)`, e.Key, b.String()); err != nil {
				return err
			}
		}
		return nil
	})
}

const cacheColumns = `key, parent, step, inputs, result, size, created, last_used`

func scanCacheEntry(row interface{ Scan(...any) error }) (CacheEntry, error) {
	var e CacheEntry
	var inputs string
	var created, used int64
	if err := row.Scan(&e.Key, &e.Parent, &e.Step, &inputs, &e.Result, &e.Size, &created, &used); err != nil {
		return CacheEntry{}, err
	}
	e.Inputs = []byte(inputs)
	e.Created, e.LastUsed = fromNano(created), fromNano(used)
	return e, nil
}

// CacheEntry returns the entry for key (errdefs.ErrNotFound if none) and
// marks it used.
func (d *DB) CacheEntry(ctx context.Context, key string) (CacheEntry, error) {
	e, err := scanCacheEntry(d.db.QueryRowContext(ctx, `SELECT `+cacheColumns+` FROM build_cache WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return CacheEntry{}, errdefs.Newf(errdefs.ErrNotFound, "no build cache entry %s", key)
	}
	if err != nil {
		return CacheEntry{}, err
	}
	_, _ = d.db.ExecContext(ctx, `UPDATE build_cache SET last_used = ? WHERE key = ?`, time.Now().UnixNano(), key)
	return e, nil
}

// CacheChildren returns the entries whose parent is key, newest first.
func (d *DB) CacheChildren(ctx context.Context, parent string, limit int) ([]CacheEntry, error) {
	return d.cacheQuery(ctx, `SELECT `+cacheColumns+` FROM build_cache WHERE parent = ? ORDER BY created DESC LIMIT ?`, parent, limit)
}

// CacheByStep returns the entries recorded for the same step text, newest
// first: earlier builds of a FROM line, say.
func (d *DB) CacheByStep(ctx context.Context, step string, limit int) ([]CacheEntry, error) {
	return d.cacheQuery(ctx, `SELECT `+cacheColumns+` FROM build_cache WHERE step = ? ORDER BY created DESC LIMIT ?`, step, limit)
}

// CacheEntries returns every entry, oldest use first.
func (d *DB) CacheEntries(ctx context.Context) ([]CacheEntry, error) {
	return d.cacheQuery(ctx, `SELECT `+cacheColumns+` FROM build_cache ORDER BY last_used`)
}

func (d *DB) cacheQuery(ctx context.Context, q string, args ...any) ([]CacheEntry, error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read build cache: %w", err)
	}
	var out []CacheEntry
	for rows.Next() {
		e, err := scanCacheEntry(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, e)
	}
	return out, closeRows(rows)
}

// DeleteCacheEntries removes entries and returns the blobs they used that
// nothing (no image, no other entry) uses any more.
func (d *DB) DeleteCacheEntries(ctx context.Context, keys []string) (unused []digest.Digest, err error) {
	err = d.tx(ctx, func(tx *sql.Tx) error {
		unused = unused[:0]
		cand := map[string]bool{}
		for _, k := range keys {
			rows, err := tx.Query(`SELECT digest FROM build_cache_blobs WHERE key = ?`, k)
			if err != nil {
				return err
			}
			for rows.Next() {
				var dg string
				if err := rows.Scan(&dg); err != nil {
					rows.Close()
					return err
				}
				cand[dg] = true
			}
			if err := closeRows(rows); err != nil {
				return err
			}
			if _, err := tx.Exec(`DELETE FROM build_cache WHERE key = ?`, k); err != nil {
				return err
			}
		}
		for dg := range cand {
			var one int
			err := tx.QueryRow(`SELECT 1 FROM image_blobs WHERE digest = ? UNION ALL SELECT 1 FROM build_cache_blobs WHERE digest = ? LIMIT 1`, dg, dg).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				unused = append(unused, digest.Digest(dg))
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	return unused, err
}
