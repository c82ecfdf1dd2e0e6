package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/metadata"
)

// Target is what push needs from a registry repository.
type Target interface {
	BlobExists(ctx context.Context, dg digest.Digest) (int64, bool, error)
	// Mount asks the registry to link a blob from another repository.
	Mount(ctx context.Context, dg digest.Digest, from string) (bool, error)
	// Upload streams a blob; with dg "" the digest is computed on the way,
	// else the registry checks it. size -1 means unknown.
	Upload(ctx context.Context, dg digest.Digest, size int64, body io.Reader) (digest.Digest, error)
	PutManifest(ctx context.Context, ref string, raw []byte, mediaType string) (digest.Digest, error)
}

// Pusher pushes images from a store.
type Pusher struct {
	Images   *imagestore.Store
	Progress func(Event) // may be nil
	Parallel int         // blobs at once (default 5, as Docker's max-concurrent-uploads)
}

// Destination names where an image goes: the registry host and the
// repository path in it ("library/busybox"), and the tag.
type Destination struct {
	Registry, Repo, Tag string
}

// Push uploads img's blobs that dst lacks and puts its manifest under
// dst.Tag, returning the manifest's digest and size. Uncompressed local layers go
// out gzip-compressed (pgzip); the compressed digest is remembered, so the
// next push of the layer only asks whether the registry has it.
func (p *Pusher) Push(ctx context.Context, tgt Target, dst Destination, img metadata.Image) (digest.Digest, int, error) {
	dg, body, err := p.push(ctx, tgt, dst, img)
	return dg, len(body), err
}

func (p *Pusher) push(ctx context.Context, tgt Target, dst Destination, img metadata.Image) (digest.Digest, []byte, error) {
	raw, err := p.Images.Content.ReadAll(img.ManifestDigest, 4<<20)
	if err != nil {
		return "", nil, err
	}
	man, err := image.ParseManifest(raw)
	if err != nil {
		return "", nil, err
	}
	cfgRaw, err := p.Images.Content.ReadAll(man.Config.Digest, 16<<20)
	if err != nil {
		return "", nil, err
	}
	cfg, err := image.ParseConfig(cfgRaw)
	if err != nil {
		return "", nil, err
	}
	if len(cfg.RootFS.DiffIDs) != len(man.Layers) {
		return "", nil, errdefs.Newf(errdefs.ErrCorrupt, "image %s: manifest and config disagree on the layers", img.ID)
	}
	docker := man.MediaType == image.MediaTypeDockerManifest
	out := *man
	out.Layers = make([]image.Descriptor, len(man.Layers))
	errs := make([]error, len(man.Layers)+1)
	var wg sync.WaitGroup
	n := p.Parallel
	if n <= 0 {
		n = 5
	}
	sem := make(chan struct{}, n)
	for i, l := range man.Layers {
		wg.Add(1)
		go func(i int, l image.Descriptor) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out.Layers[i], errs[i] = p.pushLayer(ctx, tgt, dst, l, cfg.RootFS.DiffIDs[i], docker)
		}(i, l)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, errs[len(man.Layers)] = p.pushBlob(ctx, tgt, dst, man.Config, "")
	}()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return "", nil, err
		}
	}
	mt := man.MediaType
	if mt == "" {
		mt = image.MediaTypeOCIManifest
	}
	body := raw
	if changed(man.Layers, out.Layers) {
		if out.MediaType == "" {
			out.MediaType = image.MediaTypeOCIManifest
			mt = out.MediaType
		}
		if body, err = json.Marshal(out); err != nil {
			return "", nil, err
		}
	}
	dg, err := tgt.PutManifest(ctx, dst.Tag, body, mt)
	if err == nil { // as Docker, the image now has this repo digest
		err = p.Images.Meta.AddRepoDigest(ctx, dst.Registry+"/"+dst.Repo, dg, img.ID)
	}
	return dg, body, err
}

func changed(a, b []image.Descriptor) bool {
	for i := range a {
		if a[i].Digest != b[i].Digest {
			return true
		}
	}
	return false
}

