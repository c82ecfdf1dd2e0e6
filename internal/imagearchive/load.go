package imagearchive

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/reference"
)

// LoadOptions are the settings of Load.
type LoadOptions struct {
	Limits archive.Limits // bounds every layer
}

// Loaded is one image Load stored.
type Loaded struct {
	Tags []string      // familiar names, e.g. busybox:latest
	ID   digest.Digest // the image ID
}

// plan is one image of the archive, as its manifest.json entry or index.json
// entry describes it.
type plan struct {
	source       string // "manifest.json" or "index.json", for messages
	config       []byte
	id           digest.Digest
	layers       []planLayer
	tags         []reference.Reference
	parent       digest.Digest
	manifest     []byte       // OCI archives: the manifest kept as is; nil: Commit builds one
	manifestType string       // media type of manifest
	candidate    *ociManifest // Docker archives: a manifest index.json has for this config
}

// planLayer is one layer of a plan.
type planLayer struct {
	path      string        // archive path, as the manifest gives it
	mediaType string        // from a kept manifest; "" means by the blob's compression
	digest    digest.Digest // expected by a kept manifest; "" means any
	size      int64
	entry     *entry
	layer     imagestore.Layer // filled by check
}

// Load reads an image archive (Docker or OCI, plain or compressed) from r in
// one pass and stores its images. Either every image of the archive is
// checked and stored, or, on a refused entry, layer, name or digest, none is
// and every blob written so far is removed.
func Load(ctx context.Context, s *imagestore.Store, r io.Reader, opts LoadOptions) ([]Loaded, error) {
	release, err := s.Lease()
	if err != nil {
		return nil, err
	}
	defer release()
	rd := newReader(s, opts.Limits)
	defer rd.abortAll()
	if err := rd.read(ctx, r); err != nil {
		return nil, err
	}
	plans, err := rd.plans()
	if err != nil {
		return nil, err
	}
	for _, p := range plans {
		if err := rd.check(ctx, p); err != nil {
			return nil, err
		}
	}
	out := make([]Loaded, 0, len(plans))
	for _, p := range plans {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		l, err := commit(ctx, s, p)
		if err != nil {
			return out, err
		}
		out = append(out, l)
	}
	return out, nil
}

// plans reads the images the archive holds from manifest.json, else from
// index.json.
func (rd *reader) plans() ([]*plan, error) {
	var plans []*plan
	var err error
	switch {
	case rd.lookup(fileManifest) != nil:
		plans, err = rd.dockerPlans()
	case rd.lookup(fileIndex) != nil:
		plans, err = rd.indexPlans()
	default:
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "archive has neither %s nor %s", fileManifest, fileIndex)
	}
	if err != nil {
		return nil, err
	}
	return mergePlans(plans), nil
}

// mergePlans joins plans of the same image, keeping the first.
func mergePlans(plans []*plan) []*plan {
	byID := map[digest.Digest]*plan{}
	out := plans[:0]
	for _, p := range plans {
		if q := byID[p.id]; q != nil {
			for _, t := range p.tags {
				if !hasRef(q.tags, t) {
					q.tags = append(q.tags, t)
				}
			}
			continue
		}
		byID[p.id] = p
		out = append(out, p)
	}
	return out
}

// smallFile returns the bytes of the file at p, which must be a small file
// (config, manifest, index); what names it in errors.
func (rd *reader) smallFile(source, p, what string) ([]byte, error) {
	e := rd.lookup(p)
	if e == nil {
		return nil, notInArchive(source, p)
	}
	if e.err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, e.name, e.err)
	}
	if e.data == nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "%s %s is a tar stream, not a JSON document", what, e.name)
	}
	return e.data, nil
}

func notInArchive(source, p string) error {
	return errdefs.Newf(errdefs.ErrInvalidArgument, "%s references %q, which is not in the archive", source, p)
}

// check verifies that every layer of p is in the archive, scanned clean
// and has the diffID p's config expects.
func (rd *reader) check(ctx context.Context, p *plan) error {
	cfg, err := image.ParseConfig(p.config)
	if err != nil {
		return fmt.Errorf("image %s: %w", p.id, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(p.layers) {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "image %s: %s lists %d layers, its config %d diff_ids",
			p.id, p.source, len(p.layers), len(cfg.RootFS.DiffIDs))
	}
	for i := range p.layers {
		if err := rd.checkLayer(ctx, p, i, cfg.RootFS.DiffIDs[i]); err != nil {
			return err
		}
	}
	if c := p.candidate; c != nil && c.fits(p) {
		p.manifest, p.manifestType = c.raw, c.mediaType
		for i, d := range c.m.Layers {
			p.layers[i].layer.MediaType = d.MediaType
		}
	}
	return nil
}

func (rd *reader) checkLayer(ctx context.Context, p *plan, i int, diffID digest.Digest) error {
	l := &p.layers[i]
	e := rd.lookup(l.path)
	if e == nil {
		return notInArchive(p.source, l.path)
	}
	if e.layer == nil && e.err == nil {
		// A small file: an empty or tiny layer. Scan and store it now.
		if err := rd.streamLayer(ctx, e, bytes.NewReader(e.data)); err != nil {
			return err
		}
	}
	if e.err != nil {
		return fmt.Errorf("layer %s: %w", e.name, e.err)
	}
	lb := e.layer
	if lb.info.DiffID != diffID {
		return errdefs.Newf(errdefs.ErrCorrupt, "layer %s has diff ID %s, but the config of image %s expects %s",
			e.name, lb.info.DiffID, p.id, diffID)
	}
	mt := lb.mediaType()
	if l.digest != "" {
		if lb.digest != l.digest || lb.size != l.size {
			return errdefs.Newf(errdefs.ErrCorrupt, "layer %s has digest %s and %d bytes, the manifest says %s and %d bytes",
				e.name, lb.digest, lb.size, l.digest, l.size)
		}
		if !sameCompression(l.mediaType, lb) {
			return errdefs.Newf(errdefs.ErrCorrupt, "layer %s is %s, but the manifest gives media type %q",
				e.name, lb.info.Compression, l.mediaType)
		}
		mt = l.mediaType
	}
	l.entry = e
	l.layer = imagestore.Layer{Digest: lb.digest, Size: lb.size, MediaType: mt, DiffID: lb.info.DiffID, DiffSize: lb.info.Size}
	return nil
}

// sameCompression reports whether mt is a layer media type that matches the
// compression lb was found to have.
func sameCompression(mt string, lb *layerBlob) bool {
	return image.IsLayerMediaType(mt) && image.LayerCompression(mt) == compressionName(lb.info.Compression)
}

// commit stores the layers of a checked plan and records its image.
func commit(ctx context.Context, s *imagestore.Store, p *plan) (Loaded, error) {
	layers := make([]imagestore.Layer, len(p.layers))
	for i, l := range p.layers {
		if err := l.entry.layer.commit(); err != nil {
			return Loaded{}, err
		}
		layers[i] = l.layer
	}
	parent := p.parent
	if parent != "" {
		if _, err := s.Meta.Get(ctx, parent); err != nil {
			parent = "" // Docker links a parent only when it is present
		}
	}
	img := imagestore.NewImage{Config: p.config, Layers: layers, Manifest: p.manifest, ManifestMediaType: p.manifestType, Parent: parent}
	rec, _, err := s.Commit(ctx, img, p.tags, nil)
	if err != nil {
		return Loaded{}, fmt.Errorf("image %s: %w", p.id, err)
	}
	out := Loaded{ID: rec.ID}
	for _, t := range p.tags {
		out.Tags = append(out.Tags, t.Familiar())
	}
	return out, nil
}
