package registry

import (
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// tinyLayer is a one-file layer with content seeded by seed.
func tinyLayer(t *testing.T, seed uint64) blob {
	t.Helper()
	return bytesBlob(tarLayer(t, map[string][]byte{fmt.Sprintf("f%d", seed): randomBytes(seed, 1024)}))
}

func TestSearch(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "", registryOpts{})
	for i, repo := range []string{"search/alpha", "search/beta", "other/alphabet", "gamma"} {
		pushImage(t, reg.url(), repo, "latest", []blob{tinyLayer(t, uint64(40+i))})
	}
	s := newSandbox(t)
	host := reg.addr

	table := testbin.Lines(s.ok("search", host+"/alpha"))
	if len(table) != 3 {
		t.Fatalf("search alpha: want a header and 2 rows, got:\n%s", strings.Join(table, "\n"))
	}
	if got := strings.Fields(table[0]); !slices.Equal(got, []string{"NAME", "DESCRIPTION", "STARS", "OFFICIAL", "AUTOMATED"}) {
		t.Errorf("search header %q", table[0])
	}
	var names []string
	for _, row := range table[1:] {
		f := strings.Fields(row)
		if len(f) != 2 || f[1] != "0" {
			t.Errorf("search row %q, want NAME and 0 stars", row)
		}
		names = append(names, f[0])
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"other/alphabet", "search/alpha"}) {
		t.Errorf("search alpha found %v", names)
	}
	// The columns line up under the header.
	col := strings.Index(table[0], "STARS")
	for _, row := range table[1:] {
		if len(row) <= col || row[col] != '0' {
			t.Errorf("row %q: STARS column is not at %d", row, col)
		}
	}

	if got := testbin.Lines(s.ok("search", "--format", "{{.Name}}", host+"/search")); !slices.Equal(sorted(got), []string{"search/alpha", "search/beta"}) {
		t.Errorf("search --format {{.Name}} search: %v", got)
	}
	if got := testbin.Lines(s.ok("search", "--limit", "1", "--format", "{{.Name}}", host+"/a")); len(got) != 1 {
		t.Errorf("search --limit 1: %v", got)
	}
	if got := s.ok("search", "--filter", "stars=1", "--format", "{{.Name}}", host+"/alpha"); got != "" {
		t.Errorf("search --filter stars=1: %q", got)
	}
	if got := s.ok("search", "--filter", "is-official=false", "--format", "{{.Name}}:{{.StarCount}}:{{.IsOfficial}}", host+"/gamma"); got != "gamma:0:false\n" {
		t.Errorf("search --filter is-official=false gamma: %q", got)
	}
	if got := testbin.Lines(s.ok("search", host+"/nothing-like-this")); len(got) != 1 {
		t.Errorf("search for nothing: %q, want the header only", got)
	}
	r := s.fail(1, "search", "--limit", "0", host+"/alpha")
	testbin.WantContains(t, "search --limit 0", r.Stderr, "limit 0 is outside the range of [1, 100]")
}

func sorted(l []string) []string {
	l = slices.Clone(l)
	slices.Sort(l)
	return l
}

// regGC runs `strata registry gc` and returns its output.
func regGC(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(strataBin, append([]string{"registry", "gc"}, args...)...)
	cmd.Env = testbin.Env("HOME=" + t.TempDir())
	r, err := testbin.Capture(cmd)
	if err != nil || r.Code != 0 {
		t.Fatalf("registry gc %s: %v\n%s", strings.Join(args, " "), err, r)
	}
	return r.Stdout
}

// gcDeleted parses BlobsDeleted:[...] of a GC report.
func gcDeleted(t *testing.T, report string) []string {
	t.Helper()
	m := regexp.MustCompile(`BlobsDeleted:\[([^\]]*)\]`).FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("gc report without BlobsDeleted: %q", report)
	}
	return sorted(strings.Fields(m[1]))
}