// pushLayer makes the registry hold the layer and returns its descriptor
// there: the local blob when it is compressed, else its gzip form.
func (p *Pusher) pushLayer(ctx context.Context, tgt Target, dst Destination, l image.Descriptor, diffID digest.Digest, docker bool) (image.Descriptor, error) {
	id := shortID(diffID) // Docker names a layer by its diff ID, push after push
	if !uncompressed(l.MediaType) {
		return p.pushBlob(ctx, tgt, dst, l, id)
	}
	gz := image.MediaTypeOCILayerGzip
	if docker {
		gz = image.MediaTypeDockerLayer
	}
	want := image.Descriptor{MediaType: gz, Annotations: l.Annotations}
	var known *metadata.Compressed
	if c, err := p.Images.Meta.Compressed(ctx, diffID, gz); err == nil {
		want.Digest, want.Size = c.Digest, c.Size
		if ok, err := p.have(ctx, tgt, dst, want.Digest, id); err != nil || ok {
			return want, err
		}
		known = &c
	}
	dg, size, err := p.uploadCompressed(ctx, tgt, l, id, known)
	if known != nil && errdefs.IsInvalidArgument(err) {
		// The layer compressed to other bytes than last time (another
		// pgzip version, say) and the registry refused the digest: upload
		// it again, hashed on the way.
		dg, size, err = p.uploadCompressed(ctx, tgt, l, id, nil)
	}
	if err != nil {
		return want, err
	}
	want.Digest, want.Size = dg, size
	_ = p.Images.Meta.PutCompressed(ctx, metadata.Compressed{DiffID: diffID, MediaType: gz, Digest: dg, Size: size})
	_ = p.Images.Meta.PutBlobSource(ctx, dg, dst.Registry, dst.Repo)
	return want, nil
}

// pushBlob uploads a local blob as it is, unless the registry has it or
// can mount it. Progress is reported under id ("" reports none: the
// config).
func (p *Pusher) pushBlob(ctx context.Context, tgt Target, dst Destination, d image.Descriptor, id string) (image.Descriptor, error) {
	if ok, err := p.have(ctx, tgt, dst, d.Digest, id); err != nil || ok {
		return d, err
	}
	f, err := p.Images.Content.Open(d.Digest)
	if err != nil {
		return d, err
	}
	defer f.Close()
	body := &counter{r: f, report: func(n int64) {
		p.event(Event{ID: id, Status: "Pushing", Current: n, Total: d.Size})
	}}
	if _, err := tgt.Upload(ctx, d.Digest, d.Size, body); err != nil {
		return d, fmt.Errorf("upload %s: %w", d.Digest, err)
	}
	p.event(Event{ID: id, Status: "Pushed"})
	_ = p.Images.Meta.PutBlobSource(ctx, d.Digest, dst.Registry, dst.Repo)
	return d, nil
}

// have reports whether the registry has the blob in the repository,
// mounting it from another repository of the same registry that is known
// to hold it.
func (p *Pusher) have(ctx context.Context, tgt Target, dst Destination, dg digest.Digest, id string) (bool, error) {
	if _, ok, err := tgt.BlobExists(ctx, dg); err != nil || ok {
		if ok {
			p.event(Event{ID: id, Status: "Layer already exists"})
		}
		return ok, err
	}
	sources, _ := p.Images.Meta.BlobSources(ctx, dg, dst.Registry)
	for _, from := range sources {
		if from == dst.Repo {
			continue
		}
		if ok, err := tgt.Mount(ctx, dg, from); err == nil && ok {
			p.event(Event{ID: id, Status: "Mounted from " + from})
			_ = p.Images.Meta.PutBlobSource(ctx, dg, dst.Registry, dst.Repo)
			return true, nil
		}
	}
	return false, nil
}

// uploadCompressed streams the local layer through pgzip to the registry.
// Compressing is deterministic, so with the digest and size of an earlier
// push known the bytes are not hashed again (the registry checks them);
// else the digest is computed on the way.
func (p *Pusher) uploadCompressed(ctx context.Context, tgt Target, l image.Descriptor, id string, known *metadata.Compressed) (digest.Digest, int64, error) {
	f, err := p.Images.Content.Open(l.Digest)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	var dg digest.Digest
	var total int64
	if known != nil {
		dg, total = known.Digest, known.Size
	}
	body := &gzipStream{src: f, report: func(n int64) {
		p.event(Event{ID: id, Status: "Pushing", Current: n, Total: total})
	}}
	defer func() { _ = body.Close() }()
	// The size stays unknown to the upload even when known here, so the
	// stream is sent chunked and can write itself into the connection.
	dg, err = tgt.Upload(ctx, dg, -1, body)
	if err != nil {
		return "", 0, fmt.Errorf("upload layer %s: %w", l.Digest, err)
	}
	p.event(Event{ID: id, Status: "Pushed"})
	return dg, body.n, nil
}

func uncompressed(mt string) bool {
	return mt == image.MediaTypeOCILayer || mt == image.MediaTypeDockerLayerUncompressed
}

func (p *Pusher) event(e Event) {
	if p.Progress != nil && e.ID != "" {
		p.Progress(e)
	}
}
