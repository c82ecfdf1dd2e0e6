package buildctx

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/errdefs"
)

// CopyOptions control Copy.
type CopyOptions struct {
	UID, GID int          // owner of everything copied and of the directories made; -1 keeps the source's
	Chmod    *os.FileMode // --chmod: mode of copied files and directories; nil keeps the source's bits
	// Ignore leaves entries out (nil copies everything: COPY --from). For
	// the build context pass ctx.Ignored. Called with a slash path below
	// srcRoot; for an excluded directory it is also asked about the path
	// with a trailing "/", and true there skips the whole directory.
	Ignore           func(rel string) (bool, error)
	FollowTopSymlink bool // a source that is a symlink stands for its target (the context: true)
	// RootfsSymlinks resolves symlinks on the sources' paths inside srcRoot
	// as if it were "/" (COPY --from another stage's root filesystem, where
	// absolute symlinks are normal). false refuses any that leads out of
	// srcRoot with errdefs.ErrPermission, as Checksum does (the context).
	RootfsSymlinks bool
}

// Copy implements Docker's COPY into a container root filesystem: srcs
// (patterns as in Checksum) below srcRoot are copied to dest, an absolute
// container path (a trailing "/" is kept as given), of the root filesystem
// mounted at dstRoot.
//
// A source directory's contents are copied into dest, not the directory. A
// file goes to dest/<name> when dest ends in "/", is an existing directory
// or there are several sources, otherwise to dest itself. Several sources
// need dest to be a directory: ending in "/" or existing (else
// errdefs.ErrInvalidArgument). Missing directories of dest are made 0755,
// owned by UID:GID when given. Existing directories are merged (those below
// dest take the source's metadata), existing files and symlinks replaced.
// Times and permission bits are kept (bits unless Chmod), symlinks are
// copied as symlinks, hard links as separate files; device nodes and
// sockets are skipped.
//
// Every write stays inside dstRoot whatever symlinks the root filesystem
// holds: paths resolve as if dstRoot were "/".
func Copy(srcRoot string, srcs []string, dstRoot, dest string, o CopyOptions) error {
	root, err := filepath.Abs(srcRoot)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return fmt.Errorf("COPY source root %s: %w", srcRoot, err)
	}
	rootfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open COPY source root %s: %w", srcRoot, err)
	}
	defer unix.Close(rootfd)

	var filt filter
	if o.Ignore != nil {
		filt = funcFilter(o.Ignore)
	}
	var tops []*node
	for _, src := range srcs {
		r := &resolver{rootfd: rootfd, root: root, strict: !o.RootfsSymlinks, src: src}
		before := len(tops)
		matched, err := sourceTops(r, src, o.FollowTopSymlink, filt, &tops)
		if err != nil {
			return err
		}
		if len(tops) == before {
			return r.notFound(matched)
		}
	}

	d, err := openDstRoot(dstRoot)
	if err != nil {
		return err
	}
	defer d.close()
	drel := cleanDest(dest)
	intoDir := strings.HasSuffix(dest, "/") || drel == "." || d.isDir(drel)
	if len(tops) > 1 && !intoDir {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "When using COPY with more than one source file, the destination must be a directory and end with a /")
	}
	c := &copier{o: o, d: d, root: os.Geteuid() == 0}
	defer c.closeAll()
	w := &walker{filt: filt, v: c}
	for _, t := range tops {
		if err := c.copyTop(w, t, drel, intoDir); err != nil {
			return err
		}
	}
	return nil
}

// sourceTops appends the sources src matches to tops, leaving out those the
// filter excludes for good; it reports whether src matched anything.
func sourceTops(r *resolver, src string, follow bool, filt filter, tops *[]*node) (bool, error) {
	pattern, err := r.cleanSource(src)
	if err != nil {
		return false, err
	}
	n, err := r.expand(pattern, follow, func(lrel, real string, st *unix.Stat_t) error {
		t := &node{dirfd: r.rootfd, name: real, rel: real, lrel: lrel, st: *st, out: -1}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFSOCK, unix.S_IFBLK, unix.S_IFCHR:
			return nil
		case unix.S_IFLNK:
			link, err := archive.ReadlinkAt(r.rootfd, real)
			if err != nil {
				return fmt.Errorf("COPY source %q: read symlink: %w", src, err)
			}
			t.link = link
		}
		if filt != nil {
			if gone, err := excludedTop(filt, t); err != nil || gone {
				return err
			}
		}
		*tops = append(*tops, t)
		return nil
	})
	return n > 0, err
}

