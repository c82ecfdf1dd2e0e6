package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/runtime/spec"
)

// running reports whether a state has a live process behind it.
func running(state string) bool {
	return state == metadata.StateRunning || state == metadata.StatePaused || state == metadata.StateRestarting
}

// IsRunning reports whether c counts as running for ps, rm and rmi.
func IsRunning(c metadata.Container) bool { return running(c.State) }

// reconcile fixes the record of a container whose monitor died (kill -9):
// its process is killed, its mounts and network released, and it is marked
// exited with Docker's 255 for "unknown".
func (m *Manager) reconcile(ctx context.Context, c metadata.Container) (metadata.Container, error) {
	if c.MonitorPid == 0 && !running(c.State) || alive(c) {
		return c, nil
	}
	m.cleanupRun(ctx, c.ID)
	return m.Meta.UpdateContainer(ctx, c.ID, func(cur *metadata.Container) error {
		if cur.MonitorPid != c.MonitorPid || alive(*cur) {
			return nil // a new monitor took over meanwhile
		}
		if running(cur.State) {
			cur.State, cur.ExitCode, cur.FinishedAt = metadata.StateExited, 255, time.Now().UTC()
		}
		cur.MonitorPid, cur.MonitorStart, cur.Pid = 0, 0, 0
		return nil
	})
}

// Stop sends the stop signal, waits up to timeout (nil: the container's
// own, default 10 s), then kills. It returns once the container is down.
func (m *Manager) Stop(ctx context.Context, ref string, timeout *int) (metadata.Container, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return c, err
	}
	if !running(c.State) {
		waitExit(ctx, c) // it may have just ended: let its monitor finish
		return m.stopped(ctx, c)
	}
	cfg, err := decodeConfig(c.Config)
	if err != nil {
		return c, err
	}
	t := cfg.StopTime
	if timeout != nil {
		t = *timeout
	}
	if c.State == metadata.StatePaused {
		_ = m.Runtime.Resume(ctx, c.ID)
	}
	if _, err := call(m.sockPath(c.ID), request{Op: opStop, Timeout: t}); err != nil {
		// The monitor is gone: do its job.
		_ = m.Runtime.Kill(ctx, c.ID, unix.SIGKILL, true)
		return m.reconcile(ctx, c)
	}
	waitExit(ctx, c)
	return m.stopped(ctx, c)
}

// stopped re-reads a container after it stopped; one that --rm removed
// meanwhile is returned as it was, without an error, as Docker's stop does.
func (m *Manager) stopped(ctx context.Context, c metadata.Container) (metadata.Container, error) {
	cur, err := m.Get(ctx, c.ID)
	if errdefs.IsNotFound(err) {
		return c, nil
	}
	return cur, err
}

// Kill sends a signal (default SIGKILL) to the container's process.
func (m *Manager) Kill(ctx context.Context, ref, signal string) (metadata.Container, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return c, err
	}
	if !running(c.State) {
		return c, errdefs.Newf(errdefs.ErrConflict, "cannot kill container: %s: container %s is not running", ref, c.ID)
	}
	if signal != "" {
		if _, err := spec.ParseSignal(signal); err != nil {
			return c, err
		}
	}
	rep, err := call(m.sockPath(c.ID), request{Op: opKill, Signal: signal})
	if err != nil {
		_ = m.Runtime.Kill(ctx, c.ID, unix.SIGKILL, true)
		return m.reconcile(ctx, c)
	}
	if rep.Error != "" {
		return c, errdefs.Newf(errdefs.ErrUnavailable, "cannot kill container %s: %s", ref, rep.Error)
	}
	return c, nil
}

// Wait blocks until the container has stopped for good and returns its
// exit code.
func (m *Manager) Wait(ctx context.Context, ref string) (int, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return 0, err
	}
	// Like Docker, waiting on a container that was created but never
	// started blocks until it has been started and has stopped.
	for c.State == metadata.StateCreated && c.MonitorPid == 0 {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if c, err = m.Get(ctx, c.ID); err != nil {
			return 0, err
		}
	}
	if c.MonitorPid != 0 {
		if rep, err := call(m.sockPath(c.ID), request{Op: opWait}); err == nil {
			waitExit(ctx, c)
			return rep.ExitCode, nil
		}
		if c, err = m.Get(ctx, c.ID); err != nil {
			return 0, err
		}
	}
	return c.ExitCode, nil
}

