package fsutil

import (
	"context"
	"errors"
	"fmt"
	"io"
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

const copyWorkers = 3

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

// copyFile copies a regular file's data and metadata.
func (c *copier) copyFile(dst, src string, st *unix.Stat_t) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := c.copyData(out, in, st.Size); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := setMeta(dst, src, st); err != nil {
		return err
	}
	return setTimes(dst, st)
}

func (c *copier) copyData(out, in *os.File, size int64) error {
	if size == 0 {
		return nil
	}
	if c.reflink.Load() {
		err := unix.IoctlFileClone(int(out.Fd()), int(in.Fd()))
		if err == nil {
			return nil
		}
		if !cloneUnsupported(err) {
			return fmt.Errorf("clone: %w", err)
		}
		c.reflink.Store(false)
	}
	// *os.File.ReadFrom uses copy_file_range, then splice, then read/write.
	_, err := io.Copy(out, in)
	return err
}

func cloneUnsupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EXDEV) ||
		errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.ENOSYS)
}
