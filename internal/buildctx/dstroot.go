package buildctx

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"unsafe"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/errdefs"
)

// dstRoot is a container root filesystem that writes cannot leave:
// directories resolve with openat2(RESOLVE_IN_ROOT), ".." stopping at the
// root and every symlink, absolute ones included, resolving as if the root
// were "/"; where openat2 is missing, pathrs-lite does the same in user
// space. Below a resolved directory, work is done with *at calls on single
// names that are never followed.
type dstRoot struct {
	f    *os.File // O_PATH of the root
	path string
}

func openDstRoot(dir string) (*dstRoot, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open destination root %s: %w", dir, err)
	}
	return &dstRoot{f: os.NewFile(uintptr(fd), dir), path: dir}, nil
}

func (d *dstRoot) close() { d.f.Close() }

// openDir opens the directory rel (a cleaned path below the root) for
// reading, following symlinks inside the root.
func (d *dstRoot) openDir(rel string) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(int(d.f.Fd()), rel, &how)
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			continue // a rename raced with the lookup
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
			return d.openDirFallback(rel)
		}
		return -1, err
	}
}

func (d *dstRoot) openDirFallback(rel string) (int, error) {
	h, err := pathrs.OpenatInRoot(d.f, rel)
	if err != nil {
		return -1, err
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	return fd, err
}

// mkdirAll opens the directory rel, making what is missing of it with
// mode 0755, owned by uid:gid (-1 leaves either as the process made it).
// A dangling symlink on the way has its target made, inside the root.
func (d *dstRoot) mkdirAll(rel string, uid, gid int) (int, error) {
	fd, err := d.mkdirs(rel, uid, gid, 0)
	return fd, d.dirError(rel, err)
}

func (d *dstRoot) mkdirs(rel string, uid, gid, links int) (int, error) {
	fd, err := d.openDir(rel)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	pfd, err := d.openDir(".")
	if err != nil {
		return -1, err
	}
	cur, rest := ".", rel
	for rest != "" {
		var comp string
		comp, rest, _ = strings.Cut(rest, "/")
		if comp == "" || comp == "." {
			continue
		}
		next := join(cur, comp)
		fd, err := d.openDir(next)
		if errors.Is(err, unix.ENOENT) {
			fd, err = d.mkdir(pfd, comp, uid, gid)
		}
		if errors.Is(err, unix.EEXIST) {
			fd, err = d.openDir(next) // made meanwhile?
		}
		if errors.Is(err, unix.ENOENT) {
			// A dangling symlink: make its target instead.
			target, lerr := archive.ReadlinkAt(pfd, comp)
			switch {
			case lerr != nil:
				err = unix.ENOTDIR
			case links >= maxLinks:
				err = unix.ELOOP
			default:
				if !path.IsAbs(target) {
					target = cur + "/" + target // resolved by the kernel, ".." included
				}
				if rest != "" {
					target += "/" + rest
				}
				unix.Close(pfd)
				return d.mkdirs(target, uid, gid, links+1)
			}
		}
		unix.Close(pfd)
		if err != nil {
			return -1, err
		}
		pfd, cur = fd, next
	}
	return pfd, nil
}

// mkdir makes and opens the directory name in pfd.
func (d *dstRoot) mkdir(pfd int, name string, uid, gid int) (int, error) {
	if err := unix.Mkdirat(pfd, name, 0o755); err != nil {
		return -1, err
	}
	fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	err = unix.Fchmod(fd, 0o755) // past the umask
	if err == nil && (uid >= 0 || gid >= 0) {
		err = unix.Fchown(fd, uid, gid)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (d *dstRoot) dirError(rel string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOTDIR):
		return errdefs.Newf(errdefs.ErrInvalidArgument, "COPY destination %s: not a directory", containerPath(rel))
	case errors.Is(err, unix.ELOOP):
		return errdefs.Newf(errdefs.ErrInvalidArgument, "COPY destination %s: too many levels of symbolic links", containerPath(rel))
	}
	return fmt.Errorf("COPY destination %s: %w", containerPath(rel), err)
}

// containerPath is the absolute container path of rel, a path below the root.
func containerPath(rel string) string {
	if rel == "." {
		return "/"
	}
	return "/" + rel
}

// isDir reports whether rel resolves, inside the root, to a directory.
func (d *dstRoot) isDir(rel string) bool {
	fd, err := d.openDir(rel)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// cleanDest turns a container path into a cleaned path below the root.
func cleanDest(dest string) string { return cleanRel(path.Clean("/" + dest)) }

// futimens sets the access and modification times of the open file fd.
func futimens(fd int, st *unix.Stat_t) error {
	ts := [2]unix.Timespec{st.Atim, st.Mtim}
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
