package metadata

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

const imageColumns = `id, manifest_digest, manifest_media_type, created, added, size, parent, labels, last_tag`

// List returns every image with its tags and repo digests, newest first.
// Three queries, whatever the number of images: `images` must stay fast.
func (d *DB) List(ctx context.Context) ([]Image, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+imageColumns+` FROM images ORDER BY created DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var imgs []Image
	byID := map[digest.Digest]int{}
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		byID[img.ID] = len(imgs)
		imgs = append(imgs, img)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	err = d.eachName(ctx, `SELECT image_id, name FROM tags ORDER BY name`, func(id digest.Digest, name string) {
		if i, ok := byID[id]; ok {
			imgs[i].Tags = append(imgs[i].Tags, name)
		}
	})
	if err != nil {
		return nil, err
	}
	err = d.eachName(ctx, `SELECT image_id, name || '@' || digest FROM repo_digests ORDER BY name, digest`, func(id digest.Digest, name string) {
		if i, ok := byID[id]; ok {
			imgs[i].RepoDigests = append(imgs[i].RepoDigests, name)
		}
	})
	return imgs, err
}

func (d *DB) eachName(ctx context.Context, q string, fn func(digest.Digest, string)) error {
	rows, err := d.db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("list names: %w", err)
	}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return err
		}
		fn(digest.Digest(id), name)
	}
	return closeRows(rows)
}

// Get returns one image with its tags, repo digests and blobs.
func (d *DB) Get(ctx context.Context, id digest.Digest) (Image, error) {
	img, err := scanImage(d.db.QueryRowContext(ctx, `SELECT `+imageColumns+` FROM images WHERE id = ?`, id.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return Image{}, errdefs.Newf(errdefs.ErrNotFound, "No such image: %s", id)
	}
	if err != nil {
		return Image{}, err
	}
	img.Tags, err = d.strings(ctx, `SELECT name FROM tags WHERE image_id = ? ORDER BY name`, id.String())
	if err != nil {
		return Image{}, err
	}
	img.RepoDigests, err = d.strings(ctx, `SELECT name || '@' || digest FROM repo_digests WHERE image_id = ? ORDER BY name, digest`, id.String())
	if err != nil {
		return Image{}, err
	}
	rows, err := d.db.QueryContext(ctx, `SELECT kind, idx, digest, media_type, size, diff_id, diff_size FROM image_blobs
		WHERE image_id = ? ORDER BY kind, idx`, id.String())
	if err != nil {
		return Image{}, err
	}
	img.Blobs, err = scanBlobs(rows)
	return img, err
}

// Layers returns the layer blobs of img in order (img must come from Get).
func (img Image) Layers() []Blob {
	var out []Blob
	for _, b := range img.Blobs {
		if b.Kind == KindLayer {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// Blob returns the single blob of a kind (manifest or config).
func (img Image) Blob(kind string) (Blob, bool) {
	for _, b := range img.Blobs {
		if b.Kind == kind {
			return b, true
		}
	}
	return Blob{}, false
}

// LookupTag returns the image a full name:tag points at.
func (d *DB) LookupTag(ctx context.Context, name string) (digest.Digest, error) {
	var id string
	err := d.db.QueryRowContext(ctx, `SELECT image_id FROM tags WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errdefs.Newf(errdefs.ErrNotFound, "No such image: %s", name)
	}
	return digest.Digest(id), err
}

// LookupRepoDigest returns the image recorded for name@digest.
func (d *DB) LookupRepoDigest(ctx context.Context, name string, dg digest.Digest) (digest.Digest, error) {
	var id string
	err := d.db.QueryRowContext(ctx, `SELECT image_id FROM repo_digests WHERE name = ? AND digest = ?`, name, dg.String()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		// The manifest digest of a local image also names it, under a
		// repository the image is tagged in.
		err = d.db.QueryRowContext(ctx, `SELECT i.id FROM images i JOIN tags t ON t.image_id = i.id
			WHERE i.manifest_digest = ? AND substr(t.name, 1, length(?) + 1) = ? || ':' LIMIT 1`,
			dg.String(), name, name).Scan(&id)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "", errdefs.Newf(errdefs.ErrNotFound, "No such image: %s@%s", name, dg)
	}
	return digest.Digest(id), err
}

