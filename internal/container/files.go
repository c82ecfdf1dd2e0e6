package container

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/snapshot"
)

// withRootfs runs fn on the container's merged filesystem: the live mount
// of a running container, or a temporary mount of its layer. With live, a
// running container is seen as its process sees it, volumes and bind
// mounts included, as `docker cp` does (see liveRoot).
func (m *Manager) withRootfs(ctx context.Context, ref string, live bool, fn func(dir string) error) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if running(c.State) {
		rootfs := filepath.Join(m.dir(c.ID), "rootfs")
		if live {
			if f := liveRoot(c.Pid, rootfs); f != nil {
				defer f.Close()
				return fn("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
			}
		}
		return fn(rootfs)
	}
	cfg, err := decodeConfig(c.Config)
	if err != nil {
		return err
	}
	get := func(string) ([]snapshot.Mount, error) { return m.Snapshotter.Mounts(ctx, cfg.Snapshot) }
	return m.tempMount(ctx, ".mnt-", get, fn)
}

// liveRoot opens the root directory of the container's process
// (/proc/PID/root, which crosses into its mount namespace: volumes, bind
// mounts and its /etc/hosts are there). It returns nil unless that root is
// the container's own rootfs mount (same device and inode), so a pid that
// was reused by another process never leads elsewhere.
func liveRoot(pid int, rootfs string) *os.File {
	if pid <= 0 {
		return nil
	}
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), "root")
	var got, want unix.Stat_t
	if unix.Fstat(fd, &got) != nil || unix.Stat(rootfs, &want) != nil || got.Dev != want.Dev || got.Ino != want.Ino {
		f.Close()
		return nil
	}
	return f
}

// Export writes the container's whole filesystem as a tar: its layers,
// without volumes, as Docker's export.
func (m *Manager) Export(ctx context.Context, ref string, w io.Writer) error {
	return m.withRootfs(ctx, ref, false, func(dir string) error { return archive.WriteTree(w, dir) })
}

// CopyFrom writes a tar of path inside the container (docker cp CTR:PATH);
// with follow, a path that is a symlink stands for its target (cp -L).
func (m *Manager) CopyFrom(ctx context.Context, ref, path string, follow bool, w io.Writer) error {
	return m.withRootfs(ctx, ref, true, func(dir string) error {
		return archive.WritePathWith(w, dir, path, archive.PathOptions{FollowSymlink: follow})
	})
}

// CopyTo extracts a tar stream into dir inside the container.
func (m *Manager) CopyTo(ctx context.Context, ref, dir string, r io.Reader) error {
	return m.withRootfs(ctx, ref, true, func(root string) error {
		return archive.ExtractTo(root, dir, r, archive.Limits{MaxSize: m.Unpacker.Limits.MaxSize})
	})
}

// Changes lists the container's changes like `docker diff`.
func (m *Manager) Changes(ctx context.Context, ref string) ([]archive.Change, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	cfg, err := decodeConfig(c.Config)
	if err != nil {
		return nil, err
	}
	mounts, err := m.Snapshotter.Mounts(ctx, cfg.Snapshot)
	if err != nil {
		return nil, err
	}
	upper, _ := snapshot.UpperDir(mounts)
	var out []archive.Change
	err = m.withImageView(ctx, cfg, func(lower string) error {
		exists := func(p string) bool {
			_, err := os.Lstat(filepath.Join(lower, p))
			return err == nil
		}
		if m.Driver == "vfs" {
			out, err = archive.ChangesTrees(lower, upper)
			return err
		}
		out, err = archive.Changes(upper, exists)
		return err
	})
	return out, err
}

// Size returns the disk used by the container's own layer and that plus
// its image (ps -s: "2B (virtual 5.3MB)").
func (m *Manager) Size(ctx context.Context, c metadata.Container) (own, virtual int64, err error) {
	cfg, err := decodeConfig(c.Config)
	if err != nil {
		return 0, 0, err
	}
	u, err := m.Snapshotter.Usage(ctx, cfg.Snapshot)
	if err != nil {
		return 0, 0, err
	}
	img, err := m.Meta.Get(ctx, c.ImageID)
	if errdefs.IsNotFound(err) {
		return u.Size, u.Size, nil // its image was removed with rmi -f
	}
	if err != nil {
		return 0, 0, err
	}
	return u.Size, u.Size + img.Size, nil
}

// Stat reports whether path exists inside the container and is a
// directory, resolved as the container would (no symlink leads out).
func (m *Manager) Stat(ctx context.Context, ref, p string) (exists, isDir bool, err error) {
	err = m.withRootfs(ctx, ref, true, func(dir string) error {
		full, err := securejoin.SecureJoin(dir, p)
		if err != nil {
			return err
		}
		fi, err := os.Stat(full)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		exists, isDir = true, fi.IsDir()
		return nil
	})
	return exists, isDir, err
}

// PublishedPorts are the ports a running container publishes, with random
// host ports resolved; for a stopped one, what it asked for.
func (m *Manager) PublishedPorts(c metadata.Container, cfg Config) []network.PortMapping {
	if running(c.State) {
		if att, err := m.Network.Attachment(c.ID); err == nil {
			return att.Ports
		}
	}
	return cfg.Ports
}
