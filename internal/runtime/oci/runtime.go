package oci

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Runtime is an OCI runtime binary (runc or crun, which share a command
// line) and the directory where it keeps container state.
type Runtime struct {
	// Binary is the runtime's path.
	Binary string
	// StateRoot is passed as --root; "" leaves the runtime's default
	// (/run/runc for runc).
	StateRoot string
}

// Find locates a runtime on PATH: name if given (a name or a path), else
// runc, then crun. It fails with ErrNotFound.
func Find(name string) (*Runtime, error) {
	candidates := []string{"runc", "crun"}
	if name != "" {
		candidates = []string{name}
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return &Runtime{Binary: p}, nil
		}
	}
	if name != "" {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "OCI runtime %q not found", name)
	}
	return nil, errdefs.Newf(errdefs.ErrNotFound, "no OCI runtime found: install runc or crun")
}

// name is the runtime's base name for messages ("runc").
func (r *Runtime) name() string {
	return filepath.Base(r.Binary)
}

// command builds a runtime invocation with the global flags first. logFile,
// when set, receives the runtime's own messages (used when the caller's
// stdio goes to the container, so the runtime's stderr cannot be read).
func (r *Runtime) command(ctx context.Context, logFile string, args ...string) *exec.Cmd {
	global := []string{"--log-format", "json"}
	if r.StateRoot != "" {
		global = append(global, "--root", r.StateRoot)
	}
	if logFile != "" {
		global = append(global, "--log", logFile)
	}
	return exec.CommandContext(ctx, r.Binary, append(global, args...)...)
}

// run executes a runtime command that needs no container stdio, feeding
// stdin (may be nil) and returning stdout. Failures carry the runtime's
// message.
func (r *Runtime) run(ctx context.Context, stdin io.Reader, op, id string, args ...string) ([]byte, error) {
	cmd := r.command(ctx, "", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, r.failure(ctx, op, id, stderr.Bytes(), err)
	}
	return stdout.Bytes(), nil
}

// runWithStdio executes a runtime command whose stdio is handed to a
// container process; the runtime's messages are read from a log file.
func (r *Runtime) runWithStdio(ctx context.Context, stdio [3]*os.File, op, id string, args ...string) error {
	logFile, err := os.CreateTemp("", "strata-"+r.name()+"-*.log")
	if err != nil {
		return fmt.Errorf("%s %s %s: create log file: %w", r.name(), op, id, err)
	}
	logPath := logFile.Name()
	logFile.Close()
	defer os.Remove(logPath)

	cmd := r.command(ctx, logPath, args...)
	// A nil *os.File must become a nil io.Reader/io.Writer (then /dev/null).
	if stdio[0] != nil {
		cmd.Stdin = stdio[0]
	}
	if stdio[1] != nil {
		cmd.Stdout = stdio[1]
	}
	if stdio[2] != nil {
		cmd.Stderr = stdio[2]
	}
	runErr := cmd.Run()
	if runErr == nil {
		return nil
	}
	logged, _ := os.ReadFile(logPath)
	var exitErr *exec.ExitError
	if errors.As(runErr, &exitErr) && (op == "exec" || op == "run") && len(errorMessages(logged)) == 0 && ctx.Err() == nil {
		// runc exec and run exit with the process's status; no logged
		// error means the runtime itself succeeded.
		return &ExitError{Code: exitErr.ExitCode()}
	}
	return r.failure(ctx, op, id, logged, runErr)
}

// ExitError is returned by a non-detached Exec whose process ran and exited
// with a non-zero status (128+N when killed by signal N).
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("process exited with status %d", e.Code)
}

// failure turns a failed runtime command into a classified error holding
// the runtime's own message: ErrNotFound for a missing container,
// ErrAlreadyExists, ErrConflict for a container in the wrong state, and
// ErrUnavailable for anything else the runtime could not do.
func (r *Runtime) failure(ctx context.Context, op, id string, output []byte, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s %s: %w", r.name(), op, id, ctx.Err())
	}
	msg := strings.Join(errorMessages(output), ": ")
	if msg == "" {
		msg = err.Error()
	}
	// runc repeats the command: "runc create failed: unable to start ...".
	msg = strings.TrimPrefix(msg, r.name()+" "+op+" failed: ")
	return errdefs.Newf(classify(msg), "%s %s %s: %s", r.name(), op, id, msg)
}

// errorMessages extracts the error-level messages of the runtime's JSON log
// lines; lines that are not JSON log entries are kept as they are.
func errorMessages(output []byte) []string {
	var msgs []string
	s := bufio.NewScanner(bytes.NewReader(output))
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" {
			continue
		}
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || entry.Level == "" {
			msgs = append(msgs, line)
			continue
		}
		if entry.Level == "error" || entry.Level == "fatal" || entry.Level == "panic" {
			msgs = append(msgs, strings.Join(strings.Fields(entry.Msg), " "))
		}
	}
	return msgs
}

// classify maps a runc or crun message to an error class.
func classify(msg string) error {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "does not exist"), strings.Contains(m, "no such file or directory") && strings.Contains(m, "status"):
		return errdefs.ErrNotFound
	case strings.Contains(m, "already exists"):
		return errdefs.ErrAlreadyExists
	case strings.Contains(m, "not running"), strings.Contains(m, "not paused"),
		strings.Contains(m, "cannot start"), strings.Contains(m, "already running"),
		strings.Contains(m, "is paused"), strings.Contains(m, "is stopped"),
		strings.Contains(m, "has stopped"), strings.Contains(m, "is running"):
		return errdefs.ErrConflict
	}
	return errdefs.ErrUnavailable
}
