package build

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// strataBin is the binary under test; busyboxTar a busybox root filesystem
// tarball ("" when the host has no /bin/busybox).
var (
	strataBin  string
	busyboxTar string
)

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(m, "build", func(bin, tar string) { strataBin, busyboxTar = bin, tar }))
}

// requireBuild skips the test unless builds with RUN steps can run here.
func requireBuild(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("builds run RUN steps in containers, which need root")
	}
	_, errRunc := exec.LookPath("runc")
	_, errCrun := exec.LookPath("crun")
	if errRunc != nil && errCrun != nil {
		t.Skip("no OCI runtime: install runc or crun")
	}
	if busyboxTar == "" {
		t.Skip("/bin/busybox is missing: apt-get install busybox-static")
	}
}

// requireTool skips the test unless the host has the named programs.
func requireTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s is not installed", n)
		}
	}
}

// result is what one strata run printed and returned.
type result = testbin.Result

// env is one test's strata: a private root with the busybox image imported
// as "busybox", and a build context directory.
type env struct {
	t    *testing.T
	base string // t.TempDir(): holds root, ctx and scratch files
	root string
	dir  string // the build context and the working directory of strata
}

// newEnv makes a test's strata root and imports busybox into it.
func newEnv(t *testing.T) *env {
	t.Helper()
	requireBuild(t)
	base := t.TempDir()
	e := &env{t: t, base: base, root: filepath.Join(base, "root"), dir: filepath.Join(base, "ctx")}
	if err := os.Mkdir(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.cleanup) // runs before t.TempDir's removal
	e.importImage("busybox")
	return e
}

// command builds `strata --root ROOT args...` bound to ctx, run in the
// context directory with the test environment plus extra.
func (e *env) command(ctx context.Context, extra []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, strataBin, append([]string{"--root", e.root}, args...)...)
	cmd.Dir = e.dir
	cmd.Env = testbin.Env(extra...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs strata with stdin (nil: empty), extra environment variables and
// a 2-minute limit.
func (e *env) run(stdin io.Reader, extra []string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, extra, args...)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	cmd.Stdin = stdin
	r, err := testbin.Capture(cmd)
	switch {
	case ctx.Err() != nil:
		e.t.Fatalf("strata %s: timed out\n%s", strings.Join(args, " "), r)
	case err != nil:
		e.t.Fatalf("strata %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func (e *env) exec(args ...string) result {
	e.t.Helper()
	return e.run(nil, nil, args...)
}

// ok runs strata, fails the test unless it exits 0, and returns stdout.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.exec(args...)
	if r.Code != 0 {
		e.t.Fatalf("strata %s: %s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// out is ok's stdout without the trailing newline.
func (e *env) out(args ...string) string {
	e.t.Helper()
	return strings.TrimRight(e.ok(args...), "\n")
}

// importImage imports the busybox rootfs as name with PATH, CMD
// ["/bin/sh"] and the Dockerfile changes given.
func (e *env) importImage(name string, changes ...string) string {
	e.t.Helper()
	args := []string{"import", "-c", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin", "-c", `CMD ["/bin/sh"]`}
	for _, c := range changes {
		args = append(args, "-c", c)
	}
	return e.out(append(args, busyboxTar, name)...)
}

// build is one `strata build`: its options, where its Dockerfile and
// standard input come from, and extra environment variables.
type build struct {
	args  []string  // options and the context, e.g. {"-t", "x", "."}
	stdin io.Reader // nil: empty
	env   []string
}

// build runs `strata build --progress plain --iidfile F args...` and
// returns what it printed and the image ID it wrote ("" if none).
func (e *env) build(b build) (result, string) {
	e.t.Helper()
	iid := filepath.Join(e.base, fmt.Sprintf("iid-%d", time.Now().UnixNano()))
	args := append([]string{"build", "--progress", "plain", "--iidfile", iid}, b.args...)
	r := e.run(b.stdin, b.env, args...)
	data, err := os.ReadFile(iid)
	if err == nil {
		os.Remove(iid)
	}
	return r, string(data)
}

// buildOK builds the Dockerfile body in the context directory with args
// (the context "." is added), requires success and returns the image ID
// and the plain progress output.
func (e *env) buildOK(dockerfile string, args ...string) (string, string) {
	e.t.Helper()
	if dockerfile != "" {
		e.write("Dockerfile", dockerfile)
	}
	r, id := e.build(build{args: append(args, ".")})
	if r.Code != 0 {
		e.t.Fatalf("build %s: %s", strings.Join(args, " "), r)
	}
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		e.t.Fatalf("build %s: --iidfile holds %q, want an image ID\n%s", strings.Join(args, " "), id, r)
	}
	return id, r.Stderr
}

// buildFail builds like buildOK but requires exit code 1 and returns the
// result.
func (e *env) buildFail(dockerfile string, args ...string) result {
	e.t.Helper()
	if dockerfile != "" {
		e.write("Dockerfile", dockerfile)
	}
	r, id := e.build(build{args: append(args, ".")})
	if r.Code != 1 {
		e.t.Fatalf("build %s: want exit 1, got %s", strings.Join(args, " "), r)
	}
	if id != "" {
		e.t.Fatalf("failed build wrote image ID %q to --iidfile", id)
	}
	return r
}

// sh runs script with /bin/sh -c in a throwaway container of img and
// returns its stdout; it must exit 0.
func (e *env) sh(img, script string) string {
	e.t.Helper()
	return e.ok("run", "--rm", img, "/bin/sh", "-c", script)
}

// config returns `{{json .Config.FIELD}}` of an image.
func (e *env) config(img, field string) string {
	e.t.Helper()
	return e.out("inspect", "-f", "{{json .Config."+field+"}}", img)
}

// write puts a file in the context directory and returns its path.
func (e *env) write(name, body string) string {
	e.t.Helper()
	return testbin.WriteFile(e.t, filepath.Join(e.dir, name), body)
}

// images lists `images --no-trunc` as "REPO:TAG ID" lines, sorted.
func (e *env) images() []string {
	e.t.Helper()
	l := testbin.Lines(e.ok("images", "-a", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"))
	slices.Sort(l)
	return l
}

// wantJSON compares two JSON texts by value.
func wantJSON(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Errorf("%s: %q is not JSON: %v", what, got, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expectation %q: %v", what, want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("%s:\n got: %s\nwant: %s", what, gb, wb)
	}
}

// readFile returns a file's content; it must exist.
func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func itoa(n int) string { return strconv.Itoa(n) }
