package integration

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// hostileCase is one archive strata must refuse. The sandbox's base holds
// work/ (strata's working directory), root/ and sentinel/, so a path such
// as ../sentinel/pwned escapes both the working directory and the root.
type hostileCase struct {
	name    string
	data    func(t *testing.T, s *sandbox) []byte // the layer (import) or archive (load)
	want    string                                // in stderr: names the entry or file
	escapes []string                              // paths, relative to the sandbox base, that must not appear
	args    []string                              // extra global flags
	env     []string
	// importOnly: load refuses xz and bzip2 layers before any size check.
	importOnly bool
}

// hostileLayers are layer contents refused by both import and load.
func hostileLayers(t *testing.T) []hostileCase {
	bombTar := tarball(t, file("bomb", strings.Repeat("\x00", 11<<20)))
	bomb := gzipBytes(t, bombTar)
	if len(bomb) > 100<<10 {
		t.Fatalf("bomb fixture is %d bytes compressed", len(bomb))
	}
	good := gzipBytes(t, rootfs(t, "trunc", 200000))
	return []hostileCase{
		{name: "dotdot", want: `"../sentinel/pwned"`, escapes: []string{"sentinel/pwned"},
			data: layerOf(file("etc/ok", "x"), file("../sentinel/pwned", "gotcha"))},
		{name: "deep dotdot", want: `"a/../../../sentinel/pwned"`, escapes: []string{"sentinel/pwned"},
			data: layerOf(dir("a/"), file("a/../../../sentinel/pwned", "gotcha"))},
		{name: "absolute", want: "pwned-abs",
			data: func(t *testing.T, s *sandbox) []byte {
				return tarball(t, file(filepath.Join(s.base, "sentinel", "pwned-abs"), "gotcha"))
			}, escapes: []string{"sentinel/pwned-abs"}},
		{name: "symlink then write", want: `"link/pwned"`, escapes: []string{"sentinel/pwned"},
			data: layerOf(symlink("link", "../../sentinel"), file("link/pwned", "gotcha"))},
		{name: "absolute symlink then write", want: `"etc/link/pwned"`, escapes: []string{"sentinel/pwned"},
			data: func(t *testing.T, s *sandbox) []byte {
				return tarball(t, dir("etc/"), symlink("etc/link", filepath.Join(s.base, "sentinel")), file("etc/link/pwned", "gotcha"))
			}},
		{name: "hard link out", want: `"hl"`,
			data: layerOf(tarEntry{name: "hl", typ: tar.TypeLink, linkname: "../../sentinel/target"})},
		{name: "absolute hard link", want: `"passwd"`,
			data: layerOf(tarEntry{name: "passwd", typ: tar.TypeLink, linkname: "/etc/passwd"})},
		{name: "char device", want: `"dev/mem"`, escapes: []string{"sentinel/mem"},
			data: layerOf(dir("dev/"), tarEntry{name: "dev/mem", typ: tar.TypeChar})},
		{name: "block device", want: `"dev/sda"`,
			data: layerOf(dir("dev/"), tarEntry{name: "dev/sda", typ: tar.TypeBlock})},
		{name: "hard link through symlink", want: `"hl"`,
			data: layerOf(symlink("ln", "/etc"), tarEntry{name: "hl", typ: tar.TypeLink, linkname: "ln/passwd"})},
		{name: "pax path", want: `"../sentinel/pwned"`, escapes: []string{"sentinel/pwned"},
			data: func(t *testing.T, _ *sandbox) []byte { return paxPathTar(t, "../sentinel/pwned") }},
		{name: "truncated gzip", want: "truncated",
			data: func(*testing.T, *sandbox) []byte { return good[:len(good)/2] }},
		{name: "bomb flag", want: "limit", args: []string{"--layer-size-limit", "10MiB"},
			data: func(*testing.T, *sandbox) []byte { return bomb }},
		{name: "bomb env", want: "limit", env: []string{"STRATA_LAYER_SIZE_LIMIT=10MiB"},
			data: func(*testing.T, *sandbox) []byte { return bomb }},
		{name: "xz bomb", want: "limit", args: []string{"--layer-size-limit", "10MiB"}, importOnly: true,
			data: func(t *testing.T, _ *sandbox) []byte { return compressWith(t, "xz", bombTar) }},
		{name: "bzip2 bomb", want: "limit", args: []string{"--layer-size-limit", "10m"}, importOnly: true,
			data: func(t *testing.T, _ *sandbox) []byte { return compressWith(t, "bzip2", bombTar) }},
		{name: "zstd bomb", want: "limit", env: []string{"STRATA_LAYER_SIZE_LIMIT=10485760"},
			data: func(t *testing.T, _ *sandbox) []byte { return compressWith(t, "zstd", bombTar) }},
	}
}

