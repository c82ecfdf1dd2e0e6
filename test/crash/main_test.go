package crash

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// strataBin is the binary every test drives; TestMain sets it.
var strataBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := findBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash tests:", err)
		os.Exit(1)
	}
	strataBin = bin
	code := m.Run()
	removeFixtures()
	cleanup()
	os.Exit(code)
}

// findBinary returns $STRATA_BIN, else <module root>/bin/strata, else a
// binary built into a temporary directory (removed by cleanup).
func findBinary() (string, func(), error) {
	nop := func() {}
	if b := os.Getenv("STRATA_BIN"); b != "" {
		abs, err := filepath.Abs(b)
		return abs, nop, err
	}
	root, err := moduleRoot()
	if err != nil {
		return "", nop, err
	}
	if b := filepath.Join(root, "bin", "strata"); isExecutable(b) {
		return b, nop, nil
	}
	dir, err := os.MkdirTemp("", "strata-crash-bin-")
	if err != nil {
		return "", nop, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	b := filepath.Join(dir, "strata")
	cmd := exec.Command("go", "build", "-o", b, "./cmd/strata")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nop, fmt.Errorf("build strata: %v\n%s", err, out)
	}
	return b, cleanup, nil
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

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// store is one strata root driven through the binary.
type store struct {
	t    testing.TB
	root string
}

func newStore(t testing.TB) *store {
	return &store{t: t, root: filepath.Join(t.TempDir(), "root")}
}

// result is what one strata process did.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("strata %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

func (s *store) command(args ...string) *exec.Cmd {
	return exec.Command(strataBin, append([]string{"--root", s.root}, args...)...)
}

// run runs strata with args and returns what it did; a failure to start it
// is reported with Errorf (so workers may call it) and gives code -1.
func (s *store) run(args ...string) result {
	return s.runTo(nil, args...)
}

// runTo is run with stdout sent to out (nil: captured).
func (s *store) runTo(out io.Writer, args ...string) result {
	s.t.Helper()
	cmd := s.command(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if out != nil {
		cmd.Stdout = out
	}
	err := cmd.Run()
	res := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		s.t.Errorf("strata %s: %v", strings.Join(args, " "), err)
		res.code = -1
	}
	return res
}

// must runs strata and fails the test unless it exits 0; it returns stdout.
func (s *store) must(args ...string) string {
	s.t.Helper()
	res := s.run(args...)
	if res.code != 0 {
		s.t.Fatalf("%s", res)
	}
	return res.stdout
}
