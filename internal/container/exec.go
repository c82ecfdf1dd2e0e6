package container

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/runtime/oci"
	"github.com/strata-dev/strata/internal/runtime/spec"
)

// ExecOptions are exec's flags.
type ExecOptions struct {
	Args       []string
	Env        []string
	WorkingDir string
	User       *string
	Tty        bool
	Detach     bool
	Stdin      *os.File // nil: /dev/null
	Stdout     *os.File
	Stderr     *os.File
	Resize     <-chan [2]uint16 // with Tty: terminal sizes (rows, cols)
}

// Exec runs another process in a running container and returns its exit
// code (0 when detached, whose output is discarded, as Docker does). With a
// terminal, the pty is copied to and from the caller's stdio (execTty).
func (m *Manager) Exec(ctx context.Context, ref string, o ExecOptions) (int, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return 0, err
	}
	if c.State == metadata.StatePaused {
		return 0, errdefs.Newf(errdefs.ErrConflict, "container %s is paused, unpause the container before exec", c.ID)
	}
	if c.State != metadata.StateRunning {
		return 0, errdefs.Newf(errdefs.ErrConflict, "container %s is not running", c.ID)
	}
	if len(o.Args) == 0 {
		return 0, errdefs.Newf(errdefs.ErrInvalidArgument, "no command specified")
	}
	proc, err := m.execProcess(c, o)
	if err != nil {
		return 0, err
	}
	opts := oci.ExecOpts{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr}
	switch {
	case o.Detach:
		proc.Terminal = false
		opts = oci.ExecOpts{Detach: true}
	case o.Tty:
		return m.execTty(ctx, c.ID, proc, o)
	}
	err = m.Runtime.Exec(ctx, c.ID, proc, opts)
	var ee *oci.ExitError
	if errors.As(err, &ee) {
		return ee.Code, nil
	}
	if err != nil {
		return 0, startError(err.Error())
	}
	return 0, nil
}

// execProcess starts from the container's own process settings (caps,
// rlimits, env) and applies exec's flags.
func (m *Manager) execProcess(c metadata.Container, o ExecOptions) (specs.Process, error) {
	b, err := os.ReadFile(filepath.Join(m.dir(c.ID), "config.json"))
	if err != nil {
		return specs.Process{}, err
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil || s.Process == nil {
		return specs.Process{}, errdefs.Newf(errdefs.ErrCorrupt, "container %s has a broken bundle config", c.ID[:12])
	}
	p := *s.Process
	p.Args = o.Args
	p.Terminal = o.Tty
	p.ConsoleSize = nil
	if len(o.Env) > 0 {
		p.Env = spec.MergeEnv(p.Env, o.Env)
	}
	if o.WorkingDir != "" {
		if err := checkPath("working directory", o.WorkingDir); err != nil {
			return p, err
		}
		p.Cwd = o.WorkingDir
	}
	if o.User != nil {
		u, err := spec.ResolveUser(filepath.Join(m.dir(c.ID), "rootfs"), *o.User)
		if err != nil {
			return p, err
		}
		p.User = specs.User{UID: u.UID, GID: u.GID, AdditionalGids: u.AdditionalGids}
	}
	return p, nil
}