// excludedTop reports whether the filter leaves out the source t and
// everything below it.
func excludedTop(filt filter, t *node) (bool, error) {
	if t.lrel != t.rel && t.lrel != "." {
		if ex, _, _, err := filt.exclude(t.lrel, false, matchState{}); err != nil || ex {
			return ex, err
		}
	}
	if t.rel == "." {
		return false, nil
	}
	ex, prune, _, err := filt.exclude(t.rel, t.isDir(), matchState{})
	return ex && (prune || !t.isDir()), err
}

// copier is the visitor that writes a walk's entries below the destination.
type copier struct {
	o    CopyOptions
	d    *dstRoot
	root bool  // running as root: owners can be set
	open []int // directory handles held by the walk

	// Where the current top goes: for a directory, into the directory
	// topFd (topRel); for anything else, to topName in it.
	topFd   int
	topRel  string
	topName string
}

func (c *copier) copyTop(w *walker, t *node, drel string, intoDir bool) error {
	dir, name := drel, path.Base(t.lrel)
	if !t.isDir() && !intoDir {
		dir, name = path.Dir(drel), path.Base(drel)
	}
	fd, err := c.d.mkdirAll(dir, c.o.UID, c.o.GID)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	c.topFd, c.topRel, c.topName = fd, dir, name
	return w.walkTop(t)
}

func (c *copier) enter(n *node) error {
	pfd, prel, name := c.topFd, c.topRel, c.topName
	switch {
	case n.parent != nil:
		pfd, prel, name = n.parent.out, n.parent.outRel, n.name
	case n.isDir():
		// The destination directory itself keeps its metadata.
		n.out, n.outRel, n.foreign = c.topFd, c.topRel, true
		return nil
	}
	target := join(prel, name)
	switch n.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return c.dir(pfd, name, target, n)
	case unix.S_IFREG:
		return c.file(pfd, name, target, n)
	case unix.S_IFLNK:
		return c.symlink(pfd, name, target, n)
	case unix.S_IFIFO:
		return c.fifo(pfd, name, target, n)
	}
	return nil
}

func (c *copier) leave(n *node) error {
	if n.parent == nil {
		return nil // the destination directory, closed by copyTop
	}
	defer c.closeDir(n.out)
	if n.foreign {
		return nil
	}
	if err := c.setMeta(n.out, n); err != nil {
		return fmt.Errorf("COPY to %s: %w", containerPath(n.outRel), err)
	}
	return nil
}

// dir makes (or opens, to merge) the directory name in pfd; its metadata
// is set when it is left, once what it holds is written.
func (c *copier) dir(pfd int, name, target string, n *node) error {
	err := unix.Mkdirat(pfd, name, 0o700)
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("COPY to %s: %w", containerPath(target), err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
		case unix.S_IFLNK:
			// Merge into the directory the symlink names, inside the root.
			fd, err := c.d.mkdirAll(target, c.o.UID, c.o.GID)
			if err != nil {
				return err
			}
			c.open = append(c.open, fd)
			n.out, n.outRel, n.foreign = fd, target, true
			return nil
		default:
			return errdefs.Newf(errdefs.ErrConflict, "COPY to %s: cannot copy a directory to a non-directory", containerPath(target))
		}
	} else if err != nil {
		return fmt.Errorf("COPY to %s: %w", containerPath(target), err)
	}
	fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("COPY to %s: %w", containerPath(target), err)
	}
	c.open = append(c.open, fd)
	n.out, n.outRel = fd, target
	return nil
}

