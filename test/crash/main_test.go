package crash

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// strataBin is the binary every test drives; TestMain sets it.
var strataBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := testbin.Find()
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
	args []string
	testbin.Result
}

func (r result) String() string {
	return fmt.Sprintf("strata %s: %s", strings.Join(r.args, " "), r.Result)
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
	cmd.Stdout = out
	res, err := testbin.Capture(cmd)
	if err != nil {
		s.t.Errorf("strata %s: %v", strings.Join(args, " "), err)
	}
	return result{args: args, Result: res}
}

// must runs strata and fails the test unless it exits 0; it returns stdout.
func (s *store) must(args ...string) string {
	s.t.Helper()
	res := s.run(args...)
	if res.Code != 0 {
		s.t.Fatalf("%s", res)
	}
	return res.Stdout
}
