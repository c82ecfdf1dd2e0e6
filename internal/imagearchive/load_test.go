package imagearchive

import (
	"archive/tar"
	"bytes"
	"context"
	"runtime"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
)

func load(t *testing.T, s *testStore, b []byte) []Loaded {
	t.Helper()
	loaded, err := Load(context.Background(), s.Store, bytes.NewReader(b), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if left := s.ingests(t); len(left) > 0 {
		t.Errorf("ingests left behind: %v", left)
	}
	return loaded
}

// sameImage checks that got (in store s) is want (from another store):
// same ID, manifest, tags and layers.
func sameImage(t *testing.T, s *testStore, want metadata.Image, wantTags []string) {
	t.Helper()
	got, err := s.Meta.Get(context.Background(), want.ID)
	if err != nil {
		t.Fatalf("image %s not loaded: %v", want.ID, err)
	}
	if got.ManifestDigest != want.ManifestDigest || got.ManifestMediaType != want.ManifestMediaType {
		t.Errorf("manifest %s (%s), want %s (%s)", got.ManifestDigest, got.ManifestMediaType, want.ManifestDigest, want.ManifestMediaType)
	}
	if !slices.Equal(got.Tags, wantTags) {
		t.Errorf("tags %q, want %q", got.Tags, wantTags)
	}
	gl, wl := got.Layers(), want.Layers()
	if len(gl) != len(wl) {
		t.Fatalf("%d layers, want %d", len(gl), len(wl))
	}
	for i := range gl {
		if gl[i] != wl[i] {
			t.Errorf("layer %d = %+v, want %+v", i, gl[i], wl[i])
		}
		if _, err := s.Content.Info(gl[i].Digest); err != nil {
			t.Errorf("layer %d: %v", i, err)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	saved := save(t, fx.s, "busybox:latest", "example.com:5000/team/app:v1", fx.anon.ID.String())
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"plain", saved},
		{"gzip", gzipBytes(t, saved)},
		{"zstd", zstdBytes(t, saved)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			loaded := load(t, s, tc.data)
			want := []Loaded{
				{Tags: []string{"busybox:latest"}, ID: fx.busybox.ID},
				{Tags: []string{"example.com:5000/team/app:v1"}, ID: fx.app.ID},
				{ID: fx.anon.ID},
			}
			if mustJSON(t, loaded) != mustJSON(t, want) {
				t.Errorf("loaded %+v, want %+v", loaded, want)
			}
			sameImage(t, s, fx.busybox, []string{"docker.io/library/busybox:latest"})
			sameImage(t, s, fx.app, []string{"example.com:5000/team/app:v1"})
			sameImage(t, s, fx.anon, nil)
			if got, want := s.blobs(t), fx.s.blobs(t); !slices.Equal(got, want) {
				t.Errorf("blobs %v, want %v", got, want)
			}
		})
	}
}

// TestLoadIntoSameStore loads blobs the store already has: they are only
// hashed and scanned, and the tags come back.
func TestLoadIntoSameStore(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	saved := save(t, fx.s, "busybox:1.36")
	if _, err := fx.s.Remove(context.Background(), "busybox:1.36", false, false); err != nil {
		t.Fatal(err)
	}
	before := fx.s.blobs(t)
	loaded := load(t, fx.s, saved)
	if len(loaded) != 1 || loaded[0].ID != fx.busybox.ID || !slices.Equal(loaded[0].Tags, []string{"busybox:1.36"}) {
		t.Fatalf("loaded %+v", loaded)
	}
	sameImage(t, fx.s, fx.busybox, []string{"docker.io/library/busybox:1.36", "docker.io/library/busybox:latest"})
	if after := fx.s.blobs(t); !slices.Equal(before, after) {
		t.Errorf("blobs changed: %v -> %v", before, after)
	}
}

