package archive

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// node is one entry of a walked tree. Every walk goes through directory
// handles and *at calls on single names that are never followed, so a tree
// that changes under the walk (a running container) cannot send it outside.
type node struct {
	rel    string      // slash-separated path below the walk's start; "" for the start
	name   string      // name in parent
	parent int         // handle of the parent directory
	fd     int         // directories: open (O_RDONLY) while the node is visited; else -1
	st     unix.Stat_t // lstat
}

func (n *node) typ() uint32 { return n.st.Mode & unix.S_IFMT }
func (n *node) isDir() bool { return n.typ() == unix.S_IFDIR }

// visitFunc is called for every node, parents first; for a directory it says
// whether to walk into it.
type visitFunc func(n *node) (descend bool, err error)

// walkNode visits n and, if fn says so, what is below it, in sorted order.
func walkNode(n *node, fn visitFunc) error {
	if !n.isDir() {
		n.fd = -1
		_, err := fn(n)
		return err
	}
	fd, err := unix.Openat(n.parent, n.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathError("open", n.rel, err)
	}
	defer unix.Close(fd)
	n.fd = fd
	descend, err := fn(n)
	if err != nil || !descend {
		return err
	}
	names, err := readNames(fd)
	if err != nil {
		return pathError("readdir", n.rel, err)
	}
	slices.Sort(names)
	for _, name := range names {
		c := node{rel: path.Join(n.rel, name), name: name, parent: fd}
		if err := unix.Fstatat(fd, name, &c.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed meanwhile
			}
			return pathError("lstat", c.rel, err)
		}
		if err := walkNode(&c, fn); err != nil {
			return err
		}
	}
	return nil
}

// walkDir walks the directory dir (not followed if it is a symlink),
// starting with dir itself (rel "").
func walkDir(dir string, fn visitFunc) error {
	parent, name := path.Dir(dir), path.Base(dir)
	pfd, err := unix.Open(parent, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathError("open", parent, err)
	}
	defer unix.Close(pfd)
	n := node{name: name, parent: pfd}
	if err := unix.Fstatat(pfd, name, &n.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return pathError("lstat", dir, err)
	}
	if !n.isDir() {
		return pathError("walk", dir, unix.ENOTDIR)
	}
	return walkNode(&n, fn)
}

// readNames returns the names in the open directory fd, unsorted.
func readNames(fd int) ([]string, error) {
	buf := make([]byte, 32<<10)
	var names []string
	for {
		n, err := unix.Getdents(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// inode identifies a file for hard-link detection.
type inode struct{ dev, ino uint64 }

// tarWriter writes walked nodes as tar entries, streaming file contents.
type tarWriter struct {
	bw    *bufio.Writer
	tw    *tar.Writer
	links map[inode]string // first entry name of each multiply linked inode
	buf   []byte
	xr    xattrReader
}

func newTarWriter(w io.Writer) *tarWriter {
	bw := bufio.NewWriterSize(w, 256<<10)
	return &tarWriter{bw: bw, tw: tar.NewWriter(bw), links: make(map[inode]string), buf: make([]byte, 256<<10)}
}

// close writes the end-of-archive blocks and flushes.
func (t *tarWriter) close() error {
	if err := t.tw.Close(); err != nil {
		return err
	}
	return t.bw.Flush()
}

// header returns the tar header of n, named name, with what all entries
// share: owner, permission bits, whole-second mtime (as Docker writes).
func header(n *node, name string) *tar.Header {
	return &tar.Header{
		Name:    name,
		Mode:    int64(n.st.Mode & 0o7777),
		Uid:     int(n.st.Uid),
		Gid:     int(n.st.Gid),
		ModTime: time.Unix(n.st.Mtim.Sec, 0),
	}
}

// write writes n as the entry name: files with their content (or as a hard
// link to an earlier entry of the same inode), directories (name gets a
// trailing slash), symlinks, fifos, and devices if devices is set. Sockets
// (and devices otherwise) are skipped.
func (t *tarWriter) write(n *node, name string, devices bool) error {
	hdr := header(n, name)
	fd := n.fd
	switch n.typ() {
	case unix.S_IFREG:
		if n.st.Nlink > 1 {
			k := inode{dev: n.st.Dev, ino: n.st.Ino}
			if first, ok := t.links[k]; ok {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
				return t.tw.WriteHeader(hdr)
			}
			t.links[k] = name
		}
		return t.file(n, hdr)
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case unix.S_IFLNK:
		target, err := ReadlinkAt(n.parent, n.name)
		if err != nil {
			return pathError("readlink", n.rel, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFCHR, unix.S_IFBLK:
		if !devices {
			return nil
		}
		hdr.Typeflag = tar.TypeChar
		if n.typ() == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(n.st.Rdev)), int64(unix.Minor(n.st.Rdev))
	default:
		return nil
	}
	var err error
	if hdr.PAXRecords, err = t.xattrs(n, fd); err != nil {
		return err
	}
	return t.tw.WriteHeader(hdr)
}

// file writes a regular file's header and content. The file is opened
// without following and checked again through the open handle.
func (t *tarWriter) file(n *node, hdr *tar.Header) error {
	fd, err := unix.Openat(n.parent, n.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathError("open", n.rel, err)
	}
	f := os.NewFile(uintptr(fd), n.rel)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return pathError("stat", n.rel, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s: changed while it was read", n.rel)
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	if hdr.PAXRecords, err = t.xattrs(n, fd); err != nil {
		return err
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return err
	}
	w, err := io.CopyBuffer(onlyWriter{t.tw}, io.LimitReader(onlyReader{f}, st.Size), t.buf)
	if err != nil {
		return fmt.Errorf("%s: %w", n.rel, err)
	}
	if w < st.Size {
		return fmt.Errorf("%s: shrank while it was read", n.rel)
	}
	return nil
}

// xattrs reads n's extended attributes through fd, or through /proc for a
// node without one.
func (t *tarWriter) xattrs(n *node, fd int) (map[string]string, error) {
	t.xr.fd, t.xr.path = fd, procPath(n.parent, n.name)
	recs, err := t.xr.records()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.rel, err)
	}
	return recs, nil
}

// ReadlinkAt reads the target of the symlink name in dirfd, however long.
func ReadlinkAt(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// onlyWriter and onlyReader hide ReadFrom and WriteTo, so io.CopyBuffer
// uses the buffer it is given.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