// paxPathTar is a tar whose ustar name is harmless but whose PAX path
// record, which readers apply, is name. Go's tar.Writer drops such
// records, so the extended header is a plain entry patched into type 'x'.
func paxPathTar(t *testing.T, name string) []byte {
	t.Helper()
	rec := " path=" + name + "\n"
	for n := len(rec); ; n++ { // the length counts its own digits
		if l := strconv.Itoa(n) + rec; len(l) == n {
			rec = l
			break
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range []struct{ name, body string }{{"PaxHeaders/harmless", rec}, {"harmless", "x"}} {
		h := &tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.body)), Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	b := buf.Bytes()
	b[156] = tar.TypeXHeader
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	hdr, err := tar.NewReader(bytes.NewReader(b)).Next()
	if err != nil || hdr.Name != name {
		t.Fatalf("pax fixture reads as %v, %v", hdr, err)
	}
	return b
}

func layerOf(entries ...tarEntry) func(*testing.T, *sandbox) []byte {
	return func(t *testing.T, _ *sandbox) []byte { return tarball(t, entries...) }
}

// refused runs strata with the hostile input and checks the aftermath: a
// clear error, nothing outside the root, nothing left in the store, and a
// store that still works.
func refused(t *testing.T, s *sandbox, c hostileCase, input []byte, args ...string) {
	t.Helper()
	sentinel := filepath.Join(s.base, "sentinel")
	if err := os.MkdirAll(sentinel, 0o755); err != nil {
		t.Fatal(err)
	}
	s.env = c.env
	r := s.failIn(bytes.NewReader(input), 1, append(c.args, args...)...)
	s.env = nil
	if !strings.HasPrefix(r.Stderr, "Error: ") || !strings.Contains(r.Stderr, c.want) {
		t.Fatalf("stderr %q does not name %q", r.Stderr, c.want)
	}
	if ents, err := os.ReadDir(sentinel); err != nil || len(ents) != 0 {
		t.Fatalf("sentinel dir: %v %v", ents, err)
	}
	for _, p := range c.escapes {
		if _, err := os.Lstat(filepath.Join(s.base, p)); !os.IsNotExist(err) {
			t.Fatalf("%s exists after the refused input (%v)", p, err)
		}
	}
	if ents, _ := os.ReadDir(s.base); len(ents) != 3 { // work, root, sentinel
		t.Fatalf("the sandbox base holds %d entries: %v", len(ents), ents)
	}
	wantLines(t, "images", s.ok("images", "-a", "-q"))
	if n := s.blobBytes(); n != 0 {
		t.Fatalf("%d bytes of blobs left behind", n)
	}
	s.checkClean()
	id := s.importTar(rootfs(t, "good", 100), "good:1")
	wantLines(t, "good import", s.ok("images", "-q", "--no-trunc"), id)
}

func TestHostileImport(t *testing.T) {
	t.Parallel()
	for _, c := range hostileLayers(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			refused(t, s, c, c.data(t, s), "import", "-", "evil:1")
		})
	}
}

func TestHostileLoadLayer(t *testing.T) {
	t.Parallel()
	for _, c := range hostileLayers(t) {
		if c.importOnly {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			// A good image first in the archive: it must not be stored either.
			ok := imgSpec{layers: [][]byte{rootfs(t, "fine", 100)}, tags: []string{"fine:1"}}
			bad := imgSpec{layers: [][]byte{c.data(t, s)}, tags: []string{"evil:1"}}
			refused(t, s, c, dockerArchive(t, ok, bad), "load")
		})
	}
}

