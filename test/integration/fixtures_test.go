package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"
)

// tarEntry is one member of a generated tarball.
type tarEntry struct {
	name     string
	typ      byte // tar.TypeReg when 0
	body     string
	linkname string
	mode     int64
}

func file(name, body string) tarEntry { return tarEntry{name: name, body: body} }
func dir(name string) tarEntry        { return tarEntry{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, target string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeSymlink, linkname: target}
}

// fixedTime keeps generated tarballs byte-identical between calls.
var fixedTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// tarball writes entries as a tar stream, without checking them.
func tarball(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.linkname, Mode: e.mode,
			Size: int64(len(e.body)), ModTime: fixedTime, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock {
			h.Devmajor, h.Devminor = 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rootfs is a small distinct root filesystem: seed goes into /etc/seed and
// payload bytes of filler into /data/blob.
func rootfs(t testing.TB, seed string, payload int) []byte {
	t.Helper()
	return tarball(t, dir("etc/"), file("etc/seed", seed+"\n"), dir("data/"),
		file("data/blob", strings.Repeat(seed[:1], payload)))
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compressWith pipes data through tool -c (xz, bzip2, zstd, gzip); the
// test is skipped when the tool is missing.
func compressWith(t testing.TB, tool string, data []byte) []byte {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not installed", tool)
	}
	args := []string{"-c"}
	if tool == "zstd" {
		args = append(args, "-q")
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin = bytes.NewReader(data)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v: %s", tool, err, errb.String())
	}
	return out.Bytes()
}

func sha(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// humanSize is go-units' HumanSizeWithPrecision: decimal units, precision
// significant digits ("2.13MB" with 3, "2.134MB" with 4).
func humanSize(size int64, precision int) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f := float64(size)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return strconv.FormatFloat(f, 'g', precision, 64) + units[i]
}

// histEntry is one history entry of a hand-made image config.
type histEntry struct {
	Created    string `json:"created,omitempty"`
	CreatedBy  string `json:"created_by,omitempty"`
	Comment    string `json:"comment,omitempty"`
	EmptyLayer bool   `json:"empty_layer,omitempty"`
}

// imgSpec describes one image of a hand-made Docker archive.
type imgSpec struct {
	created time.Time
	labels  map[string]string
	layers  [][]byte // uncompressed layer tarballs
	history []histEntry
	tags    []string
	author  string
	diffIDs []string // overrides the computed diff IDs
}

// config returns the image config JSON of spec.
func (spec imgSpec) config() []byte {
	diffIDs := spec.diffIDs
	if diffIDs == nil {
		diffIDs = []string{}
		for _, l := range spec.layers {
			diffIDs = append(diffIDs, sha(l))
		}
	}
	created := spec.created
	if created.IsZero() {
		created = fixedTime
	}
	hist := spec.history
	if hist == nil {
		for range spec.layers {
			hist = append(hist, histEntry{Created: created.Format(time.RFC3339Nano), CreatedBy: "/bin/sh -c #(nop) ADD file in / "})
		}
	}
	cfg := map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      created.Format(time.RFC3339Nano),
		"config":       map[string]any{"Env": []string{"PATH=/bin"}, "Cmd": []string{"/bin/sh"}, "Labels": spec.labels},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history":      hist,
	}
	if spec.author != "" {
		cfg["author"] = spec.author
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(err)
	}
	return b
}

// archiveFile is one member of a hand-made image archive.
type archiveFile struct {
	name string
	data []byte
}

// dockerArchive builds a classic `docker save` archive of specs:
// <hex>.json configs, <hex>/layer.tar layers, manifest.json.
func dockerArchive(t testing.TB, specs ...imgSpec) []byte {
	t.Helper()
	files, manifest := dockerArchiveFiles(specs...)
	b, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	return archiveTar(t, append(files, archiveFile{"manifest.json", b})...)
}

// manifestItem is one entry of manifest.json.
type manifestItem struct {
	Config   string
	RepoTags []string
	Layers   []string
	Parent   string `json:",omitempty"`
}

func dockerArchiveFiles(specs ...imgSpec) ([]archiveFile, []manifestItem) {
	var files []archiveFile
	var items []manifestItem
	seen := map[string]bool{}
	for _, spec := range specs {
		cfg := spec.config()
		cfgName := strings.TrimPrefix(sha(cfg), "sha256:") + ".json"
		files = append(files, archiveFile{cfgName, cfg})
		item := manifestItem{Config: cfgName, RepoTags: spec.tags, Layers: []string{}}
		for _, l := range spec.layers {
			name := strings.TrimPrefix(sha(l), "sha256:") + "/layer.tar"
			if !seen[name] {
				seen[name] = true
				files = append(files, archiveFile{name, l})
			}
			item.Layers = append(item.Layers, name)
		}
		items = append(items, item)
	}
	return files, items
}

// archiveTar writes files as a tar with plain file entries.
func archiveTar(t testing.TB, files ...archiveFile) []byte {
	t.Helper()
	var entries []tarEntry
	for _, f := range files {
		entries = append(entries, file(f.name, string(f.data)))
	}
	return tarball(t, entries...)
}

// dockerTime formats t as the RFC 3339 seconds Docker shows with -H=false.
func dockerTime(t time.Time) string {
	return t.Local().Format(time.RFC3339)
}

var (
	busyboxOnce sync.Once
	busyboxData []byte
	busyboxErr  error
)

// busyboxRootfs is a root filesystem of Debian's static busybox: the
// binary, a few applet links and /etc/passwd. Skips without /bin/busybox.
func busyboxRootfs(t testing.TB) []byte {
	t.Helper()
	busyboxOnce.Do(func() {
		var bin []byte
		if bin, busyboxErr = os.ReadFile("/bin/busybox"); busyboxErr != nil {
			return
		}
		entries := []tarEntry{dir("bin/"), {name: "bin/busybox", body: string(bin), mode: 0o755}}
		for _, app := range []string{"sh", "ls", "cat", "echo", "true"} {
			entries = append(entries, symlink("bin/"+app, "busybox"))
		}
		entries = append(entries, dir("etc/"), file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"), dir("tmp/"))
		busyboxData = tarball(t, entries...)
	})
	if busyboxErr != nil {
		t.Skipf("no busybox: %v", busyboxErr)
	}
	return busyboxData
}

// jsonOf decodes out (one JSON document) into v.
func jsonOf(t testing.TB, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// table lays rows out as Docker's tables do (text/tabwriter, minimum width
// 10, padding 3).
func table(rows ...[]string) string {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 10, 1, 3, ' ', 0)
	for _, r := range rows {
		tw.Write([]byte(strings.Join(r, "\t") + "\n"))
	}
	tw.Flush()
	return buf.String()
}

// ago is go-units' HumanDuration of now-t plus " ago", the CREATED column.
func ago(t time.Time) string {
	d := time.Since(t)
	seconds := int(d.Seconds())
	minutes := int(d.Minutes())
	hours := int(d.Hours() + 0.5)
	var s string
	switch {
	case seconds < 1:
		s = "Less than a second"
	case seconds == 1:
		s = "1 second"
	case seconds < 60:
		s = fmt.Sprintf("%d seconds", seconds)
	case minutes == 1:
		s = "About a minute"
	case minutes < 60:
		s = fmt.Sprintf("%d minutes", minutes)
	case hours == 1:
		s = "About an hour"
	case hours < 48:
		s = fmt.Sprintf("%d hours", hours)
	case hours < 24*7*2:
		s = fmt.Sprintf("%d days", hours/24)
	case hours < 24*30*2:
		s = fmt.Sprintf("%d weeks", hours/24/7)
	case hours < 24*365*2:
		s = fmt.Sprintf("%d months", hours/24/30)
	default:
		s = fmt.Sprintf("%d years", int(d.Hours())/24/365)
	}
	return s + " ago"
}

// untar reads the regular files of a tar stream.
func untar(t testing.TB, data []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("read archive: %v", err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = b
		}
	}
}

// manifestDigest saves name and returns the digest of its manifest, from
// the archive's index.json.
func (s *sandbox) manifestDigest(name string) string {
	s.t.Helper()
	files := untar(s.t, []byte(s.ok("save", name)))
	var idx struct{ Manifests []struct{ Digest string } }
	jsonOf(s.t, string(files["index.json"]), &idx)
	if len(idx.Manifests) == 0 {
		s.t.Fatalf("index.json lists no manifest: %s", files["index.json"])
	}
	return idx.Manifests[0].Digest
}
