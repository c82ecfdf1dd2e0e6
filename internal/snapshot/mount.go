package snapshot

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
)

// MountAll mounts every mount in order onto target, which must exist. If one
// fails, the ones already mounted are unmounted again.
//
// An overlay mount whose option string does not fit in one page (mount(2)
// copies at most a page of data, so about 60 layers under
// /var/lib/strata) is mounted with the new mount API instead: fsopen, then
// one fsconfig "lowerdir+" call per layer (Linux 6.8+), which has no length
// limit. On older kernels, or for a single path longer than the 256 bytes
// fsconfig accepts, the layers are passed relative to their common parent
// directory from a thread that has its own working directory
// (unshare(CLONE_FS) + chdir), which fits about 500 layers, overlayfs's own
// maximum.
func MountAll(mounts []Mount, target string) error {
	for i, m := range mounts {
		if err := mountOne(m, target); err != nil {
			for range i {
				_ = unix.Unmount(target, 0)
			}
			return err
		}
	}
	return nil
}

// Unmount unmounts every mount stacked on target. A target that is not a
// mount point is not an error. A busy mount is retried for about a second.
func Unmount(target string) error {
	for busy := 0; ; {
		err := unix.Unmount(target, 0)
		switch {
		case err == nil:
			busy = 0
		case errors.Is(err, unix.EINVAL):
			return nil
		case errors.Is(err, unix.EBUSY) && busy < 50:
			busy++
			time.Sleep(20 * time.Millisecond)
		default:
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
}

// UpperDir returns the directory where the changes of the snapshot mounted
// by mounts live: an overlay's upperdir, or the source of a writable bind
// mount. It reports false for read-only mounts (views).
func UpperDir(mounts []Mount) (string, bool) {
	if len(mounts) == 0 {
		return "", false
	}
	m := mounts[len(mounts)-1]
	flags, data := parseOptions(m.Options)
	switch {
	case m.Type == "overlay":
		for _, o := range data {
			if v, ok := strings.CutPrefix(o, "upperdir="); ok && v != "" {
				return v, true
			}
		}
	case m.Type == "bind" || flags&unix.MS_BIND != 0:
		if flags&unix.MS_RDONLY == 0 && m.Source != "" {
			return m.Source, true
		}
	}
	return "", false
}

// optionFlags maps mount(8) option words to mount flags; clear means the
// word removes the flag.
var optionFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"async":       {true, unix.MS_SYNCHRONOUS},
	"atime":       {true, unix.MS_NOATIME},
	"bind":        {false, unix.MS_BIND},
	"defaults":    {false, 0},
	"dev":         {true, unix.MS_NODEV},
	"diratime":    {true, unix.MS_NODIRATIME},
	"dirsync":     {false, unix.MS_DIRSYNC},
	"exec":        {true, unix.MS_NOEXEC},
	"noatime":     {false, unix.MS_NOATIME},
	"nodev":       {false, unix.MS_NODEV},
	"nodiratime":  {false, unix.MS_NODIRATIME},
	"noexec":      {false, unix.MS_NOEXEC},
	"nosuid":      {false, unix.MS_NOSUID},
	"rbind":       {false, unix.MS_BIND | unix.MS_REC},
	"relatime":    {false, unix.MS_RELATIME},
	"ro":          {false, unix.MS_RDONLY},
	"rw":          {true, unix.MS_RDONLY},
	"strictatime": {false, unix.MS_STRICTATIME},
	"suid":        {true, unix.MS_NOSUID},
	"sync":        {false, unix.MS_SYNCHRONOUS},
}

// parseOptions splits mount options into flags and filesystem data.
func parseOptions(options []string) (uintptr, []string) {
	var flags uintptr
	var data []string
	for _, o := range options {
		f, ok := optionFlags[o]
		switch {
		case !ok:
			data = append(data, o)
		case f.clear:
			flags &^= f.flag
		default:
			flags |= f.flag
		}
	}
	return flags, data
}

func mountOne(m Mount, target string) error {
	flags, data := parseOptions(m.Options)
	var err error
	switch {
	case m.Type == "bind" || flags&unix.MS_BIND != 0:
		err = mountBind(m.Source, target, flags)
	case m.Type == "overlay" && len(strings.Join(data, ",")) >= unix.Getpagesize():
		err = mountOverlayLong(m.Source, target, flags, data)
	default:
		err = unix.Mount(m.Source, target, m.Type, flags, strings.Join(data, ","))
	}
	if err != nil {
		return mountError(m, target, err)
	}
	return nil
}

func mountError(m Mount, target string, err error) error {
	err = fmt.Errorf("mount %s %s on %s: %w", m.Type, m.Source, target, err)
	if errors.Is(err, unix.EPERM) {
		return errdefs.Classed(errdefs.ErrPermission, err)
	}
	return err
}

// mountBind bind-mounts source, then applies the remaining flags ("ro",
// "nosuid", ...) with a remount, since MS_BIND ignores them.
func mountBind(source, target string, flags uintptr) error {
	bind := flags & (unix.MS_BIND | unix.MS_REC)
	if err := unix.Mount(source, target, "", bind|unix.MS_BIND, ""); err != nil {
		return err
	}
	rest := flags &^ (unix.MS_BIND | unix.MS_REC)
	if rest == 0 {
		return nil
	}
	if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|rest, ""); err != nil {
		_ = unix.Unmount(target, 0)
		return fmt.Errorf("remount with flags %#x: %w", rest, err)
	}
	return nil
}

