package archive

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
)

// root is a directory that file operations cannot leave. Directories are
// resolved with openat2(RESOLVE_IN_ROOT): ".." stops at the root and every
// symlink, absolute ones included, resolves as if the root were "/", the way
// it would inside a container (or a chroot) with this root. Where openat2 is
// missing (Linux < 5.6, or a seccomp filter), filepath-securejoin's
// pathrs-lite does the same in user space. Everything below a resolved
// directory is done with *at calls on a single name that never follow it.
type root struct {
	f        *os.File            // O_PATH of the root directory
	dirs     map[string]*os.File // resolved directories by path below the root
	retired  []*os.File          // dropped from dirs, closed by release
	fallback bool                // openat2 is unavailable
	onDrop   func()              // runs before drop: waits for users of the handles
}

// maxCachedDirs bounds the open directory handles a root keeps.
const maxCachedDirs = 64

func openRoot(dir string) (*root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, pathError("open", dir, err)
	}
	return &root{f: os.NewFile(uintptr(fd), dir), dirs: make(map[string]*os.File)}, nil
}

func (r *root) fd() int { return int(r.f.Fd()) }

// close releases every handle of r.
func (r *root) close() {
	r.onDrop = nil
	r.drop()
	r.release()
	r.f.Close()
}

// drop forgets the resolved directories: an entry replaced or removed a
// directory or a symlink, so a cached path may now resolve elsewhere. The
// handles stay open until release, since the caller may still use them.
func (r *root) drop() {
	if r.onDrop != nil && len(r.dirs) > 0 {
		r.onDrop()
	}
	for k, f := range r.dirs {
		r.retired = append(r.retired, f)
		delete(r.dirs, k)
	}
}

// release closes the handles drop retired.
func (r *root) release() {
	for _, f := range r.retired {
		f.Close()
	}
	r.retired = r.retired[:0]
}

// dir returns a handle (O_PATH) of the directory rel, a cleaned path below
// the root ("." for the root itself). With create, missing directories are
// made (mode 0755). The handle belongs to r: do not close it.
func (r *root) dir(rel string, create bool) (int, error) {
	if rel == "." {
		return r.fd(), nil
	}
	if f, ok := r.dirs[rel]; ok {
		return int(f.Fd()), nil
	}
	f, err := r.openDir(rel)
	if errors.Is(err, unix.ENOENT) && create {
		f, err = pathrs.MkdirAllHandle(r.f, rel, 0o755)
	}
	if err != nil {
		return -1, fmt.Errorf("directory %q: %w", rel, classify(err))
	}
	if len(r.dirs) >= maxCachedDirs {
		r.drop()
	}
	r.dirs[rel] = f
	return int(f.Fd()), nil
}

// openDir opens the directory rel inside the root, as O_PATH.
func (r *root) openDir(rel string) (*os.File, error) {
	if !r.fallback {
		how := unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		}
		for range 64 {
			fd, err := unix.Openat2(r.fd(), rel, &how)
			switch {
			case err == nil:
				return os.NewFile(uintptr(fd), rel), nil
			case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
				continue // a rename raced with the lookup
			case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
				r.fallback = true
			default:
				return nil, err
			}
			break
		}
		if !r.fallback {
			return nil, unix.EAGAIN
		}
	}
	f, err := pathrs.OpenatInRoot(r.f, rel)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		f.Close()
		return nil, unix.ENOTDIR
	}
	return f, nil
}

// split returns the parent directory and the name of a cleaned path below
// the root. The root itself is its own parent, named ".".
func split(p string) (string, string) {
	if p == "." {
		return ".", "."
	}
	return path.Dir(p), path.Base(p)
}

// classify tags the errors a path lookup inside a root can give.
func classify(err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return errdefs.Classed(errdefs.ErrNotFound, err)
	case errors.Is(err, unix.ENOTDIR):
		return errdefs.Classed(errdefs.ErrInvalidArgument, fmt.Errorf("a parent is not a directory: %w", err))
	case errors.Is(err, unix.ELOOP):
		return errdefs.Classed(errdefs.ErrInvalidArgument, fmt.Errorf("too many levels of symbolic links: %w", err))
	}
	return err
}

func pathError(op, p string, err error) error {
	return &os.PathError{Op: op, Path: p, Err: err}
}

// procPath names the entry name of the directory dirfd through /proc, for
// the calls that have no *at form (lsetxattr, llistxattr). The path is
// resolved through the directory handle, and name is never followed.
func procPath(dirfd int, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name
}
