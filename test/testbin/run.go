package testbin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Result is what one run of the binary printed and returned.
type Result struct {
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Run runs bin with args and waits for it. env is its whole environment
// (nil: this process's); stdin nil reads as empty (/dev/null). See Capture
// for the result.
func Run(bin string, env []string, stdin io.Reader, args ...string) (Result, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = stdin
	return Capture(cmd)
}

// Capture runs cmd and returns its exit code and what it printed on the
// stdout and stderr it was not already given (those stay the caller's). A
// non-zero exit is not an error: the error says cmd could not be run or
// waited for, and Code is then -1.
func Capture(cmd *exec.Cmd) (Result, error) {
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	case err != nil:
		r.Code = -1
		return r, err
	}
	return r, nil
}

// Env returns this process's environment without strata's own STRATA_*
// variables, so that a developer's settings do not leak into the tests,
// followed by extra (KEY=VALUE).
func Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRATA_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}
