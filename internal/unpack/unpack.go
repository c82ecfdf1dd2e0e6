package unpack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/snapshot"
)

// Layer is one layer of an image: its blob in the content store (any
// compression Apply reads) and the diffID the image config gives it.
type Layer struct {
	Blob   digest.Digest
	DiffID digest.Digest
}

// Unpacker unpacks layers from a content store into a snapshotter.
type Unpacker struct {
	Content     *content.Store
	Snapshotter snapshot.Snapshotter
	Driver      string // "overlay" or "vfs": how whiteouts are written
	LockDir     string // where extraction locks live (created if missing)
	Limits      archive.Limits
}

// extractPrefix starts the key of every snapshot being extracted.
const extractPrefix = "extract-"

// Unpack makes sure that layers, bottom first, exist as committed snapshots
// named by their chain IDs, and returns the chain ID of the top one ("" for
// no layers). Layers already unpacked are skipped.
func (u *Unpacker) Unpack(ctx context.Context, layers []Layer) (string, error) {
	if len(layers) == 0 {
		return "", nil
	}
	diffIDs := make([]digest.Digest, len(layers))
	for i, l := range layers {
		diffIDs[i] = l.DiffID
	}
	chain := image.ChainIDs(diffIDs)
	start, err := u.firstMissing(ctx, chain)
	if err != nil {
		return "", err
	}
	for i := start; i < len(layers); i++ {
		parent := ""
		if i > 0 {
			parent = string(chain[i-1])
		}
		if err := u.unpackLayer(ctx, layers[i], parent, string(chain[i])); err != nil {
			return "", fmt.Errorf("unpack layer %d of %d (%s): %w", i+1, len(layers), layers[i].Blob, err)
		}
	}
	return string(chain[len(chain)-1]), nil
}

// firstMissing returns the index of the lowest layer whose chain ID is not
// committed yet (len(chain) if all are).
func (u *Unpacker) firstMissing(ctx context.Context, chain []digest.Digest) (int, error) {
	for i := len(chain) - 1; i >= 0; i-- {
		info, err := u.Snapshotter.Stat(ctx, string(chain[i]))
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if info.Kind != snapshot.KindCommitted {
			return 0, errdefs.Newf(errdefs.ErrConflict, "snapshot %s is %s, not a committed layer", chain[i], info.Kind)
		}
		return i + 1, nil
	}
	return 0, nil
}

// unpackLayer extracts l onto the committed snapshot parent and commits it
// as chainID.
func (u *Unpacker) unpackLayer(ctx context.Context, l Layer, parent, chainID string) error {
	blob, err := u.Content.Open(l.Blob)
	if err != nil {
		return err
	}
	defer blob.Close()
	lock, err := u.lock()
	if err != nil {
		return err
	}
	defer lock.release()
	key := lock.key

	mounts, err := u.Snapshotter.Prepare(ctx, key, parent)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			_ = u.Snapshotter.Remove(context.WithoutCancel(ctx), key)
		}
	}()
	upper, ok := snapshot.UpperDir(mounts)
	if !ok {
		return fmt.Errorf("snapshot %s has no writable directory", key)
	}
	opts := archive.ApplyOptions{Whiteouts: u.whiteouts(parent, mounts), Limits: u.Limits}
	info, err := archive.Apply(upper, &ctxReader{ctx: ctx, r: blob}, opts)
	if err != nil {
		return err
	}
	if info.DiffID != l.DiffID {
		return errdefs.Newf(errdefs.ErrCorrupt, "layer content has diffID %s, the image says %s", info.DiffID, l.DiffID)
	}
	err = u.Snapshotter.Commit(ctx, chainID, key)
	if errdefs.IsAlreadyExists(err) {
		return nil // another unpacker committed it first; ours goes
	}
	if err != nil {
		return err
	}
	committed = true
	return nil
}

// whiteouts picks the whiteout format: overlayfs's for the overlay driver
// (or any snapshot mounted as an overlay, so that a mislabeled driver cannot
// turn deletions into no-ops), deletions for a full copy. A bottom layer
// has nothing below it to hide, and the overlay driver shows a one-layer
// view as a plain bind mount, where whiteout devices would be visible:
// there, whiteouts are simply dropped.
func (u *Unpacker) whiteouts(parent string, mounts []snapshot.Mount) archive.WhiteoutFormat {
	if parent == "" {
		return archive.WhiteoutDelete
	}
	if u.Driver == "overlay" || (len(mounts) > 0 && mounts[len(mounts)-1].Type == "overlay") {
		return archive.WhiteoutOverlay
	}
	return archive.WhiteoutDelete
}

// randomKey returns a fresh extraction snapshot key.
func randomKey() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return extractPrefix + hex.EncodeToString(b[:]), nil
}

// ctxReader stops reading once ctx is done, so a cancelled unpack stops in
// the middle of a layer.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
