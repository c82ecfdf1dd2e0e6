package container

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/flock"
	"github.com/strata-dev/strata/internal/metadata"
)

// StartError is a container that could not be started; Code is the exit
// status Docker's CLI uses for it (125 strata failed, 126 command cannot be
// invoked, 127 command not found).
type StartError struct {
	Code int
	Msg  string
}

func (e *StartError) Error() string { return e.Msg }
func (e *StartError) Unwrap() error { return errdefs.ErrUnavailable }

func startError(msg string) *StartError {
	code := 125
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		code = 127
	case strings.Contains(msg, "permission denied"):
		code = 126
	}
	return &StartError{Code: code, Msg: msg}
}

// Start launches the container's monitor and returns once the container
// runs (or, with waitAttach, once it is created and waits for the first
// attach before it starts, so no output is lost).
func (m *Manager) Start(ctx context.Context, ref string, waitAttach bool) (metadata.Container, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return c, err
	}
	// One start at a time: a second one waits, then finds it running.
	unlock, err := flock.Exclusive(filepath.Join(m.dir(c.ID), "start.lock"))
	if err != nil {
		return c, err
	}
	defer unlock()
	if c, err = m.Get(ctx, c.ID); err != nil {
		return c, err
	}
	if alive(c) {
		if c.State == metadata.StateCreated {
			// Its monitor waits for a first client (the `run` that
			// started it was interrupted): let it go.
			if !waitAttach {
				_, _ = call(m.sockPath(c.ID), request{Op: opStart})
			}
			return c, nil
		}
		if !running(c.State) {
			waitExit(ctx, c) // the last run's monitor is still tearing down
			if c, err = m.Get(ctx, c.ID); err != nil {
				return c, err
			}
		}
	}
	switch c.State {
	case metadata.StateRunning, metadata.StateRestarting:
		return c, nil // Docker: starting a running container is a no-op
	case metadata.StatePaused:
		return c, errdefs.Newf(errdefs.ErrConflict, "cannot start a paused container, try unpause instead")
	case metadata.StateRemoving, metadata.StateDead:
		return c, errdefs.Newf(errdefs.ErrConflict, "container %s is marked for removal and cannot be started", c.ID[:12])
	}
	if m.Runtime == nil {
		return c, errdefs.Newf(errdefs.ErrUnavailable, "no OCI runtime found: install runc or crun")
	}
	if err := m.spawnMonitor(c.ID, waitAttach); err != nil {
		return c, err
	}
	return m.Meta.GetContainer(ctx, c.ID)
}

func (m *Manager) spawnMonitor(id string, waitAttach bool) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	logf, err := os.OpenFile(filepath.Join(m.dir(id), "monitor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		w.Close()
		return err
	}
	defer logf.Close()
	args := []string{"--root", m.StrataRoot, "container-monitor", id}
	if waitAttach {
		args = append(args, "--wait-attach")
	}
	cmd := exec.Command(m.Exe, args...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("start container monitor: %w", err)
	}
	go func() { _ = cmd.Wait() }() // reap it if it ends while we still run
	msg, _ := io.ReadAll(r)
	text := strings.TrimSpace(string(msg))
	if text == "ok" {
		return nil
	}
	if text == "" {
		text = "container monitor exited during start; see " + filepath.Join(m.dir(id), "monitor.log")
	}
	return startError(strings.TrimPrefix(text, "error: "))
}

// sockPath is the monitor socket of a container. Unix socket paths are
// limited to 107 bytes, so they live in a short directory: <root>/run, or a
// /tmp directory named after the root when the root's path is long.
func (m *Manager) sockPath(id string) string {
	dir := filepath.Join(m.StrataRoot, "run")
	if len(dir) > 70 {
		sum := sha256.Sum256([]byte(m.StrataRoot))
		dir = filepath.Join(os.TempDir(), "strata-"+hex.EncodeToString(sum[:6]))
	}
	return filepath.Join(dir, id[:16]+".sock")
}

func (m *Manager) consolePath(id string) string {
	return strings.TrimSuffix(m.sockPath(id), ".sock") + ".tty"
}
