package buildctx

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/strata-dev/strata/internal/errdefs"
)

type tarEntry struct {
	name, body, link string
	typ              byte
}

func makeTar(t *testing.T, entries []tarEntry, gz bool) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	var tw *tar.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link}
		if typ == tar.TypeDir {
			h.Mode, h.Size = 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return &buf
}

func TestFromTar(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	stream := makeTar(t, []tarEntry{
		{name: "Dockerfile", body: "FROM scratch\n"},
		{name: "src/", typ: tar.TypeDir},
		{name: "src/a", body: "a"},
		{name: "src/ln", typ: tar.TypeSymlink, link: "a"},
	}, true)
	dir, cleanup, err := FromTar(stream, tmp)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "src/a")); got != "a" {
		t.Fatalf("src/a = %q", got)
	}
	c := openCtx(t, dir)
	if s := mustSum(t, c, "src"); len(s.Files) != 3 {
		t.Errorf("files %v", s.Files)
	}
	cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("cleanup left the directory")
	}
}

func TestFromTarRefusesTraversal(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	for name, entries := range map[string][]tarEntry{
		"dotdot":       {{name: "../evil", body: "x"}},
		"nested":       {{name: "a/../../evil", body: "x"}},
		"through link": {{name: "up", typ: tar.TypeSymlink, link: ".."}, {name: "up/evil", body: "x"}},
	} {
		_, _, err := FromTar(makeTar(t, entries, false), tmp)
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(tmp), "evil")); err == nil {
			t.Fatalf("%s: wrote outside", name)
		}
		if _, err := os.Stat(filepath.Join(tmp, "evil")); err == nil {
			t.Fatalf("%s: wrote outside the context", name)
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("refused extractions left %v", ents)
	}
}

func TestIsGitURL(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"git@github.com:docker/docker.git":            true,
		"git://github.com/docker/docker":              true,
		"github.com/docker/docker":                    true,
		"https://github.com/docker/docker.git":        true,
		"http://example.com/repo.git":                 true,
		"https://github.com/docker/docker.git#main":   true,
		"https://github.com/x/y.git#v1.0:docs":        true,
		"https://github.com/docker/docker":            false,
		"https://example.com/context.tar.gz":          false,
		"https://example.com/repo.git#":               false,
		"https://example.com/repo.gitx":               false,
		".":                                           false,
		"./repo.git":                                  false,
		"/abs/path":                                   false,
		"gitlab.com/x/y":                              false,
		"":                                            false,
		"ssh://git@example.com/repo.git":              false,
		"https://example.com/a.git/b.git#ref:sub/dir": true,
	}
	for s, want := range cases {
		if got := IsGitURL(s); got != want {
			t.Errorf("IsGitURL(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestFromGit(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	work, bare := t.TempDir(), filepath.Join(t.TempDir(), "repo.git")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@t", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(bytes.TrimSpace(out))
	}
	git(work, "init", "--quiet", "--initial-branch=main")
	writeTree(t, work, map[string]string{"Dockerfile": "FROM scratch", "sub/file": "v1", "sub/escape": "->../.."})
	git(work, "add", "-A")
	git(work, "commit", "--quiet", "-m", "one")
	first := git(work, "rev-parse", "HEAD")
	git(work, "branch", "old")
	writeTree(t, work, map[string]string{"sub/file2": "v2"})
	git(work, "add", "-A")
	git(work, "commit", "--quiet", "-m", "two")
	git(work, "tag", "v2")
	git(filepath.Dir(bare), "clone", "--quiet", "--bare", work, bare)
	url := "file://" + bare
	ctx := context.Background()

	cases := []struct {
		frag    string
		want    string // a file that must exist in the context
		without string // one that must not
	}{
		{"", "sub/file2", ""},
		{"#main", "sub/file2", ""},
		{"#old", "sub/file", "sub/file2"},
		{"#v2:sub", "file2", "Dockerfile"},
		{"#:sub", "file2", "Dockerfile"},
		{"#" + first + ":sub", "file", "file2"},
	}
	for _, tc := range cases {
		dir, cleanup, err := FromGit(ctx, url+tc.frag, t.TempDir())
		if err != nil {
			t.Fatalf("%q: %v", tc.frag, err)
		}
		if _, err := os.Stat(filepath.Join(dir, tc.want)); err != nil {
			t.Errorf("%q: %v", tc.frag, err)
		}
		if tc.without != "" {
			if _, err := os.Stat(filepath.Join(dir, tc.without)); err == nil {
				t.Errorf("%q: %s is there", tc.frag, tc.without)
			}
		}
		cleanup()
	}
	for frag, class := range map[string]error{
		"#nosuchbranch":    errdefs.ErrUnavailable,
		"#main:missing":    errdefs.ErrNotFound,
		"#main:../..":      errdefs.ErrPermission,
		"#main:sub/escape": errdefs.ErrPermission,
		"#main:Dockerfile": errdefs.ErrInvalidArgument,
	} {
		tmp := t.TempDir()
		_, _, err := FromGit(ctx, url+frag, tmp)
		if !errors.Is(err, class) {
			t.Errorf("%q: %v, want %v", frag, err, class)
		}
		if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
			t.Errorf("%q: left %v behind", frag, ents)
		}
	}
}
