package run

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
	os.Exit(testbin.Main(m, "run", func(bin, tar string) { strataBin, busyboxTar = bin, tar },
		testbin.WithUser("app", 1000, 1000),
		testbin.WithFile("var/www/index.html", "hello from busybox httpd\n")))
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
type result = testbin.Result

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
	cmd.Env = testbin.Env()
	cmd.WaitDelay = 5 * time.Second
	return cmd
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
	for _, line := range testbin.Lines(e.ok("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}")) {
		id, name, _ := strings.Cut(line, " ")
		if name == ref || strings.HasPrefix(id, ref) {
			return id
		}
	}
	e.t.Fatalf("no container %s", ref)
	return ""
}

// write puts a file in the scratch directory and returns its path.
func (e *env) write(name, body string) string {
	e.t.Helper()
	return testbin.WriteFile(e.t, filepath.Join(e.dir, name), body)
}

// wantEq and wantContains stop the test at the first mismatch, unlike
// testbin's WantEq and WantContains, which go on.

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