// TestHostileArchive: the archive itself, not a layer, is hostile.
func TestHostileArchive(t *testing.T) {
	t.Parallel()
	layer := rootfs(t, "l", 100)
	spec := imgSpec{layers: [][]byte{layer}, tags: []string{"evil:1"}}
	cfg := spec.config()
	cfgName := strings.TrimPrefix(sha(cfg), "sha256:") + ".json"
	layerName := strings.TrimPrefix(sha(layer), "sha256:") + "/layer.tar"
	withManifest := func(items ...manifestItem) func(*testing.T, *sandbox) []byte {
		return func(t *testing.T, _ *sandbox) []byte {
			return archiveTar(t, archiveFile{cfgName, cfg}, archiveFile{layerName, layer},
				archiveFile{"manifest.json", []byte(mustJSON(items))})
		}
	}
	outside := func(t *testing.T, s *sandbox) string {
		// A real file outside the archive, which must not be read.
		p := filepath.Join(s.dir, "outside.json")
		if err := os.WriteFile(p, cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	wrongDiff := spec
	wrongDiff.diffIDs = []string{sha([]byte("something else"))}
	wrongCfg := wrongDiff.config()
	for _, c := range []hostileCase{
		{name: "config outside", want: "../work/outside.json", data: func(t *testing.T, s *sandbox) []byte {
			outside(t, s)
			return withManifest(manifestItem{Config: "../work/outside.json", RepoTags: []string{"evil:1"}, Layers: []string{layerName}})(t, s)
		}},
		{name: "absolute config", want: "outside.json", data: func(t *testing.T, s *sandbox) []byte {
			return withManifest(manifestItem{Config: outside(t, s), RepoTags: []string{"evil:1"}, Layers: []string{layerName}})(t, s)
		}},
		{name: "layer outside", want: "../../etc/passwd",
			data: withManifest(manifestItem{Config: cfgName, RepoTags: []string{"evil:1"}, Layers: []string{"../../etc/passwd"}})},
		{name: "layer absent", want: "nosuch/layer.tar",
			data: withManifest(manifestItem{Config: cfgName, RepoTags: []string{"evil:1"}, Layers: []string{"nosuch/layer.tar"}})},
		{name: "diff id mismatch", want: layerName, data: func(t *testing.T, _ *sandbox) []byte {
			n := strings.TrimPrefix(sha(wrongCfg), "sha256:") + ".json"
			return archiveTar(t, archiveFile{n, wrongCfg}, archiveFile{layerName, layer},
				archiveFile{"manifest.json", []byte(mustJSON([]manifestItem{{Config: n, RepoTags: []string{"evil:1"}, Layers: []string{layerName}}}))})
		}},
		{name: "dotdot entry", want: `"../sentinel/pwned"`, escapes: []string{"sentinel/pwned"}, data: func(t *testing.T, _ *sandbox) []byte {
			return tarball(t, file("../sentinel/pwned", "x"), file(cfgName, string(cfg)), file(layerName, string(layer)),
				file("manifest.json", mustJSON([]manifestItem{{Config: cfgName, RepoTags: []string{"evil:1"}, Layers: []string{layerName}}})))
		}},
		{name: "symlinked layer", want: layerName, escapes: []string{"sentinel/pwned"}, data: func(t *testing.T, _ *sandbox) []byte {
			// The layer path is a symlink to a file outside the archive.
			return tarball(t, file(cfgName, string(cfg)), dir(strings.TrimSuffix(layerName, "layer.tar")),
				symlink(layerName, "../../../../etc/passwd"),
				file("manifest.json", mustJSON([]manifestItem{{Config: cfgName, RepoTags: []string{"evil:1"}, Layers: []string{layerName}}})))
		}},
		{name: "hard link layer", want: layerName, data: func(t *testing.T, _ *sandbox) []byte {
			// The outer archive's layer entry is a hard link to a file outside.
			return tarball(t, file(cfgName, string(cfg)), tarEntry{name: layerName, typ: tar.TypeLink, linkname: "../../etc/passwd"},
				file("manifest.json", mustJSON([]manifestItem{{Config: cfgName, RepoTags: []string{"evil:1"}, Layers: []string{layerName}}})))
		}},
		{name: "huge manifest", want: `"manifest.json"`, data: func(t *testing.T, _ *sandbox) []byte {
			return gzipBytes(t, tarball(t, file("manifest.json", "["+strings.Repeat(" ", 20<<20)+"]")))
		}},
		{name: "bomb in gzipped archive", want: "limit", args: []string{"--layer-size-limit", "10MiB"}, data: func(t *testing.T, _ *sandbox) []byte {
			big := tarball(t, file("zeros", strings.Repeat("\x00", 11<<20)))
			return gzipBytes(t, dockerArchive(t, imgSpec{layers: [][]byte{big}, tags: []string{"evil:1"}}))
		}},
		{name: "bad tag", want: "UPPER", data: withManifest(manifestItem{Config: cfgName, RepoTags: []string{"UPPER:case"}, Layers: []string{layerName}})},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			refused(t, s, c, c.data(t, s), "load")
		})
	}
}