// legacyArchive builds a Docker (pre-25) archive of one image whose two
// layers are the same tar: the second is a symlink to the first, and
// manifest.json comes last. extra files come first.
func legacyArchive(t testing.TB, extra ...file) ([]byte, []byte) {
	layer := layerTar(t, "legacy")
	cfg := configFor(t, "legacy", layer, layer)
	cfgName := digest.FromBytes(cfg).Encoded() + ".json"
	const id1, id2 = "1111111111111111111111111111111111111111111111111111111111111111", "2222222222222222222222222222222222222222222222222222222222222222"
	items := []map[string]any{{"Config": cfgName, "RepoTags": []string{"legacy/app:1.0"}, "Layers": []string{id1 + "/layer.tar", id2 + "/layer.tar"}}}
	return buildTar(t, append(extra,
		file{name: id1 + "/", typeflag: tar.TypeDir},
		file{name: id1 + "/VERSION", body: "1.0"},
		file{name: id1 + "/json", body: `{"id":"` + id1 + `"}`},
		file{name: id1 + "/layer.tar", body: string(layer)},
		file{name: id2 + "/", typeflag: tar.TypeDir},
		file{name: id2 + "/VERSION", body: "1.0"},
		file{name: id2 + "/json", body: `{"id":"` + id2 + `","parent":"` + id1 + `"}`},
		file{name: id2 + "/layer.tar", typeflag: tar.TypeSymlink, linkname: "../" + id1 + "/layer.tar"},
		file{name: cfgName, body: string(cfg)},
		file{name: "repositories", body: `{"legacy/app":{"1.0":"` + id2 + `"}}`},
		file{name: "manifest.json", body: mustJSON(t, items)},
	)...), cfg
}

func TestLoadLegacyDockerArchive(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	arch, cfg := legacyArchive(t)
	loaded := load(t, s, arch)
	id := digest.FromBytes(cfg)
	if len(loaded) != 1 || loaded[0].ID != id || !slices.Equal(loaded[0].Tags, []string{"legacy/app:1.0"}) {
		t.Fatalf("loaded %+v", loaded)
	}
	img, err := s.Meta.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	layers := img.Layers()
	want := digest.FromBytes(layerTar(t, "legacy"))
	if len(layers) != 2 || layers[0].Digest != want || layers[1].Digest != want || layers[0].MediaType != image.MediaTypeOCILayer {
		t.Errorf("layers %+v, want twice %s", layers, want)
	}
	if img.ManifestMediaType != image.MediaTypeOCIManifest {
		t.Errorf("manifest type %s", img.ManifestMediaType)
	}
	// Blobs: the layer once, config, built manifest.
	if n := len(s.blobs(t)); n != 3 {
		t.Errorf("%d blobs, want 3", n)
	}
}

// ociArchive builds an OCI archive whose index.json (written last) points
// at a nested index with an image for the host platform and one for
// another; the host image's layer is gzip. Returns the archive, the host
// image's manifest and config, and the other platform's layer.
func ociArchive(t testing.TB, names map[string]string) (arch, manifest, cfg, otherLayer []byte) {
	hostLayer := gzipBytes(t, layerTar(t, "oci-host"))
	otherLayer = layerTar(t, "oci-other")
	var files []file
	blob := func(b []byte) image.Descriptor {
		files = append(files, file{name: blobPath(digest.FromBytes(b)), body: string(b)})
		return image.Descriptor{Digest: digest.FromBytes(b), Size: int64(len(b))}
	}
	mkManifest := func(label string, layer []byte, mt string) ([]byte, []byte, image.Descriptor) {
		c := configFor(t, label, layer)
		cd := blob(c)
		cd.MediaType = image.MediaTypeOCIConfig
		ld := blob(layer)
		ld.MediaType = mt
		m, _, err := image.NewManifest(cd, []image.Descriptor{ld}, false)
		if err != nil {
			t.Fatal(err)
		}
		md := blob(m)
		md.MediaType = image.MediaTypeOCIManifest
		return m, c, md
	}
	manifest, cfg, hostDesc := mkManifest("host", hostLayer, image.MediaTypeOCILayerGzip)
	_, _, otherDesc := mkManifest("other", otherLayer, image.MediaTypeOCILayer)
	other := "s390x"
	if runtime.GOARCH == other {
		other = "riscv64"
	}
	hostDesc.Platform = &image.Platform{OS: "linux", Architecture: runtime.GOARCH}
	otherDesc.Platform = &image.Platform{OS: "linux", Architecture: other}
	nested, _, err := image.NewIndex([]image.Descriptor{otherDesc, hostDesc}, false)
	if err != nil {
		t.Fatal(err)
	}
	nd := blob(nested)
	nd.MediaType = image.MediaTypeOCIIndex
	var top []image.Descriptor
	for _, n := range []string{"a", "b"} {
		d := nd
		if ann, ok := names[n]; ok {
			d.Annotations = map[string]string{annotationRefName: ann}
			if n == "b" {
				d.Annotations = map[string]string{annotationImageName: ann, annotationRefName: "ignored"}
			}
		}
		top = append(top, d)
	}
	index, _, err := image.NewIndex(top, false)
	if err != nil {
		t.Fatal(err)
	}
	files = append([]file{{name: "blobs/", typeflag: tar.TypeDir}, {name: "blobs/sha256/", typeflag: tar.TypeDir}}, files...)
	files = append(files, file{name: "oci-layout", body: ociLayout}, file{name: "index.json", body: string(index)})
	return buildTar(t, files...), manifest, cfg, otherLayer
}

