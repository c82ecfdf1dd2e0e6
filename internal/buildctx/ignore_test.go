package buildctx

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestIgnored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{".dockerignore": strings.Join([]string{
		"# comment",
		"*.log",
		"!keep.log",
		"**/tmp",
		"/build",
		"docs/*.md",
		"!docs/README.md",
		"node_modules",
		"vendor",
		"!vendor/keep/**",
		"secrets/",
	}, "\n")})
	c := openCtx(t, dir)
	cases := []struct {
		path string
		want bool
	}{
		{".", false},
		{"app.log", true},
		{"keep.log", false},
		{"sub/app.log", false}, // "*.log" has one component: only the top level
		{"tmp", true},
		{"a/b/tmp", true},
		{"a/b/tmp/x", true},
		{"a/tmpx", false},
		{"build", true},
		{"build/out/bin", true},
		{"/build", true},
		{"./build", true},
		{"src/build", false},
		{"docs/a.md", true},
		{"docs/README.md", false},
		{"docs/sub/a.md", false},
		{"node_modules/x/y.js", true},
		{"vendor/lib.go", true},
		{"vendor/keep/a/b.go", false},
		{"secrets/key", true},
		{"main.go", false},
		// Whole-directory questions: may the walk skip it?
		{"node_modules/", true},
		{"build/", true},
		{"vendor/", false}, // "!vendor/keep/**" may bring files back
		{"docs/", false},   // not excluded at all
		{"main.go/", false},
	}
	for _, tc := range cases {
		got, err := c.Ignored(tc.path)
		if err != nil {
			t.Fatalf("Ignored(%q): %v", tc.path, err)
		}
		if got != tc.want {
			t.Errorf("Ignored(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestIgnoreFileChoice(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	other := t.TempDir()
	writeTree(t, dir, map[string]string{
		".dockerignore":              "a",
		"Dockerfile":                 "FROM scratch",
		"Dockerfile.dockerignore":    "b",
		"ci/Dockerfile":              "FROM scratch",
		"ci/Dockerfile.dockerignore": "c",
	})
	writeTree(t, other, map[string]string{"x.Dockerfile": "FROM scratch", "x.Dockerfile.dockerignore": "d"})
	cases := []struct {
		dockerfile string
		ignored    string
	}{
		{"", "a"},
		{filepath.Join(dir, "Dockerfile"), "b"},
		{filepath.Join(dir, "ci/Dockerfile"), "c"},
		{filepath.Join(other, "x.Dockerfile"), "d"},
		{filepath.Join(other, "missing.Dockerfile"), "a"}, // no ignore file next to it
	}
	for _, tc := range cases {
		c, err := Open(dir, tc.dockerfile, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"a", "b", "c", "d"} {
			got, _ := c.Ignored(p)
			if got != (p == tc.ignored) {
				t.Errorf("dockerfile %q: Ignored(%q) = %v", tc.dockerfile, p, got)
			}
		}
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"file": "x", "bad/.dockerignore": "!"})
	if _, err := Open(filepath.Join(dir, "missing"), "", ""); err == nil || !strings.Contains(err.Error(), "no such directory") {
		t.Errorf("missing dir: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "file"), "", ""); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "bad"), "", ""); err == nil {
		t.Error("a lone \"!\" pattern was accepted")
	}
}

func TestChecksumSkipsIgnored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		".dockerignore":       "*.log\nnode_modules\ncache\n!cache/keep\n",
		"main.go":             "package main",
		"node_modules/a/b.js": "x",
		"cache/drop":          "1",
		"cache/keep":          "2",
		"debug.log":           "noise",
	})
	c := openCtx(t, dir)
	before := mustSum(t, c, ".")
	want := []string{".", ".dockerignore", "cache", "cache/keep", "main.go"}
	got := make([]string, 0, len(before.Files))
	for k := range before.Files {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	// Changing ignored files changes nothing.
	writeTree(t, dir, map[string]string{"debug.log2/": "", "node_modules/new.js": "y", "cache/drop2": "3"})
	if err := os.WriteFile(filepath.Join(dir, "debug.log"), []byte("more noise"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "debug.log2"))
	if after := mustSum(t, c, "."); after.Digest != before.Digest {
		t.Error("an ignored file changed the checksum")
	}
	// An ignored source is not found, and says why.
	_, err := c.Checksum([]string{"debug.log"})
	if err == nil || !strings.Contains(err.Error(), ".dockerignore") {
		t.Errorf("ignored source: %v", err)
	}
	if s := mustSum(t, c, "cache"); len(s.Files) != 2 { // cache (brought back by its child) and cache/keep
		t.Errorf("cache: %v", s.Files)
	}
}
