package archive

import (
	"errors"
	"io"
	"maps"
	"path"
	"slices"

	"golang.org/x/sys/unix"
)

// DiffTrees writes the OCI layer (an uncompressed tar) that turns the tree
// lower into the tree upper: added and changed entries as they are in upper,
// deleted ones as ".wh.<name>" whiteouts, and the directories above a change
// so that their metadata is restored too. It is the fallback for snapshots
// without an upper directory (vfs), where a container's tree is a full copy
// of its parent's: it walks both trees, which Diff never has to.
//
// An entry changed when its type, mode, owner, extended attributes or (not
// for directories) device number, size, mtime in nanoseconds or symlink
// target differ. Like Diff, it leaves out sockets and device nodes. Applying the
// result to lower with WhiteoutDelete gives upper.
func DiffTrees(w io.Writer, lower, upper string) error {
	t := newTarWriter(w)
	d := &treeDiff{emit: func(kind byte, n *node, rel string) error {
		if kind == 'D' {
			return t.tw.WriteHeader(markerHeader(n, path.Join(path.Dir(rel), whiteoutPrefix+path.Base(rel))))
		}
		return t.write(n, n.rel, false)
	}}
	if err := d.run(lower, upper); err != nil {
		return err
	}
	return t.close()
}

// ChangesTrees lists the changes from the tree lower to the tree upper as
// `docker diff` does for its vfs driver: A for an entry only upper has, C
// for one that changed (as DiffTrees judges it) and for the directories
// above any change, D for an entry only lower has (only the top of a
// deleted tree). Sorted by path.
func ChangesTrees(lower, upper string) ([]Change, error) {
	var out []Change
	d := &treeDiff{emit: func(kind byte, n *node, rel string) error {
		out = append(out, Change{Kind: kind, Path: "/" + rel})
		return nil
	}}
	if err := d.run(lower, upper); err != nil {
		return nil, err
	}
	sortChanges(out)
	return out, nil
}

// treeDiff compares two trees, reporting each difference to emit: 'A' and
// 'C' with the upper node, 'D' with the upper parent directory and the path.
// A directory that has not changed itself is reported ('C') only once
// something below it is: it waits in pending until then.
type treeDiff struct {
	emit    func(kind byte, n *node, rel string) error
	pending []*node
}

func (d *treeDiff) run(lower, upper string) error {
	lfd, err := unix.Open(lower, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathError("open", lower, err)
	}
	defer unix.Close(lfd)
	return walkDir(upper, func(n *node) (bool, error) {
		return false, d.dir(lfd, n)
	})
}

// report emits a difference, after the directories waiting above it.
func (d *treeDiff) report(kind byte, n *node, rel string) error {
	for _, p := range d.pending {
		if err := d.emit('C', p, p.rel); err != nil {
			return err
		}
	}
	d.pending = d.pending[:0]
	return d.emit(kind, n, rel)
}

// dir compares the directory u of the upper tree with the open directory
// lfd of the lower tree.
func (d *treeDiff) dir(lfd int, u *node) error {
	unames, err := readNames(u.fd)
	if err != nil {
		return pathError("readdir", u.rel, err)
	}
	lnames, err := readNames(lfd)
	if err != nil {
		return pathError("readdir", "lower "+u.rel, err)
	}
	lower := make(map[string]struct{}, len(lnames))
	for _, n := range lnames {
		lower[n] = struct{}{}
	}
	names := slices.Sorted(maps.Keys(lower))
	for _, n := range unames {
		if _, ok := lower[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		rel := path.Join(u.rel, name)
		c := node{rel: rel, name: name, parent: u.fd, fd: -1}
		err := unix.Fstatat(u.fd, name, &c.st, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			if _, ok := lower[name]; ok {
				if err := d.report('D', u, rel); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil {
			return pathError("lstat", rel, err)
		}
		if _, ok := lower[name]; !ok {
			if err := d.added(&c, 'A'); err != nil {
				return err
			}
			continue
		}
		if err := d.both(lfd, &c); err != nil {
			return err
		}
	}
	return nil
}

// added reports c and everything below it.
func (d *treeDiff) added(c *node, kind byte) error {
	return walkNode(c, func(n *node) (bool, error) {
		k := byte('A')
		if n == c {
			k = kind
		}
		return true, d.report(k, n, n.rel)
	})
}

// both compares c, an upper entry, with the lower entry of the same name.
func (d *treeDiff) both(lfd int, c *node) error {
	var lst unix.Stat_t
	if err := unix.Fstatat(lfd, c.name, &lst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return d.added(c, 'A')
		}
		return pathError("lstat", "lower "+c.rel, err)
	}
	ltyp := lst.Mode & unix.S_IFMT
	switch {
	case c.isDir() && ltyp != unix.S_IFDIR:
		return d.added(c, 'C')
	case c.isDir():
		return d.subdir(lfd, c, &lst)
	}
	same, err := sameEntry(lfd, &lst, c)
	if err != nil || same {
		return err
	}
	return d.report('C', c, c.rel)
}

// subdir compares two directories and what they hold.
func (d *treeDiff) subdir(lfd int, c *node, lst *unix.Stat_t) error {
	return walkNode(c, func(n *node) (bool, error) {
		cfd, err := unix.Openat(lfd, c.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return false, pathError("open", "lower "+c.rel, err)
		}
		defer unix.Close(cfd)
		same, err := sameEntry(lfd, lst, n)
		if err != nil {
			return false, err
		}
		if same {
			d.pending = append(d.pending, n)
		} else if err := d.report('C', n, n.rel); err != nil {
			return false, err
		}
		err = d.dir(cfd, n)
		if k := len(d.pending); k > 0 && d.pending[k-1] == n {
			d.pending = d.pending[:k-1]
		}
		return false, err
	})
}

// sameEntry reports whether the upper node u equals the lower entry of the
// same name in lfd (stat in lst) for a layer.
func sameEntry(lfd int, lst *unix.Stat_t, u *node) (bool, error) {
	s := &u.st
	if lst.Mode != s.Mode || lst.Uid != s.Uid || lst.Gid != s.Gid {
		return false, nil
	}
	if !u.isDir() && (lst.Rdev != s.Rdev || lst.Size != s.Size || lst.Mtim != s.Mtim) {
		return false, nil
	}
	if u.typ() == unix.S_IFLNK {
		lt, err := ReadlinkAt(lfd, u.name)
		if err != nil {
			return false, pathError("readlink", "lower "+u.rel, err)
		}
		ut, err := ReadlinkAt(u.parent, u.name)
		if err != nil {
			return false, pathError("readlink", u.rel, err)
		}
		if lt != ut {
			return false, nil
		}
	}
	lx := xattrReader{fd: -1, path: procPath(lfd, u.name)}
	ux := xattrReader{fd: -1, path: procPath(u.parent, u.name)}
	la, err := lx.records()
	if err != nil {
		return false, err
	}
	ua, err := ux.records()
	if err != nil {
		return false, err
	}
	return maps.Equal(la, ua), nil
}
