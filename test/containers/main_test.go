// Package containers drives the built strata binary's container commands
// (inspect, prune, top, stats, update) on real containers: busybox from
// the host's /bin/busybox, run with the OCI runtime. The tests need root,
// runc or crun, and busybox; without them they are skipped.
package containers

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// strataBin is the binary under test: $STRATA_BIN, else <module>/bin/strata
// when it has the commands tested here, else one built by TestMain.
var strataBin string

// skipReason is why these tests cannot run here ("" if they can).
var skipReason string

// busyboxTar is a root filesystem with busybox and its applets.
var busyboxTar []byte

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	skipReason = prerequisites()
	if skipReason == "" {
		var err error
		if busyboxTar, err = busyboxRootfs(); err != nil {
			fmt.Fprintln(os.Stderr, "containers:", err)
			return 1
		}
	}
	bin, cleanup, err := testbin.Find(testbin.WithCommands("stats", "container prune"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "containers:", err)
		return 1
	}
	defer cleanup()
	strataBin = bin
	return m.Run()
}

func prerequisites() string {
	if os.Geteuid() != 0 {
		return "containers need root"
	}
	if _, err := exec.LookPath("runc"); err != nil {
		if _, err := exec.LookPath("crun"); err != nil {
			return "no OCI runtime (runc or crun) installed"
		}
	}
	if busyboxPath() == "" {
		return "busybox not installed (apt-get install busybox-static)"
	}
	if _, err := exec.LookPath("ps"); err != nil {
		return "ps not installed (procps)"
	}
	return ""
}

func busyboxPath() string {
	if p, err := exec.LookPath("busybox"); err == nil {
		return p
	}
	if st, err := os.Stat("/bin/busybox"); err == nil && st.Mode().IsRegular() {
		return "/bin/busybox"
	}
	return ""
}

// busyboxRootfs builds the tar scripts/demo.sh imports: /bin/busybox, a
// link per applet, /etc/passwd and /tmp.
func busyboxRootfs() ([]byte, error) {
	bb := busyboxPath()
	body, err := os.ReadFile(bb)
	if err != nil {
		return nil, err
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, data []byte) {
		if err == nil {
			err = tw.WriteHeader(h)
		}
		if err == nil && len(data) > 0 {
			_, err = tw.Write(data)
		}
	}
	for _, d := range []string{"bin/", "etc/", "tmp/"} {
		add(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	}
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body))}, body)
	for _, app := range strings.Fields(string(list)) {
		if app != "busybox" && !strings.Contains(app, "/") {
			add(&tar.Header{Name: "bin/" + app, Typeflag: tar.TypeSymlink, Linkname: "busybox"}, nil)
		}
	}
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\n")
	add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(passwd))}, passwd)
	if err == nil {
		err = tw.Close()
	}
	return buf.Bytes(), err
}

// sandbox is one test's store with busybox imported; every container
// created in it is removed when the test ends.
type sandbox struct {
	t    *testing.T
	root string
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	s := &sandbox{t: t, root: filepath.Join(t.TempDir(), "root")}
	t.Cleanup(s.removeAll)
	s.okIn(bytes.NewReader(busyboxTar), "import", "-c", `CMD ["/bin/sh"]`, "-c", "ENV PATH=/bin", "-", "busybox")
	return s
}

// removeAll force-removes every container, so no process or mount
// outlives the test (and its temporary directory can go).
func (s *sandbox) removeAll() {
	ids := strings.Fields(s.run("ps", "-aq", "--no-trunc").Stdout)
	if len(ids) > 0 {
		if r := s.run(append([]string{"rm", "-f"}, ids...)...); r.Code != 0 {
			s.t.Errorf("cleanup: %s", r)
		}
	}
}

func (s *sandbox) exec(stdin io.Reader, args ...string) testbin.Result {
	s.t.Helper()
	r, err := testbin.Run(strataBin, testbin.Env(), stdin, append([]string{"--root", s.root}, args...)...)
	if err != nil {
		s.t.Fatalf("strata %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func (s *sandbox) run(args ...string) testbin.Result {
	s.t.Helper()
	return s.exec(nil, args...)
}

// ok runs strata, fails the test unless it exits 0, and returns stdout.
func (s *sandbox) ok(args ...string) string {
	s.t.Helper()
	return s.okIn(nil, args...)
}

func (s *sandbox) okIn(stdin io.Reader, args ...string) string {
	s.t.Helper()
	r := s.exec(stdin, args...)
	if r.Code != 0 {
		s.t.Fatalf("strata %s: %s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// fail runs strata and fails the test unless it exits with code and
// prints wantErr on stderr.
func (s *sandbox) fail(code int, wantErr string, args ...string) testbin.Result {
	s.t.Helper()
	r := s.exec(nil, args...)
	if r.Code != code || !strings.Contains(r.Stderr, wantErr) {
		s.t.Fatalf("strata %s: want exit %d and %q, got %s", strings.Join(args, " "), code, wantErr, r)
	}
	return r
}

// start runs a detached container and returns its ID.
func (s *sandbox) start(args ...string) string {
	s.t.Helper()
	id := strings.TrimSpace(s.ok(append([]string{"run", "-d"}, args...)...))
	if len(id) != 64 {
		s.t.Fatalf("run -d printed %q, want a container ID", id)
	}
	return id
}