// ByIDPrefix returns the IDs of images whose hex ID starts with prefix.
func (d *DB) ByIDPrefix(ctx context.Context, prefix string) ([]digest.Digest, error) {
	prefix = strings.TrimPrefix(prefix, "sha256:")
	ids, err := d.strings(ctx, `SELECT id FROM images WHERE id >= ? AND id < ? ORDER BY id`, "sha256:"+prefix, "sha256:"+prefix+"\xff")
	out := make([]digest.Digest, len(ids))
	for i, s := range ids {
		out[i] = digest.Digest(s)
	}
	return out, err
}

// Children returns the images whose parent is id.
func (d *DB) Children(ctx context.Context, id digest.Digest) ([]digest.Digest, error) {
	ids, err := d.strings(ctx, `SELECT id FROM images WHERE parent = ?`, id.String())
	out := make([]digest.Digest, len(ids))
	for i, s := range ids {
		out[i] = digest.Digest(s)
	}
	return out, err
}

// BlobRefs returns every blob digest any image references, with the number
// of images referencing it.
func (d *DB) BlobRefs(ctx context.Context) (map[digest.Digest]int, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT digest, count(*) FROM (SELECT DISTINCT digest, image_id AS user FROM image_blobs UNION SELECT DISTINCT digest, key FROM build_cache_blobs) GROUP BY digest`)
	if err != nil {
		return nil, fmt.Errorf("list referenced blobs: %w", err)
	}
	out := map[digest.Digest]int{}
	for rows.Next() {
		var dg string
		var n int
		if err := rows.Scan(&dg, &n); err != nil {
			rows.Close()
			return nil, err
		}
		out[digest.Digest(dg)] = n
	}
	return out, closeRows(rows)
}

// AllBlobs returns every (image, blob) row: system df and system check use it.
func (d *DB) AllBlobs(ctx context.Context) (map[digest.Digest][]Blob, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT image_id, kind, idx, digest, media_type, size, diff_id, diff_size FROM image_blobs ORDER BY image_id, kind, idx`)
	if err != nil {
		return nil, err
	}
	out := map[digest.Digest][]Blob{}
	for rows.Next() {
		var id string
		var b Blob
		var dg, diffID string
		if err := rows.Scan(&id, &b.Kind, &b.Index, &dg, &b.MediaType, &b.Size, &diffID, &b.DiffSize); err != nil {
			rows.Close()
			return nil, err
		}
		b.Digest, b.DiffID = digest.Digest(dg), digest.Digest(diffID)
		out[digest.Digest(id)] = append(out[digest.Digest(id)], b)
	}
	return out, closeRows(rows)
}

// IsBlobReferenced reports whether any image or build cache entry uses
// the blob.
func (d *DB) IsBlobReferenced(ctx context.Context, dg digest.Digest) (bool, error) {
	var one int
	err := d.db.QueryRowContext(ctx, `SELECT 1 FROM image_blobs WHERE digest = ? UNION ALL SELECT 1 FROM build_cache_blobs WHERE digest = ? LIMIT 1`, dg.String(), dg.String()).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (d *DB) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, s)
	}
	return out, closeRows(rows)
}

type scanner interface{ Scan(...any) error }

func scanImage(s scanner) (Image, error) {
	var img Image
	var id, man, parent, labels string
	var created, added, lastTag int64
	if err := s.Scan(&id, &man, &img.ManifestMediaType, &created, &added, &img.Size, &parent, &labels, &lastTag); err != nil {
		return Image{}, err
	}
	img.ID, img.ManifestDigest, img.Parent = digest.Digest(id), digest.Digest(man), digest.Digest(parent)
	img.Created, img.Added, img.LastTag = fromNano(created), fromNano(added), fromNano(lastTag)
	if labels != "" {
		if err := json.Unmarshal([]byte(labels), &img.Labels); err != nil {
			return Image{}, errdefs.Newf(errdefs.ErrCorrupt, "labels of image %s: %v", id, err)
		}
	}
	return img, nil
}

func scanBlobs(rows *sql.Rows) ([]Blob, error) {
	var out []Blob
	for rows.Next() {
		var b Blob
		var dg, diffID string
		if err := rows.Scan(&b.Kind, &b.Index, &dg, &b.MediaType, &b.Size, &diffID, &b.DiffSize); err != nil {
			rows.Close()
			return nil, err
		}
		b.Digest, b.DiffID = digest.Digest(dg), digest.Digest(diffID)
		out = append(out, b)
	}
	return out, closeRows(rows)
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}
