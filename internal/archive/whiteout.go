package archive

import (
	"errors"
	"path"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
)

// ours reports whether the layer being applied wrote p or something below
// it. exists says whether p exists; it answers when the target was empty.
func (a *applier) ours(p string, exists bool) bool {
	if a.written == nil {
		return exists
	}
	return a.written[p] != 0
}

// whiteout hides target, a path of the layers below.
func (a *applier) whiteout(target string) error {
	dir, name := split(target)
	dirfd, err := a.r.dir(dir, a.format == WhiteoutOverlay)
	if errdefs.IsNotFound(err) {
		return nil // nothing below to hide
	}
	if err != nil {
		return err
	}
	var st unix.Stat_t
	err = unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return pathError("lstat", target, err)
	}
	exists := err == nil
	isDir := exists && st.Mode&unix.S_IFMT == unix.S_IFDIR
	if a.ours(target, exists) {
		// The layer wrote target: it stays, only what is below goes.
		if !isDir {
			return nil
		}
		if a.format == WhiteoutOverlay {
			return setOpaque(dirfd, name)
		}
		return a.removeUnwritten(target)
	}
	if a.format == WhiteoutDelete {
		if !exists {
			return nil
		}
		return a.remove(dirfd, name)
	}
	err = a.replace(dirfd, name, func() error { return unix.Mknodat(dirfd, name, unix.S_IFCHR, 0) })
	if err != nil {
		return pathError("mknod whiteout", target, err)
	}
	return nil
}

// parent returns the directory dir, made if missing. With overlay
// whiteouts, a whiteout in the way (".wh.d" then "d/x", without "d/")
// becomes an opaque directory, as overlayfs itself does on mkdir.
func (a *applier) parent(dir string) (int, error) {
	fd, err := a.r.dir(dir, true)
	if err == nil || !a.whiteouts || a.format != WhiteoutOverlay || !errors.Is(err, unix.ENOTDIR) {
		return fd, err
	}
	for q := range ancestors(dir) {
		pdir, name := split(q)
		pfd, perr := a.r.dir(pdir, false)
		if perr != nil {
			break
		}
		var st unix.Stat_t
		if unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT == unix.S_IFDIR {
			continue
		}
		if !isWhiteoutDevice(&st) {
			break
		}
		if err := unix.Unlinkat(pfd, name, 0); err != nil {
			return -1, pathError("unlink", q, err)
		}
		if err := unix.Mkdirat(pfd, name, 0o755); err != nil {
			return -1, pathError("mkdir", q, err)
		}
		if err := setOpaque(pfd, name); err != nil {
			return -1, err
		}
		return a.parent(dir)
	}
	return -1, err
}

// ancestors yields the paths from the top down to p itself: "a", "a/b",
// "a/b/c".
func ancestors(p string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for i := 0; i <= len(p); i++ {
			if (i == len(p) || p[i] == '/') && !yield(p[:i]) {
				return
			}
		}
	}
}

// opaque hides what the layers below hold in dir.
func (a *applier) opaque(dir string) error {
	if a.format == WhiteoutOverlay {
		parent, name := split(dir)
		dirfd, err := a.r.dir(parent, true)
		if err != nil {
			return err
		}
		if name != "." {
			if err := unix.Mkdirat(dirfd, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				return pathError("mkdir", dir, err)
			}
		}
		return setOpaque(dirfd, name)
	}
	return a.removeUnwritten(dir)
}

// setOpaque marks the directory name in dirfd opaque for overlayfs.
func setOpaque(dirfd int, name string) error {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|createFlags, 0)
	if err != nil {
		return pathError("open", name, err)
	}
	defer unix.Close(fd)
	if err := unix.Fsetxattr(fd, overlayOpaque, []byte("y"), 0); err != nil {
		return pathError("setxattr "+overlayOpaque, name, err)
	}
	return nil
}

// removeUnwritten deletes what is in the directory dir that the layer being
// applied did not write (the layers below's part of it).
func (a *applier) removeUnwritten(dir string) error {
	if a.written == nil {
		return nil // the target was empty: all of it is the layer's
	}
	parent, name := split(dir)
	dirfd, err := a.r.dir(parent, false)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|createFlags, 0)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		return nil
	}
	if err != nil {
		return pathError("open", dir, err)
	}
	defer unix.Close(fd)
	return a.removeUnwrittenIn(fd, dir)
}

func (a *applier) removeUnwrittenIn(fd int, dir string) error {
	names, err := readNames(fd)
	if err != nil {
		return pathError("readdir", dir, err)
	}
	for _, n := range names {
		p := path.Join(dir, n)
		if a.written[p] == 0 {
			a.r.drop()
			if err := removeAllAt(fd, n); err != nil {
				return err
			}
			continue
		}
		cfd, err := unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY|createFlags, 0)
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			continue // a file of this layer
		}
		if err != nil {
			return pathError("open", p, err)
		}
		err = a.removeUnwrittenIn(cfd, p)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}
