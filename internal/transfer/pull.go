package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/reference"
)

// Source is what pull needs from a registry repository.
type Source interface {
	// Manifest fetches a manifest or index by tag or digest, verified.
	Manifest(ctx context.Context, ref string) (raw []byte, mediaType string, dg digest.Digest, err error)
	// FetchBlob streams a blob from offset.
	FetchBlob(ctx context.Context, dg digest.Digest, offset int64) (io.ReadCloser, int64, error)
}

// Event reports progress of one blob: Status is "Pulling fs layer",
// "Downloading", "Download complete", "Already exists", "Pull complete".
type Event struct {
	ID      string // the short digest Docker shows
	Status  string
	Current int64
	Total   int64
}

// Puller pulls images into a store.
type Puller struct {
	Images   *imagestore.Store
	Platform ocispec.Platform
	Progress func(Event) // may be nil
	Parallel int         // layers at once (default 3)
}

// PullResult is a pulled image.
type PullResult struct {
	Image  metadata.Image
	Digest digest.Digest // of the manifest or index the reference named
	Fresh  bool          // false when the image was already up to date
}

// Pull fetches ref from src: the manifest (an index picks the platform),
// the config and the layers the store lacks, then records the image with
// its tag and repo digest.
func (p *Puller) Pull(ctx context.Context, src Source, ref reference.Reference) (PullResult, error) {
	raw, mt, top, err := src.Manifest(ctx, ref.Object())
	if err != nil {
		return PullResult{}, err
	}
	if image.IsIndexMediaType(mt) {
		idx, err := image.ParseIndex(raw)
		if err != nil {
			return PullResult{}, err
		}
		d, err := image.SelectManifest(idx, p.Platform)
		if err != nil {
			return PullResult{}, err
		}
		if raw, mt, _, err = src.Manifest(ctx, d.Digest.String()); err != nil {
			return PullResult{}, err
		}
	}
	man, err := image.ParseManifest(raw)
	if err != nil {
		return PullResult{}, err
	}
	release, err := p.Images.Lease()
	if err != nil {
		return PullResult{}, err
	}
	defer release()
	cfgRaw, cfg, err := p.config(ctx, src, man.Config)
	if err != nil {
		return PullResult{}, err
	}
	if len(cfg.RootFS.DiffIDs) != len(man.Layers) {
		return PullResult{}, errdefs.Newf(errdefs.ErrCorrupt, "manifest has %d layers but its config %d diff IDs", len(man.Layers), len(cfg.RootFS.DiffIDs))
	}
	layers, err := p.layers(ctx, src, man.Layers, cfg.RootFS.DiffIDs)
	if err != nil {
		return PullResult{}, err
	}
	// Remember where the blobs live, so a push to another repository of
	// this registry can mount them instead of uploading.
	for _, d := range append([]image.Descriptor{man.Config}, man.Layers...) {
		_ = p.Images.Meta.PutBlobSource(ctx, d.Digest, ref.Domain, ref.Path) // an optimisation only
	}
	var tags []reference.Reference
	if ref.Digest == "" {
		tags = append(tags, ref)
	}
	named := ref
	named.Tag, named.Digest = "", top
	prev, _ := p.Images.Meta.Get(ctx, digest.FromBytes(cfgRaw))
	img, _, err := p.Images.Commit(ctx, imagestore.NewImage{Config: cfgRaw, Layers: layers, Manifest: raw, ManifestMediaType: mt}, tags, []reference.Reference{named})
	if err != nil {
		return PullResult{}, err
	}
	return PullResult{Image: img, Digest: top, Fresh: prev.ID == ""}, nil
}

// config fetches and parses the image config (small: read whole).
func (p *Puller) config(ctx context.Context, src Source, d image.Descriptor) ([]byte, *image.Config, error) {
	if d.Size > 16<<20 {
		return nil, nil, errdefs.Newf(errdefs.ErrLimitExceeded, "image config %s is %d bytes; refusing more than 16 MiB", d.Digest, d.Size)
	}
	if raw, err := p.Images.Content.ReadAll(d.Digest, 16<<20); err == nil {
		cfg, err := image.ParseConfig(raw)
		return raw, cfg, err
	}
	rc, _, err := src.FetchBlob(ctx, d.Digest, 0)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, d.Size+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(raw)) != d.Size || digest.FromBytes(raw) != d.Digest {
		return nil, nil, errdefs.Newf(errdefs.ErrCorrupt, "image config %s: the registry sent other content", d.Digest)
	}
	cfg, err := image.ParseConfig(raw)
	return raw, cfg, err
}

// layers fetches the layers the store lacks, Parallel at a time.
func (p *Puller) layers(ctx context.Context, src Source, descs []image.Descriptor, diffIDs []digest.Digest) ([]imagestore.Layer, error) {
	out := make([]imagestore.Layer, len(descs))
	errs := make([]error, len(descs))
	n := p.Parallel
	if n <= 0 {
		n = 3
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i, d := range descs {
		p.event(Event{ID: shortID(d.Digest), Status: "Pulling fs layer", Total: d.Size})
		wg.Add(1)
		go func(i int, d image.Descriptor) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = p.layer(ctx, src, d, diffIDs[i])
			if errs[i] != nil {
				cancel()
			}
		}(i, d)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// layer makes one layer blob present, checking its diffID.
func (p *Puller) layer(ctx context.Context, src Source, d image.Descriptor, diffID digest.Digest) (imagestore.Layer, error) {
	l := imagestore.Layer{Digest: d.Digest, Size: d.Size, MediaType: d.MediaType, DiffID: diffID}
	if info, err := p.Images.Content.Info(d.Digest); err == nil && info.Size == d.Size {
		size, err := p.diffSize(d, diffID)
		if err == nil {
			l.DiffSize = size
			p.event(Event{ID: shortID(d.Digest), Status: "Already exists"})
			return l, nil
		}
	}
	size, err := p.download(ctx, src, d, diffID)
	if err != nil {
		return l, fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	l.DiffSize = size
	p.event(Event{ID: shortID(d.Digest), Status: "Pull complete"})
	return l, nil
}

// knownDiffSize returns the uncompressed size of a layer blob already in
// the store, decompressing it once if no image records it.
func (p *Puller) knownDiffSize(blob, diffID digest.Digest) (int64, error) {
	rc, err := p.Images.Content.Open(blob)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return diffOf(rc, diffID)
}

// diffOf decompresses a layer and checks its diffID, returning its size.
func diffOf(r io.Reader, diffID digest.Digest) (int64, error) {
	dr, _, err := archive.Decompress(r)
	if err != nil {
		return 0, err
	}
	defer dr.Close()
	v := diffID.Algorithm().Digester()
	n, err := io.Copy(v.Hash(), dr)
	if err != nil {
		return 0, err
	}
	if v.Digest() != diffID {
		return 0, errdefs.Newf(errdefs.ErrCorrupt, "layer content does not match its diff ID %s (got %s)", diffID, v.Digest())
	}
	return n, nil
}

func (p *Puller) event(e Event) {
	if p.Progress != nil {
		p.Progress(e)
	}
}

// shortID is the 12 hex digits Docker prints for a layer.
func shortID(d digest.Digest) string {
	h := d.Encoded()
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
