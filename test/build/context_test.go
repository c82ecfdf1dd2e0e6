package build

import (
	"io"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// TestDockerignore checks that ignored files are not copied, that "!"
// exceptions are, and that changing an ignored file keeps the cache.
func TestDockerignore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write(".dockerignore", "node_modules\n**/*.env\nlogs/*.log\n!logs/keep.log\n*.md\n")
	e.write("app/main.js", "main\n")
	e.write("app/secret.env", "SECRET=1\n")
	e.write("node_modules/x/y.js", "dep\n")
	e.write("logs/a.log", "a\n")
	e.write("logs/keep.log", "keep\n")
	e.write("README.md", "readme\n")
	df := "FROM busybox\nCOPY . /app\nRUN find /app -type f | sort > /list\n"
	e.buildOK(df, "-t", "img")
	testbin.WantEq(t, "copied", e.sh("img", "cat /list"),
		"/app/.dockerignore\n/app/Dockerfile\n/app/app/main.js\n/app/logs/keep.log\n")

	e.write("node_modules/x/y.js", "dep v2\n")
	e.write("README.md", "readme v2\n")
	e.write("logs/b.log", "new but ignored\n")
	_, out := e.buildOK("", "-t", "img")
	testbin.WantEq(t, "after changing ignored files", cacheReport(t, out), "C COPY . /app\nC RUN find /app -type f | sort > /list\n")

	e.write("logs/keep.log", "keep v2\n")
	_, out = e.buildOK("", "-t", "img")
	testbin.WantEq(t, "after changing an exception", cacheReport(t, out), "- COPY . /app\n- RUN find /app -type f | sort > /list\n")
}

// TestContextFromStdin builds from a Dockerfile on stdin (no context) and
// from a tar stream of a context on stdin.
func TestContextFromStdin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r, id := e.build(build{args: []string{"-t", "noctx", "-"}, stdin: strings.NewReader("FROM busybox\nRUN echo no context > /ok\n")})
	if r.Code != 0 || id == "" {
		t.Fatalf("build - < Dockerfile: %s", r)
	}
	testbin.WantEq(t, "no-context image", e.sh("noctx", "cat /ok"), "no context\n")

	r, _ = e.build(build{args: []string{"-t", "noctx2", "-"}, stdin: strings.NewReader("FROM busybox\nCOPY f.txt /\n")})
	if r.Code != 1 {
		t.Fatalf("COPY without a context: want exit 1, got %s", r)
	}
	testbin.WantContains(t, "COPY without a context", r.Stderr, "Dockerfile:2", "f.txt")

	e.write("Dockerfile", "FROM busybox\nCOPY f.txt /from-tar\n")
	e.write("f.txt", "in the tar\n")
	for _, compress := range []string{"", "z"} {
		tarData, err := exec.Command("tar", "-C", e.dir, "-c"+compress+"f", "-", ".").Output()
		if err != nil {
			t.Fatal(err)
		}
		r, id = e.build(build{args: []string{"-t", "fromtar", "-"}, stdin: strings.NewReader(string(tarData))})
		if r.Code != 0 || id == "" {
			t.Fatalf("tar -c%sf - . | build -: %s", compress, r)
		}
		testbin.WantEq(t, "tar-context image", e.sh("fromtar", "cat /from-tar"), "in the tar\n")
	}
}

// TestDockerfileOptions checks -f - with a directory context and -f with
// a Dockerfile elsewhere, with its own "<name>.dockerignore".
func TestDockerfileOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write("f.txt", "context file\n")
	e.write("skip.txt", "skipped by Other.dockerfile.dockerignore\n")
	e.write("Dockerfile", "FROM busybox\nRUN echo from the default Dockerfile > /which\n")
	r, id := e.build(build{args: []string{"-f", "-", "-t", "stdin", "."}, stdin: strings.NewReader("FROM busybox\nCOPY f.txt /\nRUN echo from stdin > /which\n")})
	if r.Code != 0 || id == "" {
		t.Fatalf("build -f - .: %s", r)
	}
	testbin.WantEq(t, "-f - image", e.sh("stdin", "cat /f.txt /which"), "context file\nfrom stdin\n")

	e.write("path/to/Other.dockerfile", "FROM busybox\nCOPY *.txt /got/\nRUN echo other > /which\n")
	e.write("path/to/Other.dockerfile.dockerignore", "skip.txt\n")
	for _, c := range []struct{ dir, file, ctx string }{
		{e.dir, "path/to/Other.dockerfile", "."},
		{e.base, filepath.Join("ctx", "path/to/Other.dockerfile"), "ctx"},
		{e.base, filepath.Join(e.dir, "path/to/Other.dockerfile"), e.dir},
	} {
		cmdDir := e.dir
		e.dir = c.dir
		r, id = e.build(build{args: []string{"-f", c.file, "-t", "other", c.ctx}})
		e.dir = cmdDir
		if r.Code != 0 || id == "" {
			t.Fatalf("build -f %s %s (in %s): %s", c.file, c.ctx, c.dir, r)
		}
		testbin.WantEq(t, "-f "+c.file, e.sh("other", "cat /which; ls /got"), "other\nf.txt\n")
	}
	r, _ = e.build(build{args: []string{"-f", "missing.dockerfile", "."}})
	if r.Code != 1 {
		t.Fatalf("build -f missing.dockerfile: want exit 1, got %s", r)
	}
	testbin.WantContains(t, "missing Dockerfile", r.Stderr, "missing.dockerfile")
}

