package integration

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// strataBin is the binary under test: $STRATA_BIN, else <module>/bin/strata,
// else one built by TestMain.
var strataBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	bin, cleanup, err := testbin.Find()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer cleanup()
	strataBin = bin
	return m.Run()
}

// sandbox is one test's store: a private root next to a scratch dir.
type sandbox struct {
	t    *testing.T
	base string   // holds dir and root side by side
	dir  string   // scratch files (fixtures, archives); strata's working directory
	root string   // the --root
	env  []string // extra environment, KEY=VALUE
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	base := t.TempDir()
	s := &sandbox{t: t, base: base, dir: filepath.Join(base, "work"), root: filepath.Join(base, "root")}
	if err := os.Mkdir(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// exec runs strata --root ROOT args... with stdin, in the scratch dir and
// without the developer's STRATA_* variables.
func (s *sandbox) exec(stdin io.Reader, args ...string) testbin.Result {
	s.t.Helper()
	cmd := exec.Command(strataBin, append([]string{"--root", s.root}, args...)...)
	cmd.Dir = s.dir
	cmd.Env = testbin.Env(s.env...)
	cmd.Stdin = stdin
	r, err := testbin.Capture(cmd)
	if err != nil {
		s.t.Fatalf("strata %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func (s *sandbox) run(args ...string) testbin.Result {
	s.t.Helper()
	return s.exec(nil, args...)
}

// ok runs strata and fails the test unless it exits 0; it returns stdout.
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

// fail runs strata and fails the test unless it exits with code.
func (s *sandbox) fail(code int, args ...string) testbin.Result {
	s.t.Helper()
	return s.failIn(nil, code, args...)
}

func (s *sandbox) failIn(stdin io.Reader, code int, args ...string) testbin.Result {
	s.t.Helper()
	r := s.exec(stdin, args...)
	if r.Code != code {
		s.t.Fatalf("strata %s: want exit %d, got %s", strings.Join(args, " "), code, r)
	}
	return r
}

// write puts data in the scratch dir and returns its path.
func (s *sandbox) write(name string, data []byte) string {
	s.t.Helper()
	p := filepath.Join(s.dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// importTar imports data as name (none if "") and returns the printed ID.
func (s *sandbox) importTar(data []byte, name string, flags ...string) string {
	s.t.Helper()
	args := append([]string{"import"}, flags...)
	args = append(args, "-")
	if name != "" {
		args = append(args, name)
	}
	out := strings.TrimSpace(s.okIn(bytes.NewReader(data), args...))
	if !isID(out) {
		s.t.Fatalf("import printed %q, want an image ID", out)
	}
	return out
}

// load loads an archive from bytes and returns stdout.
func (s *sandbox) load(data []byte) string {
	s.t.Helper()
	return s.okIn(bytes.NewReader(data), "load")
}

// lines splits output into lines, without the final newline.
func lines(out string) []string {
	out = strings.TrimSuffix(out, "\n")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// isID reports whether s is sha256:<64 hex>.
func isID(s string) bool {
	hex, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range hex {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// short is the 12-character form of an ID.
func short(id string) string {
	return strings.TrimPrefix(id, "sha256:")[:12]
}

// blobBytes sums the sizes of the files under <root>/content/blobs.
func (s *sandbox) blobBytes() int64 {
	s.t.Helper()
	var total int64
	err := filepath.WalkDir(filepath.Join(s.root, "content", "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return total
}

// checkClean runs `system check` and fails unless it finds no problem.
func (s *sandbox) checkClean() {
	s.t.Helper()
	out := s.ok("system", "check")
	if !strings.Contains(out, " 0 problems") {
		s.t.Fatalf("system check: %s", out)
	}
}

// wantLines compares output with want line by line, showing both on failure.
func wantLines(t *testing.T, what, got string, want ...string) {
	t.Helper()
	w := strings.Join(want, "\n")
	if len(want) > 0 {
		w += "\n"
	}
	if got != w {
		t.Fatalf("%s:\n--- got\n%s--- want\n%s", what, got, w)
	}
}

func wantContains(t *testing.T, what, got string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(got, sub) {
			t.Fatalf("%s: %q does not contain %q", what, got, sub)
		}
	}
}
