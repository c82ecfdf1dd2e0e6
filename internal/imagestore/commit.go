package imagestore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/reference"
)

// Layer is a layer blob already committed to the content store.
type Layer struct {
	Digest    digest.Digest // distribution digest: of the blob as stored
	Size      int64         // blob size
	MediaType string
	DiffID    digest.Digest // digest of the uncompressed tar
	DiffSize  int64         // size of the uncompressed tar
}

// NewImage is what Commit needs to record an image.
type NewImage struct {
	Config            []byte  // exact config bytes; the image ID is their digest
	Layers            []Layer // in order, bottom first
	Manifest          []byte  // exact manifest bytes to keep; built (OCI) when nil
	ManifestMediaType string
	Parent            digest.Digest
}

// Commit verifies img against its config, stores the config and manifest
// blobs and records the image with its tags and repo digests. Callers hold a
// Lease from before their first blob write until Commit returns. It returns
// the image and the IDs of images that lost a tag to it.
func (s *Store) Commit(ctx context.Context, img NewImage, tags, repoDigests []reference.Reference) (metadata.Image, []digest.Digest, error) {
	cfg, err := image.ParseConfig(img.Config)
	if err != nil {
		return metadata.Image{}, nil, fmt.Errorf("image config: %w", err)
	}
	if err := checkLayers(cfg, img.Layers); err != nil {
		return metadata.Image{}, nil, err
	}
	for _, l := range img.Layers {
		if _, err := s.Content.Info(l.Digest); err != nil {
			return metadata.Image{}, nil, fmt.Errorf("layer %s: %w", l.Digest, err)
		}
	}
	cfgInfo, err := s.Content.Ingest(bytes.NewReader(img.Config), int64(len(img.Config)), digest.FromBytes(img.Config))
	if err != nil {
		return metadata.Image{}, nil, fmt.Errorf("store config: %w", err)
	}
	if img.Manifest == nil {
		img.Manifest, img.ManifestMediaType, err = buildManifest(cfgInfo.Digest, cfgInfo.Size, img.Layers)
		if err != nil {
			return metadata.Image{}, nil, err
		}
	}
	manDigest := digest.FromBytes(img.Manifest)
	if _, err := s.Content.Ingest(bytes.NewReader(img.Manifest), int64(len(img.Manifest)), manDigest); err != nil {
		return metadata.Image{}, nil, fmt.Errorf("store manifest: %w", err)
	}
	rec := record(cfg, cfgInfo.Digest, cfgInfo.Size, manDigest, img)
	moved, err := s.Meta.PutImage(ctx, rec, names(tags), names(repoDigests))
	if err != nil {
		return metadata.Image{}, nil, err
	}
	return rec, moved, nil
}

func checkLayers(cfg *image.Config, layers []Layer) error {
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "image config lists %d layers but %d were given", len(cfg.RootFS.DiffIDs), len(layers))
	}
	for i, l := range layers {
		if cfg.RootFS.DiffIDs[i] != l.DiffID {
			return errdefs.Newf(errdefs.ErrCorrupt, "layer %d: content has diff ID %s but the config expects %s", i, l.DiffID, cfg.RootFS.DiffIDs[i])
		}
	}
	return nil
}

func buildManifest(cfg digest.Digest, size int64, layers []Layer) ([]byte, string, error) {
	descs := make([]image.Descriptor, len(layers))
	for i, l := range layers {
		descs[i] = image.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size}
	}
	b, _, err := image.NewManifest(image.Descriptor{MediaType: image.MediaTypeOCIConfig, Digest: cfg, Size: size}, descs, false)
	if err != nil {
		return nil, "", fmt.Errorf("build manifest: %w", err)
	}
	return b, image.MediaTypeOCIManifest, nil
}

func record(cfg *image.Config, id digest.Digest, cfgSize int64, man digest.Digest, img NewImage) metadata.Image {
	rec := metadata.Image{
		ID: id, ManifestDigest: man, ManifestMediaType: img.ManifestMediaType,
		Added: time.Now().UTC(), Parent: img.Parent, Labels: cfg.Config.Labels,
	}
	if cfg.Created != nil {
		rec.Created = cfg.Created.UTC()
	}
	rec.Blobs = append(rec.Blobs,
		metadata.Blob{Kind: metadata.KindManifest, Digest: man, MediaType: img.ManifestMediaType, Size: int64(len(img.Manifest))},
		metadata.Blob{Kind: metadata.KindConfig, Digest: id, MediaType: image.MediaTypeOCIConfig, Size: cfgSize})
	for i, l := range img.Layers {
		rec.Size += l.DiffSize
		rec.Blobs = append(rec.Blobs, metadata.Blob{Kind: metadata.KindLayer, Index: i, Digest: l.Digest,
			MediaType: l.MediaType, Size: l.Size, DiffID: l.DiffID, DiffSize: l.DiffSize})
	}
	return rec
}

func names(refs []reference.Reference) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.String()
	}
	return out
}
