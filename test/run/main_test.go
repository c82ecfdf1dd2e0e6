package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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
	tmp, err := os.MkdirTemp("", "strata-run-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if strataBin, err = findBinary(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	if _, err := os.Stat("/bin/busybox"); err == nil {
		if busyboxTar, err = makeBusyboxTar(tmp); err != nil {
			fmt.Fprintln(os.Stderr, "run: busybox rootfs:", err)
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

// makeBusyboxTar builds the root filesystem scripts/demo.sh builds, plus a
// user "app" (1000:1000), /etc/group, home directories and a web root.
func makeBusyboxTar(dir string) (string, error) {
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "root", "home/app", "var/www"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		return "", err
	}
	if err := os.Chmod(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		return "", err
	}
	if err := os.Chown(filepath.Join(rootfs, "home/app"), 1000, 1000); err != nil {
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
		"etc/passwd":         "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
		"etc/group":          "root:x:0:\napp:x:1000:\n",
		"var/www/index.html": "hello from busybox httpd\n",
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

// requireContainers skips the test unless containers can run here.
func requireContainers(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("containers need root")
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

// result is what one strata run printed and returned.
type result struct {
	Stdout, Stderr string
	Code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// env is one test's strata: a private root with the busybox image imported
// as "busybox", and a scratch directory.
type env struct {
	t    *testing.T
	base string // t.TempDir(): holds root and dir
	root string
	dir  string
	ids  map[string]bool // containers seen, checked for leftovers at the end
}

func newEnv(t *testing.T) *env {
	t.Helper()
	requireContainers(t)
	base := t.TempDir()
	e := &env{t: t, base: base, root: filepath.Join(base, "root"), dir: filepath.Join(base, "work"), ids: map[string]bool{}}
	if err := os.Mkdir(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.cleanup) // runs before t.TempDir's removal
	e.importImage("busybox")
	return e
}

// command builds `strata --root ROOT args...` bound to ctx.
func (e *env) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, strataBin, append([]string{"--root", e.root}, args...)...)
	cmd.Dir = e.dir
	cmd.Env = cleanEnv()
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRATA_") {
			out = append(out, kv)
		}
	}
	return out
}

// execIn runs strata with stdin (nil: empty) and a 2-minute limit.
func (e *env) execIn(stdin io.Reader, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		e.t.Fatalf("strata %s: timed out\n%s", strings.Join(args, " "), r)
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		e.t.Fatalf("strata %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func (e *env) exec(args ...string) result {
	e.t.Helper()
	return e.execIn(nil, args...)
}

// ok runs strata, fails the test unless it exits 0, and returns stdout.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	return e.okIn(nil, args...)
}

func (e *env) okIn(stdin io.Reader, args ...string) string {
	e.t.Helper()
	r := e.execIn(stdin, args...)
	if r.Code != 0 {
		e.t.Fatalf("strata %s: %s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// fail runs strata and fails the test unless it exits with code.
func (e *env) fail(code int, args ...string) result {
	e.t.Helper()
	r := e.exec(args...)
	if r.Code != code {
		e.t.Fatalf("strata %s: want exit %d, got %s", strings.Join(args, " "), code, r)
	}
	return r
}

// out runs strata, requires exit 0 and returns stdout without the trailing
// newline.
func (e *env) out(args ...string) string {
	e.t.Helper()
	return strings.TrimRight(e.ok(args...), "\n")
}

// importImage imports the busybox rootfs as name with Dockerfile changes;
// every image gets PATH and CMD ["/bin/sh"] first, as scripts/demo.sh does.
func (e *env) importImage(name string, changes ...string) string {
	e.t.Helper()
	return e.importBare(name, append([]string{`CMD ["/bin/sh"]`}, changes...)...)
}

// importBare imports the busybox rootfs with PATH and the changes only.
func (e *env) importBare(name string, changes ...string) string {
	e.t.Helper()
	args := []string{"import", "-c", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, c := range changes {
		args = append(args, "-c", c)
	}
	return e.out(append(args, busyboxTar, name)...)
}

// runD runs `run -d args...` and returns the container ID.
func (e *env) runD(args ...string) string {
	e.t.Helper()
	id := e.out(append([]string{"run", "-d"}, args...)...)
	if len(id) != 64 {
		e.t.Fatalf("run -d printed %q, want a container ID", id)
	}
	e.ids[id] = true
	return id
}

// create runs `create args...` and returns the container ID.
func (e *env) create(args ...string) string {
	e.t.Helper()
	id := e.out(append([]string{"create"}, args...)...)
	if len(id) != 64 {
		e.t.Fatalf("create printed %q, want a container ID", id)
	}
	e.ids[id] = true
	return id
}

// inspect prints one --format field of a container through `container
// inspect`, e.g. "{{.State.Status}}".
func (e *env) inspect(ref, format string) string {
	e.t.Helper()
	return e.out("container", "inspect", "--format", format, ref)
}

// status is ps's STATE ("running", "exited", ...) of a container.
func (e *env) status(ref string) string {
	e.t.Helper()
	return e.out("ps", "-a", "--filter", "id="+e.fullID(ref), "--format", "{{.State}}")
}

// fullID resolves a name or ID prefix through ps.
func (e *env) fullID(ref string) string {
	e.t.Helper()
	for _, line := range lines(e.ok("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}")) {
		id, name, _ := strings.Cut(line, " ")
		if name == ref || strings.HasPrefix(id, ref) {
			return id
		}
	}
	e.t.Fatalf("no container %s", ref)
	return ""
}

// waitFor polls cond every 50 ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// write puts a file in the scratch directory and returns its path.
func (e *env) write(name, body string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
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
		t.Fatalf("%s:\n got: %q\nwant: %q", what, got, want)
	}
}

func wantContains(t *testing.T, what, got string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(got, s) {
			t.Fatalf("%s: %q does not contain %q", what, got, s)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

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
