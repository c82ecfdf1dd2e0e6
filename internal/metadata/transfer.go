package metadata

import (
	"context"
	"database/sql"
	"errors"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

const transferSchema = `
CREATE TABLE IF NOT EXISTS compressed_blobs (
	diff_id    TEXT NOT NULL,
	media_type TEXT NOT NULL,
	digest     TEXT NOT NULL,
	size       INTEGER NOT NULL,
	PRIMARY KEY (diff_id, media_type)
);
CREATE TABLE IF NOT EXISTS blob_sources (
	digest   TEXT NOT NULL,
	registry TEXT NOT NULL,
	repo     TEXT NOT NULL,
	PRIMARY KEY (digest, registry, repo)
);
`

// Compressed is a compressed form of a layer that push made once and
// remembers: diff ID -> blob digest and size for a media type.
type Compressed struct {
	DiffID    digest.Digest
	MediaType string
	Digest    digest.Digest
	Size      int64
}

// PutCompressed records a compressed form of a layer.
func (d *DB) PutCompressed(ctx context.Context, c Compressed) error {
	_, err := d.db.ExecContext(ctx, `INSERT OR REPLACE INTO compressed_blobs (diff_id, media_type, digest, size) VALUES (?, ?, ?, ?)`,
		c.DiffID.String(), c.MediaType, c.Digest.String(), c.Size)
	return err
}

// Compressed returns the recorded compressed form (ErrNotFound if none).
func (d *DB) Compressed(ctx context.Context, diffID digest.Digest, mediaType string) (Compressed, error) {
	c := Compressed{DiffID: diffID, MediaType: mediaType}
	var dg string
	err := d.db.QueryRowContext(ctx, `SELECT digest, size FROM compressed_blobs WHERE diff_id = ? AND media_type = ?`, diffID.String(), mediaType).Scan(&dg, &c.Size)
	if errors.Is(err, sql.ErrNoRows) {
		return c, errdefs.Newf(errdefs.ErrNotFound, "no compressed form of %s", diffID)
	}
	c.Digest = digest.Digest(dg)
	return c, err
}

// PutBlobSource records that a registry repository holds a blob, so a
// later push to another repository of that registry can mount it.
func (d *DB) PutBlobSource(ctx context.Context, dg digest.Digest, registry, repo string) error {
	_, err := d.db.ExecContext(ctx, `INSERT OR IGNORE INTO blob_sources (digest, registry, repo) VALUES (?, ?, ?)`, dg.String(), registry, repo)
	return err
}

// BlobSources lists the repositories of registry known to hold a blob.
func (d *DB) BlobSources(ctx context.Context, dg digest.Digest, registry string) ([]string, error) {
	return d.strings(ctx, `SELECT repo FROM blob_sources WHERE digest = ? AND registry = ? ORDER BY repo`, dg.String(), registry)
}
