package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// script writes an executable shell script into a temporary directory.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fake")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRun(t *testing.T) {
	bin := script(t, `echo "out $1 $FOO"; cat; echo err >&2; exit 3`)
	r, err := Run(bin, []string{"FOO=bar"}, strings.NewReader("in\n"), "arg")
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Stdout: "out arg bar\nin\n", Stderr: "err\n", Code: 3}
	if r != want {
		t.Fatalf("got %+v, want %+v", r, want)
	}
	if s := r.String(); !strings.HasPrefix(s, "exit 3\nstdout:\nout arg bar\n") || !strings.HasSuffix(s, "stderr:\nerr\n") {
		t.Fatalf("String() = %q", s)
	}
	r, err = Run(bin, nil, nil)
	if err != nil || r.Stdout != "out  \n" || r.Code != 3 {
		t.Fatalf("nil stdin and env: %+v, %v", r, err)
	}
}

func TestCaptureKeepsGivenStdout(t *testing.T) {
	var out strings.Builder
	cmd := exec.Command(script(t, `echo streamed; echo err >&2`))
	cmd.Stdout = &out
	r, err := Capture(cmd)
	if err != nil || r.Code != 0 || r.Stdout != "" || r.Stderr != "err\n" || out.String() != "streamed\n" {
		t.Fatalf("got %+v, %v; writer got %q", r, err, out.String())
	}
}

func TestCaptureStartFailure(t *testing.T) {
	r, err := Run(filepath.Join(t.TempDir(), "missing"), nil, nil)
	if err == nil || r.Code != -1 {
		t.Fatalf("got %+v, %v; want an error and code -1", r, err)
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("STRATA_TESTBIN_X", "1")
	t.Setenv("TESTBIN_KEEP", "1")
	env := Env("A=b")
	if slices.Contains(env, "STRATA_TESTBIN_X=1") || !slices.Contains(env, "TESTBIN_KEEP=1") || env[len(env)-1] != "A=b" {
		t.Fatalf("Env: %v", env)
	}
}

func TestFindStrataBin(t *testing.T) {
	bin := script(t, "exit 0")
	t.Setenv("STRATA_BIN", bin)
	got, cleanup, err := Find()
	cleanup()
	if err != nil || got != bin {
		t.Fatalf("Find() = %q, %v; want %q", got, err, bin)
	}
	t.Setenv("STRATA_BIN", bin+"-missing")
	if _, cleanup, err := Find(); err == nil {
		t.Fatal("Find accepted a missing $STRATA_BIN")
	} else {
		cleanup()
	}
}

func TestWithCommands(t *testing.T) {
	bin := script(t, `[ "$*" = "stats --help" ] || [ "$*" = "container prune --help" ]`)
	var f finder
	WithCommands("stats", "container prune")(&f)
	if !f.accepts(bin) {
		t.Fatal("a binary with both commands was refused")
	}
	WithCommands("top")(&f)
	if f.accepts(bin) {
		t.Fatal("a binary without top was accepted")
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !strings.HasPrefix(string(mod), "module github.com/strata-dev/strata\n") {
		t.Fatalf("ModuleRoot() = %s: go.mod %q, %v", root, mod, err)
	}
}

// TestTool finds an installed tool and reports a missing one as "".
func TestTool(t *testing.T) {
	if p := Tool("go"); p == "" || !filepath.IsAbs(p) && !strings.Contains(p, "/") {
		t.Fatalf(`Tool("go") = %q`, p)
	}
	if p := Tool("strata-no-such-tool"); p != "" {
		t.Fatalf("a missing tool found at %q", p)
	}
}