func TestLoadOCIArchiveNestedIndex(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		names map[string]string
		want  []string
	}{
		{"containerd name", map[string]string{"b": "docker.io/library/oci:1"}, []string{"oci:1"}},
		{"skopeo ref name", map[string]string{"a": "oci:2"}, []string{"oci:2"}},
		{"both", map[string]string{"a": "example.com/x/oci:3", "b": "oci:1"}, []string{"example.com/x/oci:3", "oci:1"}},
		{"bare tag", map[string]string{"a": "latest"}, nil},
		{"no name", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			arch, manifest, cfg, other := ociArchive(t, tc.names)
			loaded := load(t, s, arch)
			id := digest.FromBytes(cfg)
			if len(loaded) != 1 || loaded[0].ID != id || !slices.Equal(loaded[0].Tags, tc.want) {
				t.Fatalf("loaded %+v, want %s with %q", loaded, id, tc.want)
			}
			img, err := s.Meta.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if img.ManifestDigest != digest.FromBytes(manifest) || img.ManifestMediaType != image.MediaTypeOCIManifest {
				t.Errorf("manifest %s, want the archive's %s kept", img.ManifestDigest, digest.FromBytes(manifest))
			}
			if l := img.Layers(); len(l) != 1 || l[0].MediaType != image.MediaTypeOCILayerGzip {
				t.Errorf("layers %+v", l)
			}
			blobs := s.blobs(t)
			if slices.Contains(blobs, digest.FromBytes(other)) {
				t.Error("the other platform's layer was stored")
			}
			if len(blobs) != 3 {
				t.Errorf("%d blobs, want manifest, config and layer", len(blobs))
			}
		})
	}
}

// TestLoadTinyLayer loads a layer too small to be recognised while
// streaming (an empty file), which is scanned when an image uses it.
func TestLoadTinyLayer(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	cfg := configFor(t, "tiny", []byte{})
	items := []manifestItem{{Config: "config.json", RepoTags: []string{"tiny:1"}, Layers: []string{"empty.tar"}}}
	arch := buildTar(t, file{name: "empty.tar"}, file{name: "config.json", body: string(cfg)}, file{name: "manifest.json", body: mustJSON(t, items)})
	loaded := load(t, s, arch)
	if len(loaded) != 1 || loaded[0].ID != digest.FromBytes(cfg) {
		t.Fatalf("loaded %+v", loaded)
	}
	info, err := s.Content.Info(digest.FromBytes(nil))
	if err != nil || info.Size != 0 {
		t.Errorf("empty layer blob: %+v, %v", info, err)
	}
}

func TestLoadIgnoresUnusedHostileLayer(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	evil := buildTar(t, file{name: "../evil", body: "x"})
	arch, cfg := legacyArchive(t, file{name: "unused/layer.tar", body: string(evil)})
	loaded := load(t, s, arch)
	if len(loaded) != 1 || loaded[0].ID != digest.FromBytes(cfg) {
		t.Fatalf("loaded %+v", loaded)
	}
	if slices.Contains(s.blobs(t), digest.FromBytes(evil)) {
		t.Error("the unused layer was stored")
	}
}
