package metadata

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Blob kinds recorded in image_blobs.
const (
	KindManifest = "manifest"
	KindConfig   = "config"
	KindLayer    = "layer"
)

// Blob is one blob an image needs.
type Blob struct {
	Kind      string
	Index     int
	Digest    digest.Digest
	MediaType string
	Size      int64
	DiffID    digest.Digest // layers only
	DiffSize  int64         // layers only: uncompressed size
}

// Image is one image record.
type Image struct {
	ID                digest.Digest
	ManifestDigest    digest.Digest
	ManifestMediaType string
	Created           time.Time
	Added             time.Time
	Size              int64
	Parent            digest.Digest
	Labels            map[string]string
	LastTag           time.Time
	Tags              []string // filled by List and Get, sorted
	RepoDigests       []string // name@digest, filled by List and Get
	Blobs             []Blob   // filled by Get only
}

// PutImage records img and its blobs (if not already present) and points
// tags at it, in one transaction. It returns the IDs of images that lost a
// tag to img, so callers can tell users they became dangling.
func (d *DB) PutImage(ctx context.Context, img Image, tags, repoDigests []string) (moved []digest.Digest, err error) {
	err = d.tx(ctx, func(tx *sql.Tx) error {
		if err := insertImage(tx, img); err != nil {
			return err
		}
		for _, rd := range repoDigests {
			name, dg, _ := strings.Cut(rd, "@")
			if _, err := tx.Exec(`INSERT OR REPLACE INTO repo_digests(name, digest, image_id) VALUES (?, ?, ?)`, name, dg, img.ID.String()); err != nil {
				return fmt.Errorf("record %s: %w", rd, err)
			}
		}
		moved = moved[:0]
		for _, t := range tags {
			prev, err := setTag(tx, t, img.ID)
			if err != nil {
				return err
			}
			if prev != "" && prev != img.ID {
				moved = append(moved, prev)
			}
		}
		return nil
	})
	return moved, err
}

func insertImage(tx *sql.Tx, img Image) error {
	labels := ""
	if len(img.Labels) > 0 {
		b, _ := json.Marshal(img.Labels)
		labels = string(b)
	}
	res, err := tx.Exec(`INSERT OR IGNORE INTO images(id, manifest_digest, manifest_media_type, created, added, size, parent, labels)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		img.ID.String(), img.ManifestDigest.String(), img.ManifestMediaType, unixNano(img.Created),
		unixNano(img.Added), img.Size, img.Parent.String(), labels)
	if err != nil {
		return fmt.Errorf("record image %s: %w", img.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // already known: keep its blobs and history
	}
	for _, b := range img.Blobs {
		if _, err := tx.Exec(`INSERT INTO image_blobs(image_id, kind, idx, digest, media_type, size, diff_id, diff_size)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, img.ID.String(), b.Kind, b.Index, b.Digest.String(), b.MediaType,
			b.Size, b.DiffID.String(), b.DiffSize); err != nil {
			return fmt.Errorf("record blob %s of image %s: %w", b.Digest, img.ID, err)
		}
	}
	return nil
}

func setTag(tx *sql.Tx, name string, id digest.Digest) (digest.Digest, error) {
	var prev string
	err := tx.QueryRow(`SELECT image_id FROM tags WHERE name = ?`, name).Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read tag %s: %w", name, err)
	}
	if _, err := tx.Exec(`INSERT OR REPLACE INTO tags(name, image_id) VALUES (?, ?)`, name, id.String()); err != nil {
		return "", fmt.Errorf("tag %s: %w", name, err)
	}
	if _, err := tx.Exec(`UPDATE images SET last_tag = ? WHERE id = ?`, time.Now().UnixNano(), id.String()); err != nil {
		return "", fmt.Errorf("tag %s: %w", name, err)
	}
	return digest.Digest(prev), nil
}

// Tag points name at the image id, which must exist. It returns the image the
// name pointed at before ("" if none).
func (d *DB) Tag(ctx context.Context, name string, id digest.Digest) (prev digest.Digest, err error) {
	err = d.tx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRow(`SELECT 1 FROM images WHERE id = ?`, id.String()).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return errdefs.Newf(errdefs.ErrNotFound, "No such image: %s", id)
			}
			return err
		}
		prev, err = setTag(tx, name, id)
		return err
	})
	return prev, err
}

// Untag removes the tag name. ErrNotFound if there is no such tag.
func (d *DB) Untag(ctx context.Context, name string) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM tags WHERE name = ?`, name)
		if err != nil {
			return fmt.Errorf("untag %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errdefs.Newf(errdefs.ErrNotFound, "No such image: %s", name)
		}
		return nil
	})
}

// RemoveRepoDigest removes one name@digest record.
func (d *DB) RemoveRepoDigest(ctx context.Context, ref string) error {
	name, dg, _ := strings.Cut(ref, "@")
	return d.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM repo_digests WHERE name = ? AND digest = ?`, name, dg)
		return err
	})
}

// AddRepoDigest records name@digest for image id (what a push or pull of
// the image there returned), moving it from another image if needed.
func (d *DB) AddRepoDigest(ctx context.Context, name string, dg, id digest.Digest) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT OR REPLACE INTO repo_digests(name, digest, image_id) VALUES (?, ?, ?)`, name, dg.String(), id.String())
		return err
	})
}

// DeleteImage removes the image row with its tags, repo digests and blob
// rows. Unless force is set, an image that has a tag (one added by another
// process since the caller looked) is kept and ErrConflict returned. It returns the blobs the image used that
// no other image uses any more: candidates for deletion from content.
func (d *DB) DeleteImage(ctx context.Context, id digest.Digest, force bool) (unused []Blob, err error) {
	err = d.tx(ctx, func(tx *sql.Tx) error {
		unused = unused[:0]
		if !force {
			var n int
			if err := tx.QueryRow(`SELECT count(*) FROM tags WHERE image_id = ?`, id.String()).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return errdefs.Newf(errdefs.ErrConflict, "image %s gained a tag while being removed", id)
			}
		}
		rows, err := tx.Query(`SELECT b.kind, b.idx, b.digest, b.media_type, b.size, b.diff_id, b.diff_size FROM image_blobs b
			WHERE b.image_id = ? AND NOT EXISTS (SELECT 1 FROM image_blobs o WHERE o.digest = b.digest AND o.image_id != b.image_id)
			AND NOT EXISTS (SELECT 1 FROM build_cache_blobs c WHERE c.digest = b.digest)`, id.String())
		if err != nil {
			return err
		}
		blobs, err := scanBlobs(rows)
		if err != nil {
			return err
		}
		res, err := tx.Exec(`DELETE FROM images WHERE id = ?`, id.String())
		if err != nil {
			return fmt.Errorf("delete image %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errdefs.Newf(errdefs.ErrNotFound, "No such image: %s", id)
		}
		unused = dedupBlobs(blobs)
		return nil
	})
	return unused, err
}

func dedupBlobs(in []Blob) []Blob {
	seen := make(map[digest.Digest]bool, len(in))
	out := in[:0]
	for _, b := range in {
		if !seen[b.Digest] {
			seen[b.Digest] = true
			out = append(out, b)
		}
	}
	return out
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
