package container

import (
	"context"
	"os"
	"path/filepath"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/snapshot"
)

// Docker's "init layer": between an image and each container made from it
// sits a committed snapshot holding the mount points the runtime needs
// (/dev, /proc, /sys, /etc/hosts, ...). Created once per image, shared by
// its containers; it keeps those mount points out of `diff` and `commit`.
var (
	initDirs  = []string{"dev", "dev/pts", "dev/shm", "proc", "sys", "etc"}
	initFiles = []string{"etc/hosts", "etc/hostname", "etc/resolv.conf"}
)

// initLayer returns the name of the init snapshot on top of chain,
// creating it if needed.
func (m *Manager) initLayer(ctx context.Context, chain string) (string, error) {
	name := chain + "-init"
	if chain == "" {
		name = "scratch-init"
	}
	if _, err := m.Snapshotter.Stat(ctx, name); err == nil {
		return name, nil
	}
	key := "init-tmp-" + newID()[:16]
	mounts, err := m.Snapshotter.Prepare(ctx, key, chain)
	if err != nil {
		return "", err
	}
	defer func() { _ = m.Snapshotter.Remove(ctx, key) }()
	dir, ok := snapshot.UpperDir(mounts)
	if !ok {
		return "", errdefs.Newf(errdefs.ErrUnsupported, "snapshot %s has no writable directory", key)
	}
	if err := fillInit(dir); err != nil {
		return "", err
	}
	if err := m.Snapshotter.Commit(ctx, name, key); err != nil && !errdefs.IsAlreadyExists(err) {
		return "", err
	}
	return name, nil
}

// fillInit creates the mount points in dir, without touching what the
// image already has there (dir is an upper dir or a full copy).
func fillInit(dir string) error {
	for _, d := range initDirs {
		p := filepath.Join(dir, d)
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			continue
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
	}
	for _, f := range initFiles {
		p := filepath.Join(dir, f)
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			continue
		}
		os.Remove(p)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}
