package archive

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
)

const createFlags = unix.O_CLOEXEC | unix.O_NOFOLLOW

// mkdir makes or merges the directory name in dirfd; p is its path below
// the root, for the times restored at the end.
func (a *applier) mkdir(dirfd int, name string, hdr *tar.Header, p string) error {
	opaque := false
	err := unix.Mkdirat(dirfd, name, 0o700)
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if err = unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			// A directory replacing an overlay whiteout hides what is
			// below it, as overlayfs itself does on rmdir + mkdir.
			opaque = a.whiteouts && a.format == WhiteoutOverlay && isWhiteoutDevice(&st)
			if err = a.remove(dirfd, name); err == nil {
				err = unix.Mkdirat(dirfd, name, 0o700)
			}
		}
	}
	if err != nil {
		return pathError("mkdir", name, err)
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|createFlags, 0)
	if err != nil {
		return pathError("open", name, err)
	}
	defer unix.Close(fd)
	if err := a.setMeta(fd, hdr); err != nil {
		return err
	}
	if opaque {
		if err := unix.Fsetxattr(fd, overlayOpaque, []byte("y"), 0); err != nil {
			return pathError("setxattr "+overlayOpaque, name, err)
		}
	}
	a.dirs = append(a.dirs, dirTimes{p: p, ts: times(hdr)})
	return nil
}

// file writes a regular file, sparse files with holes.
func (a *applier) file(dirfd int, name string, hdr *tar.Header, data io.Reader) error {
	sparse := isSparse(hdr)
	if sparse && a.lim.MaxSize > 0 && hdr.Size > a.lim.MaxSize {
		return errdefs.Newf(errdefs.ErrLimitExceeded, "entry %q is a sparse file of %d bytes, over the limit of %d", hdr.Name, hdr.Size, a.lim.MaxSize)
	}
	var fd int
	err := a.replace(dirfd, name, func() (err error) {
		fd, err = unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|createFlags, 0o600)
		return err
	})
	if err != nil {
		return pathError("create", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	err = a.copyData(f, data, hdr.Size, sparse)
	if err == nil {
		err = a.setMeta(fd, hdr)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return a.setTimes(dirfd, name, hdr)
}

// copyData writes size bytes of data to f. For a sparse file, blocks of
// zeros become holes.
func (a *applier) copyData(f *os.File, data io.Reader, size int64, sparse bool) error {
	if size == 0 {
		return nil
	}
	if a.buf == nil {
		a.buf = make([]byte, 256<<10)
	}
	buf := a.buf
	if sparse {
		buf = buf[:64<<10]
	}
	var n int64
	for n < size {
		m, rerr := data.Read(buf[:min(int64(len(buf)), size-n)])
		if m > 0 {
			var err error
			if sparse && allZero(buf[:m]) {
				_, err = f.Seek(int64(m), io.SeekCurrent)
			} else {
				_, err = f.Write(buf[:m])
			}
			if err != nil {
				return err
			}
			n += int64(m)
		}
		if rerr == io.EOF && n < size {
			return io.ErrUnexpectedEOF
		}
		if rerr != nil && rerr != io.EOF {
			return rerr
		}
	}
	if sparse {
		return f.Truncate(size)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (a *applier) symlink(dirfd int, name string, hdr *tar.Header) error {
	err := a.replace(dirfd, name, func() error { return unix.Symlinkat(hdr.Linkname, dirfd, name) })
	if err != nil {
		return pathError("symlink", name, err)
	}
	if err := a.chown(unix.Fchownat(dirfd, name, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW)); err != nil {
		return pathError("lchown", name, err)
	}
	if len(hdr.PAXRecords) > 0 {
		if err := setXattrs(hdr.PAXRecords, a.xattrSetter(pathXattrSetter(procPath(dirfd, name)))); err != nil {
			return err
		}
	}
	return a.setTimes(dirfd, name, hdr)
}

// link makes a hard link to an earlier path of the stream (or of the
// tree). The target is resolved inside the root like any path, and link(2)
// does not follow it. The link keeps the target's metadata.
func (a *applier) link(dirfd int, name, p string, hdr *tar.Header) error {
	target := path.Clean(hdr.Linkname)
	if target == p {
		return nil
	}
	tdir, tname := split(path.Join(a.base, target))
	tfd, err := a.r.dir(tdir, false)
	if err != nil {
		return errdefs.Newf(errdefs.ErrNotFound, "hard link target %q: %w", hdr.Linkname, err)
	}
	err = a.replace(dirfd, name, func() error { return unix.Linkat(tfd, tname, dirfd, name, 0) })
	if errors.Is(err, unix.ENOENT) {
		return errdefs.Newf(errdefs.ErrNotFound, "hard link target %q does not exist", hdr.Linkname)
	}
	if err != nil {
		return pathError("link", name, err)
	}
	return nil
}

func (a *applier) fifo(dirfd int, name string, hdr *tar.Header) error {
	err := a.replace(dirfd, name, func() error { return unix.Mknodat(dirfd, name, unix.S_IFIFO|0o600, 0) })
	if err != nil {
		return pathError("mkfifo", name, err)
	}
	// A fifo opened for reading without blocking gives an fd for fchown
	// and fchmod that cannot be a symlink swapped in meanwhile.
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NONBLOCK|createFlags, 0)
	if err != nil {
		return pathError("open", name, err)
	}
	err = a.setMeta(fd, hdr)
	unix.Close(fd)
	if err != nil {
		return err
	}
	return a.setTimes(dirfd, name, hdr)
}

// setMeta gives the open file fd the header's owner, mode and extended
// attributes, in that order: chown clears setuid bits and capabilities.
func (a *applier) setMeta(fd int, hdr *tar.Header) error {
	if err := a.chown(unix.Fchown(fd, hdr.Uid, hdr.Gid)); err != nil {
		return pathError("chown", hdr.Name, err)
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return pathError("chmod", hdr.Name, err)
	}
	if len(hdr.PAXRecords) == 0 {
		return nil
	}
	return setXattrs(hdr.PAXRecords, a.xattrSetter(fdXattrSetter(fd)))
}

// chown filters the error of an owner change: when not running as root, a
// refused owner is not an error (the file keeps the caller's).
func (a *applier) chown(err error) error {
	if err != nil && !a.privileged && errors.Is(err, unix.EPERM) {
		return nil
	}
	return err
}

// xattrSetter lets an unprivileged extraction go on without the attributes
// it may not set (trusted.*, security.capability).
func (a *applier) xattrSetter(set xattrSetter) xattrSetter {
	if a.privileged {
		return set
	}
	return func(name string, value []byte) error {
		if err := set(name, value); err != nil && !errors.Is(err, unix.EPERM) {
			return err
		}
		return nil
	}
}

func (a *applier) setTimes(dirfd int, name string, hdr *tar.Header) error {
	ts := times(hdr)
	if err := unix.UtimesNanoAt(dirfd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return pathError("utimensat", name, err)
	}
	return nil
}

// isWhiteoutDevice reports an overlayfs whiteout: a character device 0/0.
func isWhiteoutDevice(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}
