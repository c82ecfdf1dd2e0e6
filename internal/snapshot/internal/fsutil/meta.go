package fsutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// setMeta gives dst the owner, mode and extended attributes of src, in the
// order that keeps them: chown clears setuid bits and file capabilities, so
// it comes first.
func setMeta(dst, src string, st *unix.Stat_t) error {
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return &os.PathError{Op: "lchown", Path: dst, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return &os.PathError{Op: "chmod", Path: dst, Err: err}
		}
	}
	return copyXattrs(
		func(b []byte) (int, error) { return unix.Llistxattr(src, b) },
		func(name string, b []byte) (int, error) { return unix.Lgetxattr(src, name, b) },
		func(name string, v []byte) error { return unix.Lsetxattr(dst, name, v, 0) })
}

// setFileMeta is setMeta for a regular file open as out, copied from in.
func setFileMeta(out, in int, dst string, st *unix.Stat_t) error {
	if err := unix.Fchown(out, int(st.Uid), int(st.Gid)); err != nil {
		return &os.PathError{Op: "fchown", Path: dst, Err: err}
	}
	if err := unix.Fchmod(out, st.Mode&0o7777); err != nil {
		return &os.PathError{Op: "fchmod", Path: dst, Err: err}
	}
	return copyXattrs(
		func(b []byte) (int, error) { return unix.Flistxattr(in, b) },
		func(name string, b []byte) (int, error) { return unix.Fgetxattr(in, name, b) },
		func(name string, v []byte) error { return unix.Fsetxattr(out, name, v, 0) })
}

func setTimes(path string, st *unix.Stat_t) error {
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: path, Err: err}
	}
	return nil
}

// copyXattrs copies every extended attribute that list and get read to set.
func copyXattrs(list func([]byte) (int, error), get func(string, []byte) (int, error), set func(string, []byte) error) error {
	names, err := xattrNames(list)
	if err != nil {
		return err
	}
	for _, name := range names {
		val, err := sized(func(b []byte) (int, error) { return get(name, b) })
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return fmt.Errorf("getxattr %s: %w", name, err)
		}
		if err := set(name, val); err != nil {
			return fmt.Errorf("setxattr %s: %w", name, err)
		}
	}
	return nil
}

func xattrNames(list func([]byte) (int, error)) ([]string, error) {
	buf, err := sized(list)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listxattr: %w", err)
	}
	var names []string
	for _, b := range bytes.Split(buf, []byte{0}) {
		if len(b) > 0 {
			names = append(names, string(b))
		}
	}
	return names, nil
}

// sized calls a get-into-buffer syscall, growing the buffer on ERANGE (the
// value may grow between asking for its size and reading it).
func sized(call func([]byte) (int, error)) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := call(buf)
		if errors.Is(err, unix.ERANGE) {
			sz, err := call(nil)
			if err != nil {
				return nil, err
			}
			buf = make([]byte, sz+64)
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}
