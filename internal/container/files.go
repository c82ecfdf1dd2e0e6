package container

import (
	"context"
	securejoin "github.com/cyphar/filepath-securejoin"
	"io"
	"os"
	"path/filepath"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/snapshot"
)

// withRootfs runs fn on the container's merged filesystem: the live mount
// of a running container, or a temporary mount of its layer.
func (m *Manager) withRootfs(ctx context.Context, ref string, fn func(dir string) error) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if running(c.State) {
		return fn(filepath.Join(m.dir(c.ID), "rootfs"))
	}
	cfg, err := decodeConfig(c.Config)
	if err != nil {
		return err
	}
	mounts, err := m.Snapshotter.Mounts(ctx, cfg.Snapshot)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(m.Dir, ".mnt-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := snapshot.MountAll(mounts, dir); err != nil {
		return err
	}
	defer func() { _ = snapshot.Unmount(dir) }()
	return fn(dir)
}

// Export writes the container's whole filesystem as a tar.
func (m *Manager) Export(ctx context.Context, ref string, w io.Writer) error {
	return m.withRootfs(ctx, ref, func(dir string) error { return archive.WriteTree(w, dir) })
}

// CopyFrom writes a tar of path inside the container (docker cp CTR:PATH).
func (m *Manager) CopyFrom(ctx context.Context, ref, path string, w io.Writer) error {
	return m.withRootfs(ctx, ref, func(dir string) error { return archive.WritePath(w, dir, path) })
}

// CopyTo extracts a tar stream into dir inside the container.
func (m *Manager) CopyTo(ctx context.Context, ref, dir string, r io.Reader) error {
	return m.withRootfs(ctx, ref, func(root string) error {
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
	if err != nil {
		return u.Size, u.Size, nil
	}
	return u.Size, u.Size + img.Size, nil
}

// IsDir reports whether path is a directory inside the container (resolved
// within its rootfs).
func (m *Manager) IsDir(ctx context.Context, ref, p string) bool {
	is := false
	_ = m.withRootfs(ctx, ref, func(dir string) error {
		full, err := securejoin.SecureJoin(dir, p)
		if err != nil {
			return err
		}
		fi, err := os.Stat(full)
		is = err == nil && fi.IsDir()
		return nil
	})
	return is
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
