package archive

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
)

// WriteTree writes the whole tree at root as a tar (`export` of a
// container's root filesystem): entries named by their path below root, the
// root itself left out, sorted; hard links kept, device nodes written as
// such, sockets skipped; file contents stream.
func WriteTree(w io.Writer, root string) error {
	t := newTarWriter(w)
	err := walkDir(root, func(n *node) (bool, error) {
		if n.rel == "" {
			return true, nil
		}
		return true, t.write(n, n.rel, true)
	})
	if err != nil {
		return err
	}
	return t.close()
}

// PathOptions tunes WritePathWith.
type PathOptions struct {
	// Name is the tar name of the path itself, and the prefix of what is
	// below it; "" means the path's base name ("." for the root).
	Name string
	// FollowSymlink makes a path that is a symlink stand for its target
	// (`docker cp -L`); otherwise the symlink itself is written.
	FollowSymlink bool
}

// WritePath writes the path p of the tree at root as a tar (`cp` out of a
// container): `cp ctr:/etc/hosts -` gives the entry "hosts", a directory
// "dir/" and "dir/...". p resolves inside root as it would inside the
// container, so no symlink leads out of root; a missing path is
// errdefs.ErrNotFound.
func WritePath(w io.Writer, root, p string) error {
	return WritePathWith(w, root, p, PathOptions{})
}

// WritePathWith is WritePath with options.
func WritePathWith(w io.Writer, root, p string, opts PathOptions) error {
	r, err := openRoot(root)
	if err != nil {
		return err
	}
	defer r.close()
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	if rel == "" {
		rel = "."
	}
	name := opts.Name
	if name == "" {
		name = path.Base(rel)
	}
	n, err := r.lookup(rel, opts.FollowSymlink)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	t := newTarWriter(w)
	err = walkNode(n, func(x *node) (bool, error) {
		tn := name
		if x.rel != "" {
			tn = name + "/" + x.rel
		}
		return true, t.write(x, tn, true)
	})
	if err != nil {
		return err
	}
	return t.close()
}

// maxSymlinks is how many symlinks a lookup follows, as Linux does.
const maxSymlinks = 40

// lookup finds the entry rel (cleaned, below the root): its parent
// resolved inside the root, and rel itself followed too if follow is set.
func (r *root) lookup(rel string, follow bool) (*node, error) {
	for range maxSymlinks {
		dir, name := split(rel)
		dirfd, err := r.dir(dir, false)
		if err != nil {
			return nil, err
		}
		n := &node{name: name, parent: dirfd, fd: -1}
		if err := unix.Fstatat(dirfd, name, &n.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil, errdefs.Classed(errdefs.ErrNotFound, err)
			}
			return nil, pathError("lstat", rel, err)
		}
		if !follow || n.typ() != unix.S_IFLNK {
			return n, nil
		}
		target, err := ReadlinkAt(dirfd, name)
		if err != nil {
			return nil, pathError("readlink", rel, err)
		}
		if !path.IsAbs(target) {
			target = path.Join("/", dir, target)
		}
		if rel = strings.TrimPrefix(path.Clean(target), "/"); rel == "" {
			rel = "."
		}
	}
	return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "too many levels of symbolic links")
}
