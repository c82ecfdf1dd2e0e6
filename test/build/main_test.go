package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "strata-build-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if strataBin, err = findBinary(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		return 1
	}
	if _, err := os.Stat("/bin/busybox"); err == nil {
		if busyboxTar, err = makeBusyboxTar(tmp); err != nil {
			fmt.Fprintln(os.Stderr, "build: busybox rootfs:", err)
			return 1
		}
	}
	return m.Run()
}

// findBinary returns $STRATA_BIN or builds the module's strata into dir, so
// the tests always run the code they sit next to.
func findBinary(dir string) (string, error) {
	if b := os.Getenv("STRATA_BIN"); b != "" {
		return filepath.Abs(b)
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	b := filepath.Join(dir, "strata")
	cmd := exec.Command("go", "build", "-trimpath", "-o", b, "./cmd/strata")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return b, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// makeBusyboxTar builds a busybox root filesystem with root as its only
// user: /bin with busybox and its applets, /etc/passwd and /etc/group,
// /root, /home and a sticky /tmp.
func makeBusyboxTar(dir string) (string, error) {
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "root", "home"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return "", err
		}
	}
	if err := os.Mkdir(filepath.Join(rootfs, "tmp"), 0o755); err != nil {
		return "", err
	}
	if err := os.Chmod(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		return "", err
	}
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin/busybox"), data, 0o755); err != nil {
		return "", err
	}
	list, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return "", err
	}
	for _, app := range strings.Fields(string(list)) {
		if app != "busybox" {
			if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", app)); err != nil {
				return "", err
			}
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":  "root:x:0:\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(rootfs, name), []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	tarPath := filepath.Join(dir, "busybox.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", tarPath, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("tar: %w: %s", err, out)
	}
	return tarPath, nil
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
	return writeFile(e.t, filepath.Join(e.dir, name), body)
}

func writeFile(t *testing.T, p, body string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// images lists `images --no-trunc` as "REPO:TAG ID" lines, sorted.
func (e *env) images() []string {
	e.t.Helper()
	l := lines(e.ok("images", "-a", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"))
	slices.Sort(l)
	return l
}

// lines splits output into lines without the final newline.
func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func wantEq(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got: %q\nwant: %q", what, got, want)
	}
}

func wantContains(t *testing.T, what, got string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(got, s) {
			t.Errorf("%s: %q does not contain %q", what, got, s)
		}
	}
}

func wantNotContains(t *testing.T, what, got string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(got, s) {
			t.Errorf("%s: %q contains %q", what, got, s)
		}
	}
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

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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
