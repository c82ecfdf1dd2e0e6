package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
)

// ManifestList is a manifest list being put together by `manifest
// create` and `annotate`, kept locally until `manifest push`.
type ManifestList struct {
	Name    string      `json:"name"` // the list's reference, normalized
	Entries []ListEntry `json:"entries"`
}

// ListEntry is one image of a list: where it came from and its descriptor
// (with the platform read from its config, or set by annotate).
type ListEntry struct {
	Ref        string           `json:"ref"`
	Descriptor image.Descriptor `json:"descriptor"`
	Manifest   []byte           `json:"manifest"` // exact bytes (base64 in the file: JSON would be re-indented)
}

// ListStore keeps manifest lists as JSON files in Dir.
type ListStore struct {
	Dir string
}

func (s ListStore) path(name string) string {
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(s.Dir, hex.EncodeToString(sum[:16])+".json")
}

// Get returns the list named name (errdefs.ErrNotFound if none).
func (s ListStore) Get(name string) (*ManifestList, error) {
	b, err := os.ReadFile(s.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "No such manifest: %s", name)
	}
	if err != nil {
		return nil, err
	}
	var l ManifestList
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, errdefs.Newf(errdefs.ErrCorrupt, "manifest list %s: %v", name, err)
	}
	return &l, nil
}

// Put saves l atomically.
func (s ListStore) Put(l *ManifestList) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path(l.Name) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path(l.Name))
}

// Remove deletes the list named name.
func (s ListStore) Remove(name string) error {
	err := os.Remove(s.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return errdefs.Newf(errdefs.ErrNotFound, "No such manifest: %s", name)
	}
	return err
}

// Entry fetches the manifest ref names from src and describes it for a
// list: its digest, size, media type and platform (from its config).
func Entry(ctx context.Context, src Source, ref, tagOrDigest string) (ListEntry, error) {
	raw, mt, dg, err := src.Manifest(ctx, tagOrDigest)
	if err != nil {
		return ListEntry{}, err
	}
	if image.IsIndexMediaType(mt) {
		return ListEntry{}, errdefs.Newf(errdefs.ErrInvalidArgument, "%s is a manifest list", ref)
	}
	man, err := image.ParseManifest(raw)
	if err != nil {
		return ListEntry{}, err
	}
	rc, _, err := src.FetchBlob(ctx, man.Config.Digest, 0)
	if err != nil {
		return ListEntry{}, err
	}
	defer rc.Close()
	cfgRaw, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return ListEntry{}, err
	}
	if digest.FromBytes(cfgRaw) != man.Config.Digest {
		return ListEntry{}, errdefs.Newf(errdefs.ErrCorrupt, "config of %s does not match its digest", ref)
	}
	var cfg image.Config
	if err := json.Unmarshal(cfgRaw, &cfg); err != nil {
		return ListEntry{}, fmt.Errorf("config of %s: %w", ref, err)
	}
	d := image.Descriptor{MediaType: mt, Digest: dg, Size: int64(len(raw)),
		Platform: &ocispec.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant, OSVersion: cfg.OSVersion, OSFeatures: cfg.OSFeatures}}
	return ListEntry{Ref: ref, Descriptor: d, Manifest: raw}, nil
}

// Index is the list as the registry gets it: a Docker manifest list when
// every entry is a Docker manifest, else an OCI index.
func (l *ManifestList) Index() ([]byte, string, error) {
	mt := image.MediaTypeDockerManifestList
	for _, e := range l.Entries {
		if e.Descriptor.MediaType != image.MediaTypeDockerManifest {
			mt = image.MediaTypeOCIIndex
		}
	}
	idx := image.Index{SchemaVersion: 2, MediaType: mt}
	for _, e := range l.Entries {
		idx.Manifests = append(idx.Manifests, e.Descriptor)
	}
	b, err := json.MarshalIndent(idx, "", "   ")
	return b, mt, err
}

// ListTarget is what pushing a list needs from its repository.
type ListTarget interface {
	Mount(ctx context.Context, dg digest.Digest, from string) (bool, error)
	BlobExists(ctx context.Context, dg digest.Digest) (int64, bool, error)
	PutManifest(ctx context.Context, ref string, raw []byte, mediaType string) (digest.Digest, error)
}

// PushList pushes the entries' manifests into the list's repository (their
// blobs mounted from the repositories they came from, on the same
// registry), then the list under tag.
func PushList(ctx context.Context, tgt ListTarget, l *ManifestList, tag string, repoOf func(ref string) (registry, repo string, err error), listRegistry, listRepo string) (digest.Digest, error) {
	for _, e := range l.Entries {
		reg, repo, err := repoOf(e.Ref)
		if err != nil {
			return "", err
		}
		if repo != listRepo || reg != listRegistry {
			if reg != listRegistry {
				return "", errdefs.Newf(errdefs.ErrUnsupported, "%s is on another registry than %s; push it there first", e.Ref, l.Name)
			}
			if err := mountManifestBlobs(ctx, tgt, e, repo); err != nil {
				return "", err
			}
		}
		if _, err := tgt.PutManifest(ctx, e.Descriptor.Digest.String(), e.Manifest, e.Descriptor.MediaType); err != nil {
			return "", fmt.Errorf("push %s: %w", e.Ref, err)
		}
	}
	raw, mt, err := l.Index()
	if err != nil {
		return "", err
	}
	return tgt.PutManifest(ctx, tag, raw, mt)
}

func mountManifestBlobs(ctx context.Context, tgt ListTarget, e ListEntry, from string) error {
	man, err := image.ParseManifest(e.Manifest)
	if err != nil {
		return err
	}
	for _, d := range append([]image.Descriptor{man.Config}, man.Layers...) {
		if _, ok, err := tgt.BlobExists(ctx, d.Digest); err == nil && ok {
			continue
		}
		ok, err := tgt.Mount(ctx, d.Digest, from)
		if err != nil {
			return err
		}
		if !ok {
			return errdefs.Newf(errdefs.ErrUnavailable, "the registry did not mount %s from %s", d.Digest, from)
		}
	}
	return nil
}
