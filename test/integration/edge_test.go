package integration

import (
	"archive/tar"
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// TestImportAcceptsOrdinaryLayers: what real root filesystems hold must
// not be mistaken for an attack.
func TestImportAcceptsOrdinaryLayers(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("d", 120) + "/" + strings.Repeat("f", 150)
	for _, tc := range []struct {
		name    string
		entries []tarEntry
	}{
		{"empty tar", nil},
		{"root dir entry", []tarEntry{dir("./"), file("./etc/hosts", "127.0.0.1 localhost\n")}},
		{"absolute symlink target", []tarEntry{dir("etc/"), symlink("etc/localtime", "/usr/share/zoneinfo/UTC"), symlink("etc/mtab", "../proc/self/mounts")}},
		{"hard link inside", []tarEntry{dir("bin/"), file("bin/busybox", "binary"), {name: "bin/sh", typ: tar.TypeLink, linkname: "bin/busybox"}}},
		{"whiteouts", []tarEntry{dir("etc/"), file("etc/.wh.removed", ""), dir("var/"), file("var/.wh..wh..opq", "")}},
		{"fifo", []tarEntry{dir("run/"), {name: "run/fifo", typ: tar.TypeFifo}}},
		{"long and non-ASCII names", []tarEntry{file(long, "x"), file("ünïcødé/ファイル", "y")}},
		{"dots in names", []tarEntry{file("..hidden", "x"), file("a..b", "y"), file("etc/.../z", "z")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			layer := tarball(t, tc.entries...)
			r := s.exec(bytes.NewReader(layer), "import", "-", "ok:1")
			if r.Code != 0 {
				t.Fatalf("refused: %s", r)
			}
			got := s.ok("inspect", "-f", "{{index .RootFS.Layers 0}} {{.Size}}", "ok:1")
			wantLines(t, "inspect", got, sha(layer)+" "+strconv.Itoa(len(layer)))
			s.checkClean()
		})
	}
}

// TestLoadOtherLayouts: an OCI-only archive (no manifest.json) and a
// Docker archive with gzip layers load to the image they describe.
func TestLoadOtherLayouts(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	id := s.importTar(rootfs(t, "layouts", 5000), "lay:1")
	files := untar(t, []byte(s.ok("save", "lay:1")))
	var entries []archiveFile
	for name, data := range files {
		if name != "manifest.json" && name != "repositories" {
			entries = append(entries, archiveFile{name, data})
		}
	}
	o := newSandbox(t)
	wantLines(t, "oci only", o.okIn(bytes.NewReader(archiveTar(t, entries...)), "load"), "Loaded image: lay:1")
	wantLines(t, "oci ID", o.ok("images", "-q", "--no-trunc"), id)
	o.checkClean()

	layer := rootfs(t, "gz", 9000)
	spec := imgSpec{layers: [][]byte{layer}, tags: []string{"gz:1"}}
	cfg := spec.config()
	manifest := []manifestItem{{Config: "config.json", RepoTags: []string{"gz:1"}, Layers: []string{"layer.tar.gz"}}}
	archive := archiveTar(t, archiveFile{"config.json", cfg}, archiveFile{"layer.tar.gz", gzipBytes(t, layer)},
		archiveFile{"manifest.json", []byte(mustJSON(manifest))})
	g := newSandbox(t)
	wantLines(t, "gzip layers", g.okIn(bytes.NewReader(archive), "load"), "Loaded image: gz:1")
	wantLines(t, "gzip ID", g.ok("inspect", "-f", "{{.Id}} {{index .RootFS.Layers 0}} {{.Size}}", "gz:1"),
		sha(cfg)+" "+sha(layer)+" "+strconv.Itoa(len(layer)))
	g.checkClean()
	// Saved again, it loads elsewhere as the same image.
	back := newSandbox(t)
	back.okIn(strings.NewReader(g.ok("save", "gz:1")), "load")
	wantLines(t, "resaved", back.ok("images", "-q", "--no-trunc"), sha(cfg))
}

// TestLoadRepeatedLayer: an image may list the same layer twice (two
// identical steps); it loads, saves and removes like any other.
func TestLoadRepeatedLayer(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	l := rootfs(t, "twice", 300)
	spec := imgSpec{layers: [][]byte{l, rootfs(t, "mid", 10), l}, tags: []string{"twice:1"}}
	wantLines(t, "load", s.load(dockerArchive(t, spec)), "Loaded image: twice:1")
	got := s.ok("inspect", "-f", "{{.Id}} {{len .RootFS.Layers}} {{.Size}}", "twice:1")
	wantLines(t, "inspect", got, sha(spec.config())+" 3 "+strconv.Itoa(2*len(l)+len(spec.layers[1])))
	s.checkClean()
	o := newSandbox(t)
	wantLines(t, "reload", o.load([]byte(s.ok("save", "twice:1"))), "Loaded image: twice:1")
	wantLines(t, "rmi", s.ok("rmi", "twice:1"), "Untagged: twice:1", "Deleted: "+sha(spec.config()))
	if n := s.blobBytes(); n != 0 {
		t.Fatalf("%d bytes of blobs left", n)
	}
	s.checkClean()
}
