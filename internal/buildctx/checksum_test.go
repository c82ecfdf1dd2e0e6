package buildctx

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
)

var baseTree = map[string]string{
	"a.txt":          "alpha",
	"b.txt":          "beta",
	"src/main.go":    "package main",
	"src/lib/x.go":   "package lib",
	"src/link":       "->main.go",
	"empty/":         "",
	"docs/one/x.md":  "1",
	"docs/two/x.md":  "2",
	"docs/two/y.txt": "y",
}

func TestChecksumChanges(t *testing.T) {
	t.Parallel()
	mutations := []struct {
		name   string
		change func(dir string) error
		same   bool
	}{
		{"touch", func(d string) error {
			t := time.Now().Add(time.Hour)
			return os.Chtimes(filepath.Join(d, "a.txt"), t, t)
		}, true},
		{"rewrite same content", func(d string) error { return os.WriteFile(filepath.Join(d, "a.txt"), []byte("alpha"), 0o644) }, true},
		{"content", func(d string) error { return os.WriteFile(filepath.Join(d, "a.txt"), []byte("alphA"), 0o644) }, false},
		{"mode", func(d string) error { return os.Chmod(filepath.Join(d, "a.txt"), 0o755) }, false},
		{"setuid", func(d string) error { return os.Chmod(filepath.Join(d, "a.txt"), 0o644|os.ModeSetuid) }, false},
		{"dir mode", func(d string) error { return os.Chmod(filepath.Join(d, "src/lib"), 0o700) }, false},
		{"symlink target", func(d string) error {
			os.Remove(filepath.Join(d, "src/link"))
			return os.Symlink("lib/x.go", filepath.Join(d, "src/link"))
		}, false},
		{"added file", func(d string) error { return os.WriteFile(filepath.Join(d, "src/new.go"), nil, 0o644) }, false},
		{"added empty dir", func(d string) error { return os.Mkdir(filepath.Join(d, "src/newdir"), 0o755) }, false},
		{"removed file", func(d string) error { return os.Remove(filepath.Join(d, "src/lib/x.go")) }, false},
		{"renamed file", func(d string) error {
			return os.Rename(filepath.Join(d, "b.txt"), filepath.Join(d, "c.txt"))
		}, false},
		{"file becomes dir", func(d string) error {
			os.Remove(filepath.Join(d, "b.txt"))
			return os.Mkdir(filepath.Join(d, "b.txt"), 0o644)
		}, false},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, baseTree)
			c := openCtx(t, dir)
			before := mustSum(t, c, ".")
			if again := mustSum(t, c, "."); again.Digest != before.Digest {
				t.Fatal("checksum not stable across calls")
			}
			if err := m.change(dir); err != nil {
				t.Fatal(err)
			}
			after := mustSum(t, c, ".")
			if (after.Digest == before.Digest) != m.same {
				t.Fatalf("same digest = %v, want %v", after.Digest == before.Digest, m.same)
			}
			// A fresh context (no cache) agrees.
			if fresh := mustSum(t, openCtx(t, dir), "."); fresh.Digest != after.Digest {
				t.Fatal("cached and fresh checksums differ")
			}
		})
	}
}

func TestChecksumSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, baseTree)
	c := openCtx(t, dir)
	cases := []struct {
		srcs  []string
		files []string
	}{
		{[]string{"a.txt"}, []string{"a.txt"}},
		{[]string{"/a.txt"}, []string{"a.txt"}},
		{[]string{"./a.txt"}, []string{"a.txt"}},
		{[]string{"src/../a.txt"}, []string{"a.txt"}},
		{[]string{"*.txt"}, []string{"a.txt", "b.txt"}},
		{[]string{"?.txt", "a.txt"}, []string{"a.txt", "b.txt"}},
		{[]string{"docs/*/x.md"}, []string{"docs/one/x.md", "docs/two/x.md"}},
		{[]string{"docs/t*"}, []string{"docs/two", "docs/two/x.md", "docs/two/y.txt"}},
		{[]string{"src/lib"}, []string{"src/lib", "src/lib/x.go"}},
		{[]string{"src/link"}, []string{"src/link"}}, // followed: the file's content, the link's name
		{[]string{"empty"}, []string{"empty"}},
		{[]string{"[ab].txt"}, []string{"a.txt", "b.txt"}},
	}
	for _, tc := range cases {
		s, err := c.Checksum(tc.srcs)
		if err != nil {
			t.Fatalf("%q: %v", tc.srcs, err)
		}
		var got []string
		for k := range s.Files {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.files) {
			t.Errorf("%q: entries %v, want %v", tc.srcs, got, tc.files)
		}
	}
	root := mustSum(t, c, ".")
	if slash := mustSum(t, c, "/"); slash.Digest != root.Digest {
		t.Error(`"/" and "." differ`)
	}
	if len(root.Files) != 15 {
		t.Errorf("root has %d entries, want 15: %v", len(root.Files), root.Files)
	}
	// A followed top-level symlink hashes like a copy of its target under its own name.
	link, main := mustSum(t, c, "src/link"), mustSum(t, c, "src/main.go")
	if link.Digest == main.Digest {
		t.Error("the path is not part of the digest")
	}
	if err := os.WriteFile(filepath.Join(dir, "src/main.go"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if mustSum(t, c, "src/link").Digest == link.Digest {
		t.Error("a followed symlink's target content is not in the digest")
	}
}

func TestChecksumRefusals(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret": "s"})
	parent := t.TempDir()
	dir := filepath.Join(parent, "ctx")
	writeTree(t, parent, map[string]string{"sibling": "s"})
	writeTree(t, dir, map[string]string{
		"a.txt":    "a",
		"etc":      "->/etc",
		"passwd":   "->/etc/passwd",
		"up":       "->../sibling",
		"updir":    "->..",
		"out":      "->" + outside,
		"inside":   "->" + filepath.Join(dir, "a.txt"), // absolute but inside
		"loop1":    "->loop2",
		"loop2":    "->loop1",
		"tree/etc": "->/etc", // inside a copied directory: an entry, not followed
		"tree/f":   "f",
		"via/dir":  "->../tree",
	})
	c := openCtx(t, dir)
	refused := []string{"../sibling", "/../sibling", "a/../../sibling", "etc", "etc/passwd", "passwd",
		"up", "updir", "updir/sibling", "out/secret", "out", "*/secret"}
	for _, src := range refused {
		_, err := c.Checksum([]string{src})
		if !errors.Is(err, errdefs.ErrPermission) {
			t.Errorf("%q: err = %v, want permission denied", src, err)
		} else if !strings.Contains(err.Error(), "outside the build context") {
			t.Errorf("%q: unclear message %q", src, err)
		}
	}
	for _, src := range []string{"missing", "missing/*", "*.none", "a.txt/x", "tree/f/g"} {
		_, err := c.Checksum([]string{src})
		if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "not found in the build context") {
			t.Errorf("%q: err = %v, want not found", src, err)
		}
	}
	if _, err := c.Checksum([]string{"loop1"}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("symlink loop: %v", err)
	}
	if _, err := c.Checksum([]string{"a.txt", "missing"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("one missing source of two: %v", err)
	}
	for _, src := range []string{"inside", "tree", "via/dir", "via/dir/f"} {
		if _, err := c.Checksum([]string{src}); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
	s := mustSum(t, c, "tree")
	if _, ok := s.Files["tree/etc"]; !ok {
		t.Errorf("inner symlink is not an entry: %v", s.Files)
	}
	if _, ok := s.Files["tree/etc/passwd"]; ok {
		t.Error("inner symlink was followed")
	}
}
