package imagearchive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
)

// fixture is a store with three images: two tagged ones sharing a base
// layer (with a gzip and a zstd top layer) and an untagged one.
type fixture struct {
	s                  *testStore
	busybox, app, anon metadata.Image
}

func newFixture(t testing.TB) *fixture {
	s := newStore(t)
	base := layerTar(t, "base")
	return &fixture{
		s:       s,
		busybox: addImage(t, s, "busybox", []string{"busybox:latest", "busybox:1.36"}, base, gzipBytes(t, layerTar(t, "top"))),
		app:     addImage(t, s, "app", []string{"example.com:5000/team/app:v1"}, base, zstdBytes(t, layerTar(t, "app"))),
		anon:    addImage(t, s, "anon", nil, layerTar(t, "anon")),
	}
}

func save(t testing.TB, s *testStore, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Save(context.Background(), s.Store, &buf, names); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSaveLayout(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	out := save(t, fx.s, "busybox:latest", "example.com:5000/team/app:v1", fx.anon.ID.String()[7:19])
	hdrs, bodies := readTar(t, out)

	for _, h := range hdrs {
		if h.ModTime.Unix() != 0 || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: mtime %v uid %d gid %d, want epoch and 0", h.Name, h.ModTime, h.Uid, h.Gid)
		}
		want := int64(0o644)
		if h.Typeflag == tar.TypeDir {
			want = 0o755
		}
		if h.Mode != want {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, want)
		}
	}
	if got := string(bodies["oci-layout"]); got != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %s", got)
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if _, ok := bodies[dir]; !ok {
			t.Errorf("no directory entry %s", dir)
		}
	}
	// Every blob of the three images, each once (readTar fails on duplicates).
	want := map[string]bool{}
	for _, img := range []metadata.Image{fx.busybox, fx.app, fx.anon} {
		for _, b := range img.Blobs {
			want[blobPath(b.Digest)] = true
			body, ok := bodies[blobPath(b.Digest)]
			if !ok {
				t.Fatalf("blob %s (%s) missing", b.Digest, b.Kind)
			}
			if digest.FromBytes(body) != b.Digest {
				t.Errorf("blob %s has wrong content", b.Digest)
			}
		}
	}
	for name := range bodies {
		if _, ok := blobDigest(name); ok && !want[name] {
			t.Errorf("unexpected blob %s", name)
		}
	}

	var items []manifestItem
	if err := json.Unmarshal(bodies["manifest.json"], &items); err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 {
		t.Fatalf("manifest.json has %d items, want 3", len(items))
	}
	wantTags := [][]string{{"busybox:latest"}, {"example.com:5000/team/app:v1"}, nil}
	for i, img := range []metadata.Image{fx.busybox, fx.app, fx.anon} {
		if items[i].Config != blobPath(img.ID) {
			t.Errorf("item %d config %s, want %s", i, items[i].Config, blobPath(img.ID))
		}
		if !slices.Equal(items[i].RepoTags, wantTags[i]) {
			t.Errorf("item %d RepoTags %q, want %q", i, items[i].RepoTags, wantTags[i])
		}
		var layers []string
		for _, l := range img.Layers() {
			layers = append(layers, blobPath(l.Digest))
		}
		if !slices.Equal(items[i].Layers, layers) {
			t.Errorf("item %d layers %q, want %q", i, items[i].Layers, layers)
		}
	}
	if !bytes.Contains(bodies["manifest.json"], []byte(`"RepoTags":null`)) {
		t.Errorf("an image saved by ID should have null RepoTags: %s", bodies["manifest.json"])
	}

	idx, err := image.ParseIndex(bodies["index.json"])
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range idx.Manifests {
		names = append(names, d.Annotations[annotationImageName]+"|"+d.Annotations[annotationRefName])
	}
	wantNames := []string{"docker.io/library/busybox:latest|latest", "example.com:5000/team/app:v1|v1", "|"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("index names %q, want %q", names, wantNames)
	}
	man, _ := fx.busybox.Blob(metadata.KindManifest)
	if d := idx.Manifests[0]; d.Digest != man.Digest || d.Size != man.Size || d.MediaType != fx.busybox.ManifestMediaType {
		t.Errorf("index entry %+v does not describe manifest %s", d, man.Digest)
	}

	var repos map[string]map[string]string
	if err := json.Unmarshal(bodies["repositories"], &repos); err != nil {
		t.Fatal(err)
	}
	top := fx.busybox.Layers()[1].Digest.Encoded()
	if repos["busybox"]["latest"] != top || len(repos) != 2 {
		t.Errorf("repositories = %v, want busybox:latest -> %s and the app", repos, top)
	}

	if again := save(t, fx.s, "busybox:latest", "example.com:5000/team/app:v1", fx.anon.ID.String()[7:19]); !bytes.Equal(out, again) {
		t.Error("saving the same images twice gave different archives")
	}
}

func TestSaveRepositoryNameSavesAllTags(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	_, bodies := readTar(t, save(t, fx.s, "busybox", "busybox:latest"))
	var items []manifestItem
	if err := json.Unmarshal(bodies["manifest.json"], &items); err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 {
		t.Fatalf("got %d images, want 1", len(items))
	}
	tags := items[0].RepoTags
	sort.Strings(tags)
	if !slices.Equal(tags, []string{"busybox:1.36", "busybox:latest"}) {
		t.Errorf("RepoTags = %q", tags)
	}
}

func TestSaveUnknownImage(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	err := Save(context.Background(), fx.s.Store, &bytes.Buffer{}, []string{"busybox:latest", "nope:1"})
	if !errdefs.IsNotFound(err) || err.Error() != "No such image: nope:1" {
		t.Fatalf("err = %v, want not found", err)
	}
}

// TestSaveToFile checks the copy_file_range path into a real file.
func TestSaveToFile(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	want := save(t, fx.s, "busybox:latest")
	path := filepath.Join(t.TempDir(), "saved.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	err = Save(context.Background(), fx.s.Store, f, []string{"busybox:latest"})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("archive written to a file differs from the one written to a buffer")
	}
}