// RemoveOptions are rm's flags.
type RemoveOptions struct {
	Force   bool // kill a running container first
	Volumes bool // also remove its anonymous volumes
}

// Remove deletes a container: its process (with Force), mounts, network,
// writable layer, files and record.
func (m *Manager) Remove(ctx context.Context, ref string, o RemoveOptions) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if running(c.State) {
		if !o.Force {
			return errdefs.Newf(errdefs.ErrConflict, "cannot remove container %q: container is running: stop the container before removing or force remove", "/"+c.Name)
		}
		zero := 0
		if _, err = m.Stop(ctx, c.ID, &zero); err != nil {
			return err
		}
	} else if alive(c) {
		// A monitor still tearing down, or one whose container waits for
		// its first client (its `run` was interrupted): end it first.
		if c.State == metadata.StateCreated {
			_, _ = call(m.sockPath(c.ID), request{Op: opKill})
		}
		waitExit(ctx, c)
	}
	if c, err = m.Get(ctx, c.ID); err != nil {
		if errdefs.IsNotFound(err) {
			return nil // a --rm container removed itself meanwhile
		}
		return err
	}
	m.cleanTempMounts(ctx) // a killed cp or diff may hold its layer mounted
	return m.removeStopped(ctx, c, o)
}

// removeStopped removes a container that no monitor runs any more (or
// whose own monitor calls this, for --rm).
func (m *Manager) removeStopped(ctx context.Context, c metadata.Container, o RemoveOptions) error {
	cfg, err := decodeConfig(c.Config)
	if err != nil {
		return err
	}
	if _, err := m.Meta.UpdateContainer(ctx, c.ID, func(cur *metadata.Container) error {
		cur.State = metadata.StateRemoving
		return nil
	}); err != nil {
		return err
	}
	m.cleanupRun(ctx, c.ID)
	if err := m.Snapshotter.Remove(ctx, cfg.Snapshot); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove container layer: %w", err)
	}
	if o.Volumes {
		anon := []string{}
		for v := range cfg.Volumes {
			anon = append(anon, v)
		}
		for _, b := range cfg.Binds {
			if b.Volume && b.Source == "" {
				anon = append(anon, b.Destination)
			}
		}
		for _, v := range anon {
			if p, err := m.VolumePath(anonVolumeName(c.ID, v)); err == nil {
				os.RemoveAll(filepath.Dir(p))
			}
		}
	}
	if err := os.RemoveAll(m.dir(c.ID)); err != nil {
		return err
	}
	if err := m.Meta.DeleteContainer(ctx, c.ID); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	return nil
}

// Pause freezes a running container's processes (cgroup freezer).
func (m *Manager) Pause(ctx context.Context, ref string) error {
	return m.freeze(ctx, ref, true)
}

// Unpause thaws a paused container.
func (m *Manager) Unpause(ctx context.Context, ref string) error {
	return m.freeze(ctx, ref, false)
}

func (m *Manager) freeze(ctx context.Context, ref string, pause bool) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	switch {
	case pause && c.State == metadata.StatePaused:
		return errdefs.Newf(errdefs.ErrConflict, "container %s is already paused", c.ID)
	case pause && c.State != metadata.StateRunning:
		return errdefs.Newf(errdefs.ErrConflict, "container %s is not running", c.ID)
	case !pause && c.State != metadata.StatePaused:
		return errdefs.Newf(errdefs.ErrConflict, "container %s is not paused", c.ID)
	}
	next := metadata.StateRunning
	if pause {
		next = metadata.StatePaused
		err = m.Runtime.Pause(ctx, c.ID)
	} else {
		err = m.Runtime.Resume(ctx, c.ID)
	}
	if err != nil {
		return err
	}
	_, err = m.Meta.UpdateContainer(ctx, c.ID, func(cur *metadata.Container) error {
		if running(cur.State) {
			cur.State = next
		}
		return nil
	})
	return err
}

// Rename gives a container a new name.
func (m *Manager) Rename(ctx context.Context, ref, name string) error {
	if !validName(name) {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	_, err = m.Meta.UpdateContainer(ctx, c.ID, func(cur *metadata.Container) error {
		cur.Name = name
		return nil
	})
	return err
}
