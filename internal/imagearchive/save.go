package imagearchive

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/reference"
)

// Annotations of an index entry that name the image.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

// File names of an image archive.
const (
	fileOCILayout    = "oci-layout"
	fileIndex        = "index.json"
	fileManifest     = "manifest.json"
	fileRepositories = "repositories"
	dirBlobs         = "blobs"
)

// ociLayout is the content of the oci-layout file.
const ociLayout = `{"imageLayoutVersion":"1.0.0"}`

// manifestItem is one entry of Docker's manifest.json.
type manifestItem struct {
	Config   string
	RepoTags []string
	Layers   []string
	Parent   digest.Digest `json:",omitempty"`
}

// savedImage is one image to save and the names the user asked for.
type savedImage struct {
	img  metadata.Image
	refs []reference.Reference
}

// Save writes the images named by names (references or IDs, as typed by the
// user) to w as one tar archive. An image saved by a name carries that tag;
// a repository name without tag saves every tag of the repository; an image
// saved by ID carries no name. An unknown name is errdefs.ErrNotFound.
func Save(ctx context.Context, s *imagestore.Store, w io.Writer, names []string) error {
	imgs, err := collect(ctx, s, names)
	if err != nil {
		return err
	}
	t := newTarStream(w)
	if err := writeMetadata(t, imgs); err != nil {
		return err
	}
	if err := writeBlobs(ctx, s, t, imgs); err != nil {
		return err
	}
	return t.close()
}