// blobFiles lists the names of regular files named by a hex digest under dir.
func blobFiles(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	hexName := regexp.MustCompile(`^[0-9a-f]{64}$`)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && hexName.MatchString(d.Name()) && strings.Contains(p, "blobs") {
			out["sha256:"+d.Name()] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRegistryGC(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := filepath.Join(dir, "store")
	conf := testbin.WriteFile(t, filepath.Join(dir, "registry.yml"), fmt.Sprintf(`storage:
  filesystem:
    root: %s
gc:
  grace_period: 1ns
`, root))
	reg := startRegistry(t, dir, registryOpts{noRoot: true, args: []string{"--config", conf}})
	shared, onlyA, onlyB := tinyLayer(t, 50), tinyLayer(t, 51), tinyLayer(t, 52)
	digestA := pushImage(t, reg.url(), "gc/a", "v1", []blob{shared, onlyA})
	digestB := pushImage(t, reg.url(), "gc/b", "v1", []blob{shared, onlyB})
	rawA, _, _ := manifestOf(t, reg.url(), "gc/a", digestA)
	configA := manifestConfig(t, rawA)
	before := blobFiles(t, root)
	for _, dg := range []string{shared.digest, onlyA.digest, onlyB.digest, digestA, digestB, configA} {
		if !before[dg] {
			t.Fatalf("blob %s is not on disk before GC: %v", dg, before)
		}
	}

	// Nothing is garbage while A is referenced.
	if del := gcDeleted(t, regGC(t, "--config", conf)); len(del) != 0 {
		t.Fatalf("gc with every manifest referenced deleted %v", del)
	}

	req, _ := http.NewRequest(http.MethodDelete, reg.url()+"/v2/gc/a/manifests/"+digestA, nil)
	resp, err := insecureClient().Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE gc/a manifest: %v %v", resp, err)
	}
	resp.Body.Close()
	garbage := sorted([]string{onlyA.digest, configA, digestA})

	// The default grace period (1 h) keeps the fresh blobs.
	if del := gcDeleted(t, regGC(t, "--root", root)); len(del) != 0 {
		t.Errorf("gc with the default grace period deleted fresh blobs %v", del)
	}
	dry := regGC(t, "--config", conf, "--dry-run")
	if del := gcDeleted(t, dry); !slices.Equal(del, garbage) {
		t.Errorf("gc --dry-run would delete %v, want %v", del, garbage)
	}
	if got := blobFiles(t, root); len(got) != len(before) {
		t.Errorf("gc --dry-run deleted files: %d before, %d after", len(before), len(got))
	}
	report := regGC(t, "--config", conf)
	del := gcDeleted(t, report)
	if !slices.Equal(del, garbage) {
		t.Errorf("gc deleted %v, want the deleted manifest, its config and its own layer %v\n%s", del, garbage, report)
	}
	after := blobFiles(t, root)
	for _, dg := range del {
		if after[dg] {
			t.Errorf("gc reported %s deleted but it is on disk", dg)
		}
	}
	for _, dg := range []string{shared.digest, onlyB.digest, digestB} {
		if !after[dg] {
			t.Errorf("gc deleted %s, which gc/b:v1 uses", dg)
		}
	}
	if _, code := getBlob(t, reg.url(), "gc/a", onlyA.digest); code != http.StatusNotFound {
		t.Errorf("GET of a collected blob: %d, want 404", code)
	}
	if data, code := getBlob(t, reg.url(), "gc/b", onlyB.digest); code != http.StatusOK || digestOf(data) != onlyB.digest {
		t.Errorf("GET of a kept blob: %d", code)
	}
	// gc/b still pulls.
	s := newSandbox(t)
	if pull := parsePull(t, s.ok("pull", reg.addr+"/gc/b:v1")); pull.digest != digestB {
		t.Errorf("pull after gc: digest %s, want %s", pull.digest, digestB)
	}
	s.checkClean()
	// A second collection finds nothing more.
	if del := gcDeleted(t, regGC(t, "--config", conf)); len(del) != 0 {
		t.Errorf("second gc deleted %v", del)
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatal(err)
	}
}

// manifestConfig returns the config digest of an image manifest.
func manifestConfig(t *testing.T, raw []byte) string {
	t.Helper()
	m := regexp.MustCompile(`"config":\{[^}]*"digest":"(sha256:[0-9a-f]{64})"`).FindSubmatch(raw)
	if m == nil {
		t.Fatalf("manifest without a config: %s", raw)
	}
	return string(m[1])
}
