package snapshot

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// errFsconfigRefused means the kernel refused an fsconfig parameter (no
// "lowerdir+" before Linux 6.8, or a value over 256 bytes); the caller falls
// back to mount(2) with relative paths.
var errFsconfigRefused = errors.New("fsconfig parameter refused")

// mountAttrs maps the mount flags that have a per-mount attribute in the new
// mount API.
var mountAttrs = []struct {
	flag uintptr
	attr int
}{
	{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
	{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
	{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
	{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	{unix.MS_NOATIME, unix.MOUNT_ATTR_NOATIME},
	{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
	{unix.MS_STRICTATIME, unix.MOUNT_ATTR_STRICTATIME},
	{unix.MS_RELATIME, unix.MOUNT_ATTR_RELATIME},
}

// mountFsconfig mounts an overlay through fsopen/fsconfig/fsmount/move_mount,
// passing each lower layer with its own "lowerdir+" call.
func mountFsconfig(source, target string, flags uintptr, data []string) error {
	attrs := 0
	for _, m := range mountAttrs {
		if flags&m.flag != 0 {
			attrs |= m.attr
			flags &^= m.flag
		}
	}
	if flags != 0 {
		return fmt.Errorf("mount flags %#x have no mount attribute: %w", flags, errFsconfigRefused)
	}
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fsfd)
	set := func(key, value string) error {
		if err := unix.FsconfigSetString(fsfd, key, value); err != nil {
			if errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("fsconfig %s: %w (%w)", key, errFsconfigRefused, err)
			}
			return fmt.Errorf("fsconfig %s=%s: %w%s", key, value, err, fsLog(fsfd))
		}
		return nil
	}
	if err := set("source", source); err != nil {
		return err
	}
	for _, o := range data {
		k, v, hasValue := strings.Cut(o, "=")
		switch {
		case k == "lowerdir":
			for _, dir := range splitLowerdirs(v) {
				if err := set("lowerdir+", dir); err != nil {
					return err
				}
			}
		case hasValue:
			if err := set(k, v); err != nil {
				return err
			}
		default:
			if err := unix.FsconfigSetFlag(fsfd, k); err != nil {
				return fmt.Errorf("fsconfig %s: %w%s", k, err, fsLog(fsfd))
			}
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("create overlay: %w%s", err, fsLog(fsfd))
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return fmt.Errorf("fsmount overlay: %w%s", err, fsLog(fsfd))
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move mount: %w", err)
	}
	return nil
}

// fsLog reads the messages the kernel queued on a filesystem context, which
// say more than the errno ("overlayfs: failed to resolve 'x': -2").
func fsLog(fsfd int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for range 16 {
		n, err := unix.Read(fsfd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (" + strings.Join(msgs, "; ") + ")"
}
