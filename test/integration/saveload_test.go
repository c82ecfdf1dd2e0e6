package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// twoImages imports two images sharing a layer: a:1 (also a:2) and b:1.
func twoImages(t *testing.T, s *sandbox) (a, b string, shared []byte) {
	t.Helper()
	shared = rootfs(t, "shared", 30000)
	a = s.importTar(shared, "a:1", "-c", "ENV WHO=a")
	s.ok("tag", "a:1", "a:2")
	b = s.importTar(shared, "b:1", "-c", "ENV WHO=b")
	return a, b, shared
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	a, b, shared := twoImages(t, s)
	digestA := s.manifestDigest("a:1")
	path := filepath.Join(s.dir, "images.tar")
	wantLines(t, "save -o", s.ok("save", "-o", path, "a:1", "a:2", "b:1"))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	files := untar(t, data)
	// Docker's and OCI's indexes side by side; the shared layer once.
	for _, name := range []string{"manifest.json", "index.json", "oci-layout", "repositories"} {
		if files[name] == nil {
			t.Fatalf("archive lacks %s: %v", name, keys(files))
		}
	}
	var manifest []manifestItem
	jsonOf(t, string(files["manifest.json"]), &manifest)
	if len(manifest) != 2 {
		t.Fatalf("manifest.json: %s", files["manifest.json"])
	}
	layerName := "blobs/sha256/" + strings.TrimPrefix(sha(shared), "sha256:")
	for _, m := range manifest {
		if !slices.Equal(m.Layers, []string{layerName}) {
			t.Fatalf("manifest layers %q, want %q", m.Layers, layerName)
		}
	}
	if n := len(files); n != 4+2+2+1 { // 4 index files, 2 configs, 2 manifests, 1 layer
		t.Fatalf("archive has %d files: %v", n, keys(files))
	}

	// -i, and stdin; plain, gzip and zstd.
	for _, tc := range []struct {
		name string
		data func(t *testing.T) []byte
	}{
		{"plain", func(*testing.T) []byte { return data }},
		{"gzip", func(t *testing.T) []byte { return gzipBytes(t, data) }},
		{"zstd", func(t *testing.T) []byte { return compressWith(t, "zstd", data) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, via := range []string{"-i", "stdin", "-q"} {
				o := newSandbox(t)
				archive := tc.data(t)
				var out string
				switch via {
				case "-i":
					out = o.ok("load", "-i", o.write("in.tar", archive))
				case "-q":
					out = o.okIn(bytes.NewReader(archive), "load", "-q")
				default:
					out = o.okIn(bytes.NewReader(archive), "image", "load")
				}
				wantLines(t, "load "+via, out, "Loaded image: a:1", "Loaded image: a:2", "Loaded image: b:1")
				got := o.ok("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
				wantLines(t, "images", got, "b:1 "+b, "a:1 "+a, "a:2 "+a)
				wantLines(t, "manifest digest kept", o.ok("inspect", "-f", "{{.Id}}", "a@"+digestA), a)
				o.checkClean()
			}
		})
	}
}

func TestSaveStdoutAndByID(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	a, b, _ := twoImages(t, s)
	// By ID: no names travel, load reports the ID.
	archive := s.ok("save", a)
	o := newSandbox(t)
	wantLines(t, "load by ID", o.okIn(strings.NewReader(archive), "load"), "Loaded image ID: "+a)
	wantLines(t, "dangling", o.ok("images", "--format", "{{.Repository}}:{{.Tag}}"), "<none>:<none>")

	// image save, to stdout, two images; loading it again into a store that
	// has them is a no-op.
	archive = s.ok("image", "save", "b:1", "a:2")
	wantLines(t, "reload", s.okIn(strings.NewReader(archive), "load"), "Loaded image: b:1", "Loaded image: a:2")
	wantLines(t, "same images", s.ok("images", "-q", "--no-trunc"), b, a)
	o.okIn(strings.NewReader(archive), "load")
	wantLines(t, "named now", o.ok("images", "--format", "{{.Repository}}:{{.Tag}}"), "b:1", "a:2")
}

func TestSaveErrors(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.importTar(rootfs(t, "x", 10), "x:1")
	out := filepath.Join(s.dir, "out.tar")
	r := s.fail(1, "save", "-o", out, "x:1", "nosuch")
	wantContains(t, "missing image", r.Stderr, "Error: ", "nosuch")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("failed save left %s", out)
	}
	if ents, _ := os.ReadDir(s.dir); len(ents) != 0 {
		t.Fatalf("failed save left files: %v", ents)
	}
	s.fail(1, "save", "-o", filepath.Join(s.dir, "no", "such", "dir.tar"), "x:1")
	s.fail(1, "save")

	// A blob gone from the store: the error names it and no archive is left.
	layer := strings.TrimSpace(s.ok("inspect", "-f", "{{index .RootFS.Layers 0}}", "x:1"))
	if err := os.Remove(filepath.Join(s.root, "content", "blobs", "sha256", strings.TrimPrefix(layer, "sha256:"))); err != nil {
		t.Fatal(err)
	}
	r = s.fail(1, "save", "-o", out, "x:1")
	wantContains(t, "missing blob", r.Stderr, "Error: ", layer)
	if ents, _ := os.ReadDir(s.dir); len(ents) != 0 {
		t.Fatalf("failed save left files: %v", ents)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	for name, data := range map[string][]byte{
		"empty":    nil,
		"text":     []byte("not an archive"),
		"no index": tarball(t, file("hello.txt", "hi")),
		"bad json": tarball(t, file("manifest.json", "{nope")),
		"no image": tarball(t, file("manifest.json", "[]")),
	} {
		r := s.failIn(bytes.NewReader(data), 1, "load")
		wantContains(t, name, r.Stderr, "Error: ")
	}
	r := s.fail(1, "load", "-i", filepath.Join(s.dir, "nosuch.tar"))
	wantContains(t, "missing file", r.Stderr, "Error: ", "nosuch.tar")
	s.fail(1, "load", "extra")
	wantLines(t, "images", s.ok("images", "-a", "-q"))
	s.checkClean()
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
