package oci

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
	"golang.org/x/sys/unix"
)

// SetSubreaper makes the calling process a child subreaper
// (PR_SET_CHILD_SUBREAPER). A container's init is the child of `runc
// create`, which exits right away; the init is then reparented to the
// nearest subreaper, so the process that created it (strata's container
// monitor) can Wait for it and read its exit status. The setting is
// per-process and survives for its lifetime.
func SetSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set child subreaper: %w", err)
	}
	return nil
}

// Wait blocks until child pid exits and returns its exit code: the status,
// or 128+N when killed by signal N (as a shell reports it). pid must be a
// child of the caller (see SetSubreaper); nothing else may reap it.
func Wait(pid int) (int, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.ECHILD) {
			return -1, errdefs.Newf(errdefs.ErrNotFound, "wait for pid %d: not a child of this process (is it a subreaper?)", pid)
		}
		if err != nil {
			return -1, fmt.Errorf("wait for pid %d: %w", pid, err)
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// ReadPidFile reads a pid file written by the runtime (--pid-file).
func ReadPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, errdefs.Newf(errdefs.ErrCorrupt, "pid file %s: invalid pid %q", path, b)
	}
	return pid, nil
}