// mountOverlayLong mounts an overlay whose options exceed a page.
func mountOverlayLong(source, target string, flags uintptr, data []string) error {
	err := mountFsconfig(source, target, flags, data)
	if errors.Is(err, errFsconfigRefused) {
		return mountRelative(source, target, flags, data)
	}
	return err
}

// mountRelative mounts an overlay with its lowerdirs given relative to their
// common parent, from a thread whose working directory is that parent.
func mountRelative(source, target string, flags uintptr, data []string) error {
	target, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	opts := make([]string, 0, len(data))
	var base string
	for _, o := range data {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "lowerdir":
			var rel string
			base, rel, err = relativeLowerdirs(v)
			if err != nil {
				return err
			}
			o = "lowerdir=" + rel
		case "upperdir", "workdir":
			abs, err := filepath.Abs(v)
			if err != nil {
				return err
			}
			o = k + "=" + abs
		}
		opts = append(opts, o)
	}
	joined := strings.Join(opts, ",")
	if len(joined) >= unix.Getpagesize() {
		return errdefs.Newf(errdefs.ErrLimitExceeded, "overlay options are %d bytes even with relative lowerdirs; the kernel takes at most %d", len(joined), unix.Getpagesize()-1)
	}
	return inOwnWorkdir(base, func() error {
		return unix.Mount(source, target, "overlay", flags, joined)
	})
}

// inOwnWorkdir runs fn on a locked OS thread that has its own working
// directory, dir. The thread is never unlocked, so the Go runtime ends it
// when the goroutine returns and no other goroutine sees the changed
// directory.
func inOwnWorkdir(dir string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			done <- fmt.Errorf("unshare working directory: %w", err)
			return
		}
		if err := unix.Chdir(dir); err != nil {
			done <- fmt.Errorf("chdir %s: %w", dir, err)
			return
		}
		done <- fn()
	}()
	return <-done
}

// relativeLowerdirs rewrites an overlay lowerdir list relative to the
// directory all its layers share.
func relativeLowerdirs(list string) (base, rel string, err error) {
	dirs := splitLowerdirs(list)
	if len(dirs) == 0 {
		return "", "", errdefs.Newf(errdefs.ErrInvalidArgument, "overlay mount without lowerdir")
	}
	for i, d := range dirs {
		if dirs[i], err = filepath.Abs(d); err != nil {
			return "", "", err
		}
	}
	base = filepath.Dir(dirs[0])
	for _, d := range dirs[1:] {
		for !within(base, d) {
			base = filepath.Dir(base)
		}
	}
	out := make([]string, len(dirs))
	for i, d := range dirs {
		r, err := filepath.Rel(base, d)
		if err != nil {
			return "", "", err
		}
		out[i] = escapeLowerdir(r)
	}
	return base, strings.Join(out, ":"), nil
}

func within(dir, path string) bool {
	return dir == "/" || strings.HasPrefix(path, dir+"/")
}

// splitLowerdirs splits an overlay lowerdir value at unescaped colons and
// removes the backslash escapes, as overlayfs does.
func splitLowerdirs(v string) []string {
	var dirs []string
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && i+1 < len(v):
			i++
			cur.WriteByte(v[i])
		case c == ':':
			dirs = append(dirs, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 || len(dirs) > 0 {
		dirs = append(dirs, cur.String())
	}
	return dirs
}

// escapeLowerdir escapes the characters overlayfs gives a meaning in a
// lowerdir list (and a comma, which ends the option).
func escapeLowerdir(dir string) string {
	if !strings.ContainsAny(dir, `:,\`) {
		return dir
	}
	var b strings.Builder
	for i := 0; i < len(dir); i++ {
		if c := dir[i]; c == ':' || c == ',' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(dir[i])
	}
	return b.String()
}
