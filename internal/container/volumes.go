package container

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/strata-dev/strata/internal/errdefs"
)

var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// VolumePath is where a named volume's data lives.
func (m *Manager) VolumePath(name string) (string, error) {
	if !volumeName.MatchString(name) {
		return "", errdefs.Newf(errdefs.ErrInvalidArgument, "invalid volume name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return filepath.Join(m.VolumeDir, name, "_data"), nil
}

// ensureVolume creates the volume if needed and, when new, copies the
// image's content at dest into it.
func (m *Manager) ensureVolume(name, rootfs, dest string) (string, error) {
	data, err := m.VolumePath(name)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(data); err == nil {
		return data, nil
	}
	tmp := data + ".new"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	src, err := securejoin.SecureJoin(rootfs, dest)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(src); err == nil && fi.IsDir() {
		if err := copyTree(src, tmp); err != nil {
			return "", fmt.Errorf("copy image content into volume %s: %w", name, err)
		}
		_ = os.Chmod(tmp, fi.Mode().Perm())
	}
	if err := os.Rename(tmp, data); err != nil {
		return "", err
	}
	return data, nil
}

// copyTree copies regular files, dirs and symlinks from src to dst (both
// real directories; src was resolved inside the rootfs). Symlinks are
// copied as links, never followed.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "." {
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case fi.IsDir():
			return os.Mkdir(target, fi.Mode().Perm())
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case fi.Mode().IsRegular():
			return copyFile(p, target, fi.Mode().Perm())
		}
		return nil // devices, sockets, fifos: skipped
	})
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
