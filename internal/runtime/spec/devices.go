package spec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// HostDevices lists the character and block devices under /dev, for a
// privileged container's Options.Devices (as containerd's HostDevices: the
// pts, shm, mqueue and fd directories and /dev/console are skipped).
func HostDevices() ([]specs.LinuxDevice, error) {
	return devicesUnder("/dev")
}

func devicesUnder(root string) ([]specs.LinuxDevice, error) {
	var out []specs.LinuxDevice
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return nil // vanished or unreadable: not ours to report
			}
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
				if p != root {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if p == filepath.Join(root, "console") || d.Type()&(fs.ModeDevice|fs.ModeCharDevice) == 0 {
			return nil
		}
		dev, ok, err := deviceFromPath(p)
		if err != nil || !ok {
			return err
		}
		out = append(out, dev)
		return nil
	})
	return out, err
}

func deviceFromPath(p string) (specs.LinuxDevice, bool, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return specs.LinuxDevice{}, false, nil
		}
		return specs.LinuxDevice{}, false, &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return specs.LinuxDevice{}, false, nil
	}
	mode := fs.FileMode(st.Mode & 0o777)
	uid, gid := st.Uid, st.Gid
	return specs.LinuxDevice{
		Path:     p,
		Type:     typ,
		Major:    int64(unix.Major(uint64(st.Rdev))), //nolint:unconvert // Rdev is uint32 on mips
		Minor:    int64(unix.Minor(uint64(st.Rdev))), //nolint:unconvert // Rdev is uint32 on mips
		FileMode: &mode,
		UID:      &uid,
		GID:      &gid,
	}, true, nil
}
