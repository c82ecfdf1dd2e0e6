package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "strata-registry-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if strataBin, err = findBinary(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		return 1
	}
	if _, err := os.Stat("/bin/busybox"); err == nil {
		if busyboxTar, err = makeBusyboxTar(tmp); err != nil {
			fmt.Fprintln(os.Stderr, "registry: busybox rootfs:", err)
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

// makeBusyboxTar builds a root filesystem of /bin/busybox with its applets
// and an /etc/passwd.
func makeBusyboxTar(dir string) (string, error) {
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "root"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return "", err
		}
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
	if err := os.WriteFile(filepath.Join(rootfs, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		return "", err
	}
	tarPath := filepath.Join(dir, "busybox.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", tarPath, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("tar: %w: %s", err, out)
	}
	return tarPath, nil
}

// requireBusybox skips the test unless the busybox rootfs could be made.
func requireBusybox(t *testing.T) {
	t.Helper()
	if busyboxTar == "" {
		t.Skip("/bin/busybox is missing: apt-get install busybox-static")
	}
}

// sandbox is one client's world: a strata root, and a private HOME,
// DOCKER_CONFIG and strata config file, so credentials and settings never
// touch the real home. Several sandboxes may share a home (see withRoot).
type sandbox struct {
	t    *testing.T
	base string // scratch files
	root string // strata --root
	home string // HOME; DOCKER_CONFIG is home/.docker
	conf string // $STRATA_CONFIG
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	base := t.TempDir()
	s := &sandbox{t: t, base: base, root: filepath.Join(base, "root"), home: filepath.Join(base, "home"),
		conf: filepath.Join(base, "strata.json")}
	if err := os.MkdirAll(filepath.Join(s.home, ".docker"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, s.conf, "{}")
	return s
}

// withRoot is s with another strata root (a fresh store) and the same home.
func (s *sandbox) withRoot(name string) *sandbox {
	c := *s
	c.root = filepath.Join(s.base, name)
	return &c
}

// dockerConfig is the DOCKER_CONFIG directory.
func (s *sandbox) dockerConfig() string { return filepath.Join(s.home, ".docker") }

// environ is the environment of every program the sandbox runs.
func (s *sandbox) environ(extra ...string) []string {
	return testbin.Env(append([]string{
		"HOME=" + s.home,
		"DOCKER_CONFIG=" + s.dockerConfig(),
		"REGISTRY_AUTH_FILE=" + filepath.Join(s.dockerConfig(), "config.json"),
		"XDG_RUNTIME_DIR=" + s.home,
		"XDG_CONFIG_HOME=" + filepath.Join(s.home, ".config"),
		"TMPDIR=" + s.base,
		"STRATA_CONFIG=" + s.conf,
	}, extra...)...)
}

// strata runs `strata --root ROOT args...` with stdin (nil: empty) and a
// 2-minute limit.
func (s *sandbox) strata(stdin io.Reader, args ...string) testbin.Result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin, append([]string{"--root", s.root}, args...)...)
	cmd.Dir = s.base
	cmd.Env = s.environ()
	cmd.WaitDelay = 5 * time.Second
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	cmd.Stdin = stdin
	r, err := testbin.Capture(cmd)
	switch {
	case ctx.Err() != nil:
		s.t.Fatalf("strata %s: timed out\n%s", strings.Join(args, " "), r)
	case err != nil:
		s.t.Fatalf("strata %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func (s *sandbox) run(args ...string) testbin.Result {
	s.t.Helper()
	return s.strata(nil, args...)
}

// ok runs strata, fails the test unless it exits 0, and returns stdout.
func (s *sandbox) ok(args ...string) string {
	s.t.Helper()
	r := s.run(args...)
	if r.Code != 0 {
		s.t.Fatalf("strata %s: %s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// out is ok's stdout without the trailing newline.
func (s *sandbox) out(args ...string) string {
	s.t.Helper()
	return strings.TrimRight(s.ok(args...), "\n")
}

// fail runs strata and fails the test unless it exits with code.
func (s *sandbox) fail(code int, args ...string) testbin.Result {
	s.t.Helper()
	r := s.run(args...)
	if r.Code != code {
		s.t.Fatalf("strata %s: want exit %d, got %s", strings.Join(args, " "), code, r)
	}
	return r
}

// importBusybox imports the busybox rootfs as name and returns its ID.
func (s *sandbox) importBusybox(name string) string {
	s.t.Helper()
	requireBusybox(s.t)
	return s.out("import", "-c", `CMD ["/bin/sh"]`, busyboxTar, name)
}

// checkClean runs `system check` and fails unless it finds no problem.
func (s *sandbox) checkClean() {
	s.t.Helper()
	out := s.ok("system", "check")
	if !strings.Contains(out, " 0 problems") {
		s.t.Fatalf("system check: %s", out)
	}
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

// lines splits output into lines without the final newline.
func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func wantContains(t *testing.T, what, got string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(got, sub) {
			t.Errorf("%s: %q does not contain %q", what, got, sub)
		}
	}
}

func wantNotContains(t *testing.T, what, got string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(got, sub) {
			t.Errorf("%s: %q contains %q", what, got, sub)
		}
	}
}
