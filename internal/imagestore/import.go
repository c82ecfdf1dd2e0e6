package imagestore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/reference"
)

// ImportOptions are the settings of `strata import`.
type ImportOptions struct {
	Source   string   // shown in the history comment: "-", a file name or a URL
	Message  string   // -m: history comment instead of "Imported from <source>"
	Changes  []string // -c: Dockerfile instructions applied to the config
	Tags     []reference.Reference
	Limits   archive.Limits
	Platform ocispec.Platform
}

// Import turns a root filesystem tarball (plain or compressed) into a
// single-layer image. The stream is checked entry by entry, hashed and
// stored in one pass; the layer is kept uncompressed, which makes later
// unpacking and saving a plain copy.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ImportOptions) (metadata.Image, error) {
	cfg := &image.Config{OS: opts.Platform.OS, Architecture: opts.Platform.Architecture, Variant: opts.Platform.Variant}
	if err := image.ApplyChanges(&cfg.Config, opts.Changes); err != nil {
		return metadata.Image{}, err
	}
	release, err := s.Lease()
	if err != nil {
		return metadata.Image{}, err
	}
	defer release()
	layer, err := s.IngestLayer(r, opts.Limits)
	if err != nil {
		return metadata.Image{}, err
	}
	now := time.Now().UTC()
	comment := opts.Message
	if comment == "" {
		comment = "Imported from " + opts.Source
	}
	cfg.Created = &now
	cfg.RootFS = image.RootFS{Type: "layers", DiffIDs: []digest.Digest{layer.DiffID}}
	cfg.History = []image.History{{Created: &now, Comment: comment}}
	raw, _, err := cfg.Marshal()
	if err != nil {
		return metadata.Image{}, err
	}
	img, _, err := s.Commit(ctx, NewImage{Config: raw, Layers: []Layer{layer}}, opts.Tags, nil)
	return img, err
}

// IngestLayer checks a layer tarball (plain or compressed) and stores it
// uncompressed, in one pass. The caller holds a Lease.
func (s *Store) IngestLayer(r io.Reader, lim archive.Limits) (Layer, error) {
	w, err := s.Content.Writer(TempRef("layer"), "")
	if err != nil {
		return Layer{}, err
	}
	// Commit or Abort ends the writer on every return; Close only releases
	// the lock should Scan panic.
	defer func() { _ = w.Close() }()
	info, err := archive.Scan(r, w, lim)
	if err != nil {
		// An ingest Abort fails to remove is a tmp- ref, which garbage
		// collection removes; the scan error is the one to report.
		_ = w.Abort()
		return Layer{}, err
	}
	blob, err := w.Commit(info.Size, info.DiffID)
	if err != nil {
		return Layer{}, fmt.Errorf("store layer: %w", err)
	}
	return Layer{Digest: blob.Digest, Size: blob.Size, MediaType: image.MediaTypeOCILayer, DiffID: info.DiffID, DiffSize: info.Size}, nil
}

// TempRef returns a fresh ingest name that garbage collection may remove
// once its writer is gone.
func TempRef(what string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "tmp-" + what + "-" + hex.EncodeToString(b[:])
}