func (c *copier) file(pfd int, name, target string, n *node) error {
	sfd, err := openBeneath(n.dirfd, n.name, unix.O_RDONLY|unix.O_NONBLOCK) // a fifo swapped in must not block
	if err != nil {
		return fmt.Errorf("COPY source %s: %w", n.lrel, err)
	}
	src := os.NewFile(uintptr(sfd), n.lrel)
	defer src.Close()
	if err := c.replace(pfd, name, target); err != nil {
		return err
	}
	dfd, err := unix.Openat(pfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("COPY to %s: %w", containerPath(target), err)
	}
	dst := os.NewFile(uintptr(dfd), target)
	defer dst.Close()
	if err := copyData(dst, src); err != nil {
		return fmt.Errorf("COPY %s to %s: %w", n.lrel, containerPath(target), err)
	}
	if err := c.setMeta(dfd, n); err != nil {
		return fmt.Errorf("COPY to %s: %w", containerPath(target), err)
	}
	return nil
}

func (c *copier) symlink(pfd int, name, target string, n *node) error {
	if err := c.replace(pfd, name, target); err != nil {
		return err
	}
	err := unix.Symlinkat(n.link, pfd, name)
	if err == nil {
		uid, gid := c.owner(n)
		if err = unix.Fchownat(pfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil && c.ownerErrorOK(err) {
			err = nil
		}
	}
	if err == nil {
		ts := []unix.Timespec{n.st.Atim, n.st.Mtim}
		err = unix.UtimesNanoAt(pfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return fmt.Errorf("COPY to %s: %w", containerPath(target), err)
	}
	return nil
}

func (c *copier) fifo(pfd int, name, target string, n *node) error {
	if err := c.replace(pfd, name, target); err != nil {
		return err
	}
	if err := unix.Mknodat(pfd, name, unix.S_IFIFO|0o600, 0); err != nil {
		return fmt.Errorf("COPY to %s: %w", containerPath(target), err)
	}
	fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == nil {
		err = c.setMeta(fd, n)
		unix.Close(fd)
	}
	if err != nil {
		return fmt.Errorf("COPY to %s: %w", containerPath(target), err)
	}
	return nil
}

// replace removes what is at name in pfd, unless it is a directory.
func (c *copier) replace(pfd int, name, target string) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return errdefs.Newf(errdefs.ErrConflict, "COPY to %s: cannot replace a directory with a file", containerPath(target))
	}
	if err == nil {
		err = unix.Unlinkat(pfd, name, 0)
	}
	if err != nil {
		return fmt.Errorf("COPY to %s: %w", containerPath(target), err)
	}
	return nil
}

// setMeta gives the open file fd n's owner (or the chown), permission bits
// (or the chmod) and times.
func (c *copier) setMeta(fd int, n *node) error {
	uid, gid := c.owner(n)
	if err := unix.Fchown(fd, uid, gid); err != nil && !c.ownerErrorOK(err) {
		return err
	}
	mode := n.st.Mode & 0o7777
	if c.o.Chmod != nil {
		mode = modeBits(*c.o.Chmod)
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return err
	}
	return futimens(fd, &n.st)
}

func (c *copier) owner(n *node) (int, int) {
	uid, gid := int(n.st.Uid), int(n.st.Gid)
	if c.o.UID >= 0 {
		uid = c.o.UID
	}
	if c.o.GID >= 0 {
		gid = c.o.GID
	}
	return uid, gid
}

// ownerErrorOK: without root, keeping the source's owner is best effort.
func (c *copier) ownerErrorOK(err error) bool {
	return errors.Is(err, unix.EPERM) && !c.root && c.o.UID < 0 && c.o.GID < 0
}

func (c *copier) closeDir(fd int) {
	for i := len(c.open) - 1; i >= 0; i-- {
		if c.open[i] == fd {
			c.open = append(c.open[:i], c.open[i+1:]...)
			break
		}
	}
	unix.Close(fd)
}

func (c *copier) closeAll() {
	for _, fd := range c.open {
		unix.Close(fd)
	}
	c.open = nil
}

// modeBits turns an os.FileMode into Unix permission bits.
func modeBits(m os.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		b |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		b |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		b |= unix.S_ISVTX
	}
	return b
}

// copyData copies src to the empty file dst: a reflink where the file
// system can share extents, else copy_file_range (in the kernel), else
// read and write (os.File.ReadFrom picks).
func copyData(dst, src *os.File) error {
	if unix.IoctlFileClone(int(dst.Fd()), int(src.Fd())) == nil {
		return nil
	}
	_, err := dst.ReadFrom(src)
	return err
}