// TestMissingContext checks the error for a context that does not exist
// and for a context without a Dockerfile.
func TestMissingContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	missing := filepath.Join(e.base, "nope")
	r, _ := e.build(build{args: []string{missing}})
	if r.Code != 1 {
		t.Fatalf("build %s: want exit 1, got %s", missing, r)
	}
	testbin.WantContains(t, "missing context", r.Stderr, "unable to prepare context", missing)
	empty := filepath.Join(e.base, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	r, _ = e.build(build{args: []string{empty}})
	if r.Code != 1 {
		t.Fatalf("build of a context without a Dockerfile: want exit 1, got %s", r)
	}
	testbin.WantContains(t, "no Dockerfile", r.Stderr, "Dockerfile")
}

// TestGitContext builds from a git repository served over smart HTTP by
// `git http-backend` on a loopback port, with "#ref:subdir".
func TestGitContext(t *testing.T) {
	t.Parallel()
	requireTool(t, "git")
	e := newEnv(t)
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Skipf("git --exec-path: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skipf("git http-backend is missing: %v", err)
	}
	work := filepath.Join(e.base, "work")
	testbin.WriteFile(t, filepath.Join(work, "Dockerfile"), "FROM busybox\nCOPY msg.txt /\n")
	testbin.WriteFile(t, filepath.Join(work, "msg.txt"), "from main\n")
	testbin.WriteFile(t, filepath.Join(work, "sub/Dockerfile"), "FROM busybox\nCOPY msg.txt /sub-msg.txt\n")
	testbin.WriteFile(t, filepath.Join(work, "sub/msg.txt"), "from sub\n")
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git(work, "init", "-q", "-b", "main")
	git(work, "add", ".")
	git(work, "commit", "-q", "-m", "first")
	git(work, "checkout", "-q", "-b", "other")
	testbin.WriteFile(t, filepath.Join(work, "msg.txt"), "from branch other\n")
	git(work, "commit", "-q", "-am", "second")
	git(work, "checkout", "-q", "main")
	repos := filepath.Join(e.base, "repos")
	git(e.base, "clone", "-q", "--bare", work, filepath.Join(repos, "app.git"))
	srv := httptest.NewServer(&cgi.Handler{
		Path:   backend,
		Env:    []string{"GIT_PROJECT_ROOT=" + repos, "GIT_HTTP_EXPORT_ALL=1"},
		Stderr: io.Discard,
	})
	defer srv.Close()

	for _, c := range []struct{ url, script, want string }{
		{srv.URL + "/app.git", "cat /msg.txt", "from main\n"},
		{srv.URL + "/app.git#other", "cat /msg.txt", "from branch other\n"},
		{srv.URL + "/app.git#main:sub", "cat /sub-msg.txt", "from sub\n"},
	} {
		r, id := e.build(build{args: []string{"-t", "fromgit", c.url}})
		if r.Code != 0 || id == "" {
			t.Fatalf("build %s: %s", c.url, r)
		}
		testbin.WantEq(t, "image of "+c.url, e.sh("fromgit", c.script), c.want)
	}
	start := time.Now()
	r, _ := e.build(build{args: []string{srv.URL + "/missing.git"}})
	if r.Code != 1 {
		t.Fatalf("build of a missing repository: want exit 1, got %s", r)
	}
	testbin.WantContains(t, "missing repository", r.Stderr, "missing.git")
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("a missing repository took %v to fail", d)
	}
}
