package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/strata-dev/strata/internal/errdefs"
)

// CreateOpts tune Create.
type CreateOpts struct {
	// PidFile receives the container init's pid.
	PidFile string
	// ConsoleSocket is the unix socket (see NewConsoleSocket) that receives
	// the pty master when the spec asks for a terminal.
	ConsoleSocket string
	// Stdin, Stdout and Stderr are inherited by the container process when
	// it has no terminal; nil is /dev/null.
	Stdin, Stdout, Stderr *os.File
	// NoPivot uses MS_MOVE instead of pivot_root (for a rootfs on ramfs).
	NoPivot bool
}

// Status is a container's runtime state.
type Status string

// The statuses of the OCI runtime spec, plus runc's "paused".
const (
	StatusCreating Status = "creating"
	StatusCreated  Status = "created"
	StatusRunning  Status = "running"
	StatusStopped  Status = "stopped"
	StatusPaused   Status = "paused"
)

// State is what the runtime reports about a container.
type State struct {
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ExecOpts tune Exec.
type ExecOpts struct {
	// Detach returns once the process started; it is then reparented to
	// the nearest subreaper (see SetSubreaper) and must be waited for.
	// Without Detach, Exec waits and reports a non-zero exit as *ExitError.
	Detach bool
	// PidFile receives the process's pid.
	PidFile string
	// ConsoleSocket receives the pty master when proc.Terminal is set; the
	// runtime requires Detach with it.
	ConsoleSocket string
	// Stdin, Stdout and Stderr are given to the process when it has no
	// terminal; nil is /dev/null.
	Stdin, Stdout, Stderr *os.File
}

// Create sets up container id from the bundle directory (config.json and
// rootfs) and leaves its init waiting for Start. The init is a child of the
// runtime process, which exits: with SetSubreaper it becomes the caller's.
func (r *Runtime) Create(ctx context.Context, id, bundle string, opts CreateOpts) error {
	args := []string{"create", "--bundle", bundle}
	if opts.PidFile != "" {
		args = append(args, "--pid-file", opts.PidFile)
	}
	if opts.ConsoleSocket != "" {
		args = append(args, "--console-socket", opts.ConsoleSocket)
	}
	if opts.NoPivot {
		args = append(args, "--no-pivot")
	}
	args = append(args, id)
	return r.runWithStdio(ctx, [3]*os.File{opts.Stdin, opts.Stdout, opts.Stderr}, "create", id, args...)
}

// Start runs the created container's process.
func (r *Runtime) Start(ctx context.Context, id string) error {
	_, err := r.run(ctx, nil, "start", id, "start", id)
	return err
}

// State reports the container's status and init pid; a container the
// runtime does not know is ErrNotFound.
func (r *Runtime) State(ctx context.Context, id string) (State, error) {
	out, err := r.run(ctx, nil, "state", id, "state", id)
	if err != nil {
		return State{}, err
	}
	var st State
	if err := json.Unmarshal(out, &st); err != nil {
		return State{}, errdefs.Newf(errdefs.ErrUnavailable, "%s state %s: invalid output: %v", r.name(), id, err)
	}
	return st, nil
}

// Kill sends sig to the container's init, or with all to every process.
func (r *Runtime) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	args = append(args, id, strconv.Itoa(int(sig)))
	_, err := r.run(ctx, nil, "kill", id, args...)
	return err
}

// Delete removes the container's runtime state and cgroup; force kills it
// first if it still runs. Deleting a container that does not exist is not
// an error.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := r.run(ctx, nil, "delete", id, append(args, id)...)
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// Exec starts another process in the running container.
func (r *Runtime) Exec(ctx context.Context, id string, proc specs.Process, opts ExecOpts) error {
	f, err := os.CreateTemp("", "strata-process-*.json")
	if err != nil {
		return fmt.Errorf("%s exec %s: %w", r.name(), id, err)
	}
	defer os.Remove(f.Name())
	err = json.NewEncoder(f).Encode(&proc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s exec %s: write process: %w", r.name(), id, err)
	}
	args := []string{"exec", "--process", f.Name()}
	if opts.Detach {
		args = append(args, "--detach")
	}
	if opts.PidFile != "" {
		args = append(args, "--pid-file", opts.PidFile)
	}
	if opts.ConsoleSocket != "" {
		args = append(args, "--console-socket", opts.ConsoleSocket)
	}
	args = append(args, id)
	return r.runWithStdio(ctx, [3]*os.File{opts.Stdin, opts.Stdout, opts.Stderr}, "exec", id, args...)
}

// Pause freezes every process of the container.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	_, err := r.run(ctx, nil, "pause", id, "pause", id)
	return err
}

// Resume thaws a paused container.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	_, err := r.run(ctx, nil, "resume", id, "resume", id)
	return err
}

// Update changes a running container's resource limits.
func (r *Runtime) Update(ctx context.Context, id string, res specs.LinuxResources) error {
	b, err := json.Marshal(&res)
	if err != nil {
		return fmt.Errorf("%s update %s: %w", r.name(), id, err)
	}
	_, err = r.run(ctx, bytes.NewReader(b), "update", id, "update", "--resources", "-", id)
	return err
}

// Ps lists the host pids of the container's processes.
func (r *Runtime) Ps(ctx context.Context, id string) ([]int, error) {
	out, err := r.run(ctx, nil, "ps", id, "ps", "--format", "json", id)
	if err != nil {
		return nil, err
	}
	var pids []int
	if err := json.Unmarshal(out, &pids); err != nil {
		return nil, errdefs.Newf(errdefs.ErrUnavailable, "%s ps %s: invalid output: %v", r.name(), id, err)
	}
	return pids, nil
}

// Run creates, starts and waits for the container of bundle in the
// foreground (`runc run`), its process's stdio being stdio (nil entries:
// /dev/null). It returns nil when the process exits 0 and *ExitError for
// another status. The caller deletes the container afterwards.
func (r *Runtime) Run(ctx context.Context, id, bundle string, stdio [3]*os.File) error {
	return r.runWithStdio(ctx, stdio, "run", id, "run", "--bundle", bundle, id)
}