// collect resolves names to images, in the order they were given; names of
// one image are merged.
func collect(ctx context.Context, s *imagestore.Store, names []string) ([]*savedImage, error) {
	var out []*savedImage
	byID := map[digest.Digest]*savedImage{}
	add := func(id digest.Digest, ref *reference.Reference) error {
		si := byID[id]
		if si == nil {
			img, err := s.Meta.Get(ctx, id)
			if err != nil {
				return err
			}
			si = &savedImage{img: img}
			byID[id] = si
			out = append(out, si)
		}
		if ref != nil && !hasRef(si.refs, *ref) {
			si.refs = append(si.refs, *ref)
		}
		return nil
	}
	var repoTags map[string][]tagged // lazily loaded
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if named, err := reference.ParseNamed(name); err == nil && named.Tag == "" && named.Digest == "" {
			if repoTags == nil {
				if repoTags, err = listTags(ctx, s); err != nil {
					return nil, err
				}
			}
			if tags := repoTags[named.Name()]; len(tags) > 0 {
				for _, t := range tags {
					if err := add(t.id, &t.ref); err != nil {
						return nil, err
					}
				}
				continue
			}
		}
		id, err := s.ResolveID(ctx, name)
		if err != nil {
			return nil, err
		}
		if err := add(id, tagOf(ctx, s, name, id)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// tagged is one tag of the store.
type tagged struct {
	ref reference.Reference
	id  digest.Digest
}

// listTags returns every tag of the store by repository name.
func listTags(ctx context.Context, s *imagestore.Store) (map[string][]tagged, error) {
	imgs, err := s.Meta.List(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]tagged{}
	for _, img := range imgs {
		for _, t := range img.Tags {
			if r, err := reference.ParseNamed(t); err == nil && r.Tag != "" {
				out[r.Name()] = append(out[r.Name()], tagged{ref: r, id: img.ID})
			}
		}
	}
	return out, nil
}

// tagOf returns the tag that name stands for when it named id by a tag (not
// by ID or digest), else nil.
func tagOf(ctx context.Context, s *imagestore.Store, name string, id digest.Digest) *reference.Reference {
	ref, err := reference.Parse(name)
	if err != nil || ref.Digest != "" {
		return nil
	}
	if got, err := s.Meta.LookupTag(ctx, ref.String()); err != nil || got != id {
		return nil
	}
	return &ref
}

func hasRef(refs []reference.Reference, r reference.Reference) bool {
	for _, x := range refs {
		if x == r {
			return true
		}
	}
	return false
}

// blobPath is the archive path of blob d.
func blobPath(d digest.Digest) string {
	return path.Join(dirBlobs, d.Algorithm().String(), d.Encoded())
}

// writeMetadata writes oci-layout, index.json, manifest.json and
// repositories.
func writeMetadata(t *tarStream, imgs []*savedImage) error {
	idx := image.Index{SchemaVersion: 2, MediaType: image.MediaTypeOCIIndex, Manifests: []image.Descriptor{}}
	items := make([]manifestItem, 0, len(imgs))
	repos := map[string]map[string]string{}
	saved := map[digest.Digest]bool{}
	for _, si := range imgs {
		saved[si.img.ID] = true
	}
	for _, si := range imgs {
		man, ok := si.img.Blob(metadata.KindManifest)
		if !ok {
			return errdefs.Newf(errdefs.ErrCorrupt, "image %s has no manifest blob", si.img.ID)
		}
		if _, ok := si.img.Blob(metadata.KindConfig); !ok {
			return errdefs.Newf(errdefs.ErrCorrupt, "image %s has no config blob", si.img.ID)
		}
		desc := image.Descriptor{MediaType: si.img.ManifestMediaType, Digest: man.Digest, Size: man.Size}
		item := manifestItem{Config: blobPath(si.img.ID)}
		if saved[si.img.Parent] {
			item.Parent = si.img.Parent
		}
		layers := si.img.Layers()
		for _, l := range layers {
			item.Layers = append(item.Layers, blobPath(l.Digest))
		}
		top := si.img.ID.Encoded()
		if len(layers) > 0 {
			top = layers[len(layers)-1].Digest.Encoded()
		}
		for _, r := range si.refs {
			d := desc
			d.Annotations = map[string]string{annotationImageName: r.String(), annotationRefName: r.Tag}
			idx.Manifests = append(idx.Manifests, d)
			item.RepoTags = append(item.RepoTags, r.Familiar())
			if repos[r.FamiliarName()] == nil {
				repos[r.FamiliarName()] = map[string]string{}
			}
			repos[r.FamiliarName()][r.Tag] = top
		}
		if len(si.refs) == 0 {
			idx.Manifests = append(idx.Manifests, desc)
		}
		items = append(items, item)
	}
	files := []struct {
		name string
		v    any
	}{{fileIndex, idx}, {fileManifest, items}, {fileRepositories, repos}}
	if err := t.file(fileOCILayout, []byte(ociLayout)); err != nil {
		return err
	}
	for _, f := range files {
		if f.name == fileRepositories && len(repos) == 0 {
			continue
		}
		b, err := json.Marshal(f.v)
		if err != nil {
			return fmt.Errorf("encode %s: %w", f.name, err)
		}
		if err := t.file(f.name, b); err != nil {
			return err
		}
	}
	return nil
}

// writeBlobs writes every blob of imgs once: manifest, config, then layers.
func writeBlobs(ctx context.Context, s *imagestore.Store, t *tarStream, imgs []*savedImage) error {
	if err := t.dir(dirBlobs + "/"); err != nil {
		return err
	}
	dirs := map[digest.Algorithm]bool{}
	written := map[digest.Digest]bool{}
	for _, si := range imgs {
		blobs := make([]metadata.Blob, 0, len(si.img.Blobs))
		for _, kind := range []string{metadata.KindManifest, metadata.KindConfig} {
			if b, ok := si.img.Blob(kind); ok {
				blobs = append(blobs, b)
			}
		}
		blobs = append(blobs, si.img.Layers()...)
		for _, b := range blobs {
			if written[b.Digest] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			written[b.Digest] = true
			if alg := b.Digest.Algorithm(); !dirs[alg] {
				dirs[alg] = true
				if err := t.dir(path.Join(dirBlobs, alg.String()) + "/"); err != nil {
					return err
				}
			}
			if err := writeBlob(s, t, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeBlob streams one blob from the content store.
func writeBlob(s *imagestore.Store, t *tarStream, b metadata.Blob) error {
	f, err := s.Content.Open(b.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("blob %s: %w", b.Digest, err)
	}
	if b.Size > 0 && fi.Size() != b.Size {
		return errdefs.Newf(errdefs.ErrCorrupt, "blob %s has %d bytes, the image records %d", b.Digest, fi.Size(), b.Size)
	}
	return t.copyFile(blobPath(b.Digest), f, fi.Size())
}
