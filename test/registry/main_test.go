package registry

import (
	"context"
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
	os.Exit(testbin.Main(m, "registry", func(bin, tar string) { strataBin, busyboxTar = bin, tar }))
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
	testbin.WriteFile(t, s.conf, "{}")
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
