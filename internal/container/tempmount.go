package container

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/snapshot"
)

// Temporary mounts (a stopped container's layer for cp and export, a view
// of its image for diff and commit) live in <root>/containers/.mnt-* and
// .view-* directories. Each has a lock file, <dir>.lock, flocked for as
// long as its process uses it; a process killed meanwhile leaves a mount
// whose lock is free, and cleanTempMounts (run before every new temporary
// mount and by rm) unmounts and removes it, with its view snapshot.

// tempMount mounts the mounts from get (given the directory's unique key)
// on a new locked directory, runs fn on it and undoes it all. With the
// prefix ".view-", get makes a view snapshot of that key, removed at the
// end.
func (m *Manager) tempMount(ctx context.Context, prefix string, get func(key string) ([]snapshot.Mount, error), fn func(dir string) error) error {
	m.cleanTempMounts(ctx)
	lock, err := os.CreateTemp(m.Dir, prefix+"*.lock")
	if err != nil {
		return err
	}
	defer func() {
		os.Remove(lock.Name())
		lock.Close()
	}()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return err
	}
	dir := strings.TrimSuffix(lock.Name(), ".lock")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	defer os.Remove(dir) // never RemoveAll: if the unmount failed, that would empty the mount
	key := viewKey(dir)
	if prefix == ".view-" {
		defer func() { _ = m.Snapshotter.Remove(ctx, key) }()
	}
	mounts, err := get(key)
	if err != nil {
		return err
	}
	if len(mounts) > 0 {
		if err := snapshot.MountAll(mounts, dir); err != nil {
			return err
		}
		defer func() { _ = snapshot.Unmount(dir) }()
	}
	return fn(dir)
}

// viewKey is the snapshot key of a temporary view (".view-123" gives
// "view-123"), found again from its directory's name after a crash.
func viewKey(dir string) string {
	return strings.TrimPrefix(filepath.Base(dir), ".")
}

// cleanTempMounts removes the temporary mounts of killed processes: those
// whose lock nobody holds.
func (m *Manager) cleanTempMounts(ctx context.Context) {
	locks, _ := filepath.Glob(filepath.Join(m.Dir, ".*.lock"))
	for _, l := range locks {
		f, err := os.Open(l)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			dir := strings.TrimSuffix(l, ".lock")
			if snapshot.Unmount(dir) == nil {
				os.Remove(dir)
				if strings.HasPrefix(filepath.Base(dir), ".view-") {
					_ = m.Snapshotter.Remove(ctx, viewKey(dir))
				}
				os.Remove(l)
			}
		}
		f.Close()
	}
}
