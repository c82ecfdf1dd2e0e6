package container

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/runtime/oci"
)

// execTty runs an exec process with a terminal. The runtime hands the pty
// master over a console socket (which it only allows detached), and this
// process, made a subreaper, waits for the exec'd process and copies
// between the pty and the caller's stdio, as the monitor does for `run -t`.
// So `exec -t` works whether or not the caller has a terminal.
func (m *Manager) execTty(ctx context.Context, id string, proc specs.Process, o ExecOptions) (int, error) {
	if err := oci.SetSubreaper(); err != nil {
		return 0, err
	}
	dir := filepath.Dir(m.sockPath(id))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	base := filepath.Join(dir, "exec-"+newID()[:16])
	cs, err := oci.NewConsoleSocket(base + ".tty")
	if err != nil {
		return 0, err
	}
	defer cs.Close()
	pidFile := base + ".pid"
	defer os.Remove(pidFile)
	done := make(chan error, 1)
	go func() {
		done <- m.Runtime.Exec(ctx, id, proc, oci.ExecOpts{Detach: true, PidFile: pidFile, ConsoleSocket: cs.Path()})
	}()
	pty, err := acceptConsole(cs, done)
	if err != nil {
		return 0, startError(err.Error())
	}
	defer pty.Close()
	if err := <-done; err != nil {
		return 0, startError(err.Error())
	}
	pid, err := oci.ReadPidFile(pidFile)
	if err != nil {
		return 0, err
	}
	if o.Resize != nil {
		go func() {
			for sz := range o.Resize {
				_ = unix.IoctlSetWinsize(int(pty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: sz[0], Col: sz[1]})
			}
		}()
	}
	if o.Stdin != nil {
		go func() { _, _ = io.Copy(pty, o.Stdin) }()
	}
	copied := make(chan struct{})
	go func() {
		if o.Stdout != nil {
			_, _ = io.Copy(o.Stdout, pty) // ends with EIO once the process and its children closed the pty
		}
		close(copied)
	}()
	code, err := oci.Wait(pid)
	if err != nil {
		return 0, err
	}
	waitTimeout(copied, 2*time.Second)
	return code, nil
}

var errNoTerminal = errors.New("the runtime did not hand over a terminal")

// acceptConsole waits for the pty master, or for the runtime to fail first.
func acceptConsole(cs *oci.ConsoleSocket, done chan error) (*os.File, error) {
	got := make(chan *os.File, 1)
	go func() {
		f, err := cs.Accept()
		if err != nil {
			f = nil
		}
		got <- f
	}()
	select {
	case f := <-got:
		if f == nil {
			return nil, errNoTerminal
		}
		return f, nil
	case err := <-done:
		cs.Close()
		if err == nil {
			err = errNoTerminal
		}
		return nil, err
	}
}
