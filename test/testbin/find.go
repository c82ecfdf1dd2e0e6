package testbin

import (
	"errors"
	"fmt"
	gobuild "go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Option adjusts Find.
type Option func(*finder)

type finder struct {
	commands [][]string // each must answer --help for bin/strata to be used
}

// WithCommands makes Find use <module root>/bin/strata only if it has every
// command given, such as "stats" or "container prune" (checked by running
// it with --help), so that a binary built before those commands existed is
// not tested; otherwise Find builds a fresh one.
func WithCommands(cmds ...string) Option {
	return func(f *finder) {
		for _, c := range cmds {
			f.commands = append(f.commands, append(strings.Fields(c), "--help"))
		}
	}
}

// Find returns the absolute path of the strata binary to test: $STRATA_BIN
// if set (it must be a file), else <module root>/bin/strata if it is an
// executable file that passes the options' checks, else one built with
// CGO_ENABLED=0 into a temporary directory. cleanup removes what Find
// built; it is never nil.
func Find(opts ...Option) (bin string, cleanup func(), err error) {
	nothing := func() {}
	var f finder
	for _, o := range opts {
		o(&f)
	}
	if b := os.Getenv("STRATA_BIN"); b != "" {
		abs, err := strataBin(b)
		return abs, nothing, err
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", nothing, err
	}
	if b := filepath.Join(root, "bin", "strata"); isExecutable(b) && f.accepts(b) {
		return b, nothing, nil
	}
	dir, err := os.MkdirTemp("", "strata-bin-")
	if err != nil {
		return "", nothing, err
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	if bin, err = build(root, dir); err != nil {
		cleanup()
		return "", nothing, err
	}
	return bin, cleanup, nil
}

// FindFresh returns the absolute path of the strata binary to test:
// $STRATA_BIN if set (it must be a file), else one built from the module
// into dir, so that the tests run the code they sit next to rather than an
// older bin/strata.
func FindFresh(dir string) (string, error) {
	if b := os.Getenv("STRATA_BIN"); b != "" {
		return strataBin(b)
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return build(root, dir)
}

// strataBin makes $STRATA_BIN absolute and checks that it is a file.
func strataBin(b string) (string, error) {
	abs, err := filepath.Abs(b)
	if err == nil && !isFile(abs) {
		err = fmt.Errorf("STRATA_BIN=%s: no such file", b)
	}
	return abs, err
}

// accepts reports whether bin has every command f requires.
func (f *finder) accepts(bin string) bool {
	for _, args := range f.commands {
		if exec.Command(bin, args...).Run() != nil {
			return false
		}
	}
	return true
}

// build compiles ./cmd/strata of the module at root into dir/strata, as
// `make build` does (CGO_ENABLED=0, -trimpath).
func build(root, dir string) (string, error) {
	b, err := filepath.Abs(filepath.Join(dir, "strata"))
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", b, "./cmd/strata")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build strata: %w\n%s", err, out)
	}
	return b, nil
}

// ModuleRoot returns the directory of the go.mod at or above the working
// directory: the root of the strata module when run by go test.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Tool returns where a test tool is installed: PATH, else the bin
// directory of each GOPATH entry (where `go install` puts it), else
// /root/go/bin; "" if nowhere.
func Tool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	dirs := append(filepath.SplitList(gobuild.Default.GOPATH), "/root/go")
	for _, dir := range dirs {
		if p := filepath.Join(dir, "bin", name); isFile(p) {
			return p
		}
	}
	return ""
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}
