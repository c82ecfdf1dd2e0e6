package fsutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// CopyDir copies the tree at src to dst, which must not exist, keeping what a
// layer can hold: modes (setuid, setgid, sticky), owners, nanosecond times,
// extended attributes (trusted.*, security.* as well), symlinks, device
// nodes, fifos, sockets and the hard-link structure inside the tree.
//
// Regular files are cloned (FICLONE) where the filesystem shares extents
// (btrfs, XFS, bcachefs), else copied in the kernel (copy_file_range); a few
// workers copy files while one goroutine walks. The copy never shares an
// inode with src, so writing to it cannot change src.
// It stops early, with ctx's error, when ctx ends.
func CopyDir(ctx context.Context, dst, src string) error {
	c := &copier{links: map[inode]string{}, files: make(chan fileJob, 64)}
	c.reflink.Store(true)
	var wg sync.WaitGroup
	for range copyWorkers {
		wg.Go(c.work)
	}
	var st unix.Stat_t
	err := unix.Lstat(src, &st)
	if err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		err = fmt.Errorf("copy %s: not a directory", src)
	}
	if err == nil {
		err = c.copyDir(ctx, dst, src, &st)
	}
	close(c.files)
	wg.Wait()
	if err == nil {
		err = c.firstErr()
	}
	// Directory times last: creating entries changes them.
	for i := len(c.dirs) - 1; i >= 0 && err == nil; i-- {
		err = setTimes(c.dirs[i].path, &c.dirs[i].st)
	}
	return err
}

const copyWorkers = 2

type inode struct{ dev, ino uint64 }

type fileJob struct {
	dst, src string
	st       unix.Stat_t
}

type dirTimes struct {
	path string
	st   unix.Stat_t
}

type copier struct {
	links   map[inode]string // first copy of each multiply linked inode
	dirs    []dirTimes
	files   chan fileJob
	reflink atomic.Bool // false once the filesystem refused a clone
	mu      sync.Mutex
	err     error
}

func (c *copier) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *copier) firstErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *copier) work() {
	for j := range c.files {
		if c.firstErr() != nil {
			continue
		}
		if err := c.copyFile(j.dst, j.src, &j.st); err != nil {
			c.fail(err)
		}
	}
}

func (c *copier) copyDir(ctx context.Context, dst, src string, st *unix.Stat_t) error {
	if err := unix.Mkdir(dst, 0o700); err != nil {
		return &os.PathError{Op: "mkdir", Path: dst, Err: err}
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, name := range names {
		if err := c.firstErr(); err != nil {
			return err
		}
		s, d := filepath.Join(src, name), filepath.Join(dst, name)
		var cst unix.Stat_t
		if err := unix.Lstat(s, &cst); err != nil {
			return &os.PathError{Op: "lstat", Path: s, Err: err}
		}
		if err := c.copyEntry(ctx, d, s, &cst); err != nil {
			return err
		}
	}
	if err := setMeta(dst, src, st); err != nil {
		return err
	}
	c.dirs = append(c.dirs, dirTimes{dst, *st})
	return nil
}

func (c *copier) copyEntry(ctx context.Context, dst, src string, st *unix.Stat_t) error {
	typ := st.Mode & unix.S_IFMT
	if typ == unix.S_IFDIR {
		return c.copyDir(ctx, dst, src, st)
	}
	if st.Nlink > 1 {
		k := inode{st.Dev, st.Ino}
		if first, ok := c.links[k]; ok {
			return link(first, dst)
		}
		c.links[k] = dst
		if typ == unix.S_IFREG {
			// Later links need the file in place: copy it now.
			return c.copyFile(dst, src, st)
		}
	}
	var err error
	switch typ {
	case unix.S_IFREG:
		c.files <- fileJob{dst, src, *st}
		return nil
	case unix.S_IFLNK:
		var target string
		if target, err = os.Readlink(src); err == nil {
			err = unix.Symlink(target, dst)
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		err = unix.Mknod(dst, st.Mode, int(st.Rdev))
	default:
		err = fmt.Errorf("unknown file type %#o", typ)
	}
	if err != nil {
		return &os.PathError{Op: "create", Path: dst, Err: err}
	}
	if err := setMeta(dst, src, st); err != nil {
		return err
	}
	return setTimes(dst, st)
}

func link(existing, dst string) error {
	if err := unix.Link(existing, dst); err != nil {
		return &os.LinkError{Op: "link", Old: existing, New: dst, Err: err}
	}
	return nil
}

// copyFile copies a regular file's data and metadata. It works on raw file
// descriptors: *os.File would register every file with the poller.
func (c *copier) copyFile(dst, src string, st *unix.Stat_t) error {
	in, err := unix.Open(src, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: src, Err: err}
	}
	defer unix.Close(in)
	out, err := unix.Open(dst, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: dst, Err: err}
	}
	err = c.copyData(out, in, st.Size)
	if err == nil {
		err = setFileMeta(out, in, dst, st)
	}
	if cerr := unix.Close(out); err == nil && cerr != nil {
		err = &os.PathError{Op: "close", Path: dst, Err: cerr}
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return setTimes(dst, st)
}

func (c *copier) copyData(out, in int, size int64) error {
	if size == 0 {
		return nil
	}
	if c.reflink.Load() {
		err := unix.IoctlFileClone(out, in)
		if err == nil {
			return nil
		}
		if !cloneUnsupported(err) {
			return fmt.Errorf("clone: %w", err)
		}
		c.reflink.Store(false)
	}
	for {
		n, err := unix.CopyFileRange(in, nil, out, nil, 1<<30, 0)
		switch {
		case err == nil && n == 0:
			return nil
		case err == nil:
			continue
		case errors.Is(err, unix.EINTR):
			continue
		case cloneUnsupported(err):
			return readWrite(out, in)
		default:
			return fmt.Errorf("copy_file_range: %w", err)
		}
	}
}

// readWrite copies the rest of in to out where copy_file_range cannot.
func readWrite(out, in int) error {
	buf := make([]byte, 256<<10)
	for {
		n, err := unix.Read(in, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if n == 0 {
			return nil
		}
		for b := buf[:n]; len(b) > 0; {
			w, err := unix.Write(out, b)
			if err != nil && !errors.Is(err, unix.EINTR) {
				return fmt.Errorf("write: %w", err)
			}
			b = b[max(w, 0):]
		}
	}
}

func cloneUnsupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EXDEV) ||
		errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.ENOSYS)
}
