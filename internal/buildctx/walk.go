package buildctx

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"

	"github.com/moby/patternmatcher"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/archive"
)

// matchState carries the ignore rules' results from a directory to its
// children.
type matchState = patternmatcher.MatchInfo

// filter decides which entries of a source tree are left out.
type filter interface {
	// exclude reports whether the entry rel (a slash path below the source
	// root) is left out and, for a directory that is, whether nothing below
	// it can be included (prune). parent is the state returned for rel's
	// directory; the state returned is handed to rel's children.
	exclude(rel string, dir bool, parent matchState) (excluded, prune bool, st matchState, err error)
}

// ruleFilter applies a context's ignore rules.
type ruleFilter struct{ r *ignoreRules }

func (f ruleFilter) exclude(rel string, dir bool, parent matchState) (bool, bool, matchState, error) {
	ex, st, err := f.r.match(rel, parent)
	if err != nil || !ex || !dir {
		return ex, ex, st, err
	}
	return true, !f.r.mayReinclude(rel), st, nil
}

// funcFilter applies CopyOptions.Ignore; a directory is pruned when the
// function says so for the directory's path with a trailing "/" (see
// Context.Ignored).
type funcFilter func(rel string) (bool, error)

func (f funcFilter) exclude(rel string, dir bool, _ matchState) (bool, bool, matchState, error) {
	ex, err := f(rel)
	if err != nil || !ex || !dir {
		return ex, ex, matchState{}, err
	}
	prune, err := f(rel + "/")
	return true, prune, matchState{}, err
}

// node is an entry of a source tree being walked.
type node struct {
	parent *node  // nil for a source itself (a top)
	dirfd  int    // directory the entry is in; the source root for a top
	name   string // name in dirfd; for a top, its path below the root
	rel    string // path below the source root ("." for the root)
	lrel   string // path as the source argument names it
	st     unix.Stat_t
	link   string // symlink target

	entered bool   // the visitor has seen the entry
	out     int    // visitor's handle for a directory (Copy: the destination), -1 if none
	outRel  string // visitor's path for a directory (Copy: below the destination root)
	foreign bool   // visitor: the destination directory is not ours to change
}

func (n *node) isDir() bool { return n.st.Mode&unix.S_IFMT == unix.S_IFDIR }

// visitor receives the entries a walk includes.
type visitor interface {
	enter(n *node) error // every included entry, a directory before its contents
	leave(n *node) error // every entered directory, after its contents
}

// statBatch is the directory size from which entries are stat'ed in parallel.
const statBatch = 32

// statAll lstats the entries names of the directory fd, in parallel for a
// large directory: the walk of an unchanged tree is all system calls. The
// slices are the walker's until release.
func (w *walker) statAll(fd int, names []string) ([]unix.Stat_t, []error) {
	if w.depth == len(w.stats) {
		w.stats = append(w.stats, nil)
		w.errs = append(w.errs, nil)
	}
	stats := slices.Grow(w.stats[w.depth][:0], len(names))[:len(names)]
	errs := slices.Grow(w.errs[w.depth][:0], len(names))[:len(names)]
	w.stats[w.depth], w.errs[w.depth] = stats, errs
	w.depth++
	work := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			errs[i] = unix.Fstatat(fd, names[i], &stats[i], unix.AT_SYMLINK_NOFOLLOW)
		}
	}
	workers := min(runtime.NumCPU(), 4, len(names)/statBatch)
	if workers < 2 {
		work(0, len(names))
		return stats, errs
	}
	var wg sync.WaitGroup
	per := (len(names) + workers - 1) / workers
	for lo := per; lo < len(names); lo += per {
		wg.Go(func() { work(lo, min(lo+per, len(names))) })
	}
	work(0, per)
	wg.Wait()
	return stats, errs
}

// release gives back the slices of the last statAll.
func (w *walker) release() { w.depth-- }

// walker walks source trees through directory handles, never following a
// symlink below a top. An excluded directory that may hold included
// entries is walked, and entered (with its excluded parents) only when the
// first such entry turns up, so the visitor sees every included entry's
// parents and nothing else.
type walker struct {
	filt filter
	v    visitor

	depth int             // directories being walked
	stats [][]unix.Stat_t // statAll's results by depth, reused
	errs  [][]error
}

// walkTop walks the source n (a top: dirfd is the root, name == rel).
func (w *walker) walkTop(n *node) error {
	if w.filt == nil {
		return w.walk(n, false, false, matchState{})
	}
	if n.lrel != n.rel && n.lrel != "." {
		// The source went through a symlink: the link itself must not be excluded.
		if ex, _, _, err := w.filt.exclude(n.lrel, false, matchState{}); err != nil || ex {
			return err
		}
	}
	if n.rel == "." {
		return w.walk(n, false, false, matchState{})
	}
	ex, prune, st, err := w.filt.exclude(n.rel, n.isDir(), matchState{})
	if err != nil {
		return err
	}
	return w.walk(n, ex, prune, st)
}

func (w *walker) walk(n *node, excluded, prune bool, st matchState) error {
	dir := n.isDir()
	if excluded && (!dir || prune) {
		return nil
	}
	if !excluded {
		if err := w.enterPath(n); err != nil {
			return err
		}
	}
	if !dir {
		return nil
	}
	fd, err := openBeneath(n.dirfd, n.name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("open %s: %w", n.rel, err)
	}
	f := os.NewFile(uintptr(fd), n.rel)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", n.rel, err)
	}
	slices.Sort(names)
	stats, errs := w.statAll(fd, names)
	defer w.release()
	// One node serves every entry that is not a directory: visitors do not
	// keep nodes, and only a directory's children point at it.
	var scratch node
	for i, name := range names {
		c := &scratch
		*c = node{parent: n, dirfd: fd, name: name, rel: join(n.rel, name), out: -1, st: stats[i]}
		c.lrel = c.rel
		if n.lrel != n.rel {
			c.lrel = join(n.lrel, name)
		}
		if err := errs[i]; err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed since the directory was read
			}
			return fmt.Errorf("stat %s: %w", c.rel, err)
		}
		switch c.st.Mode & unix.S_IFMT {
		case unix.S_IFSOCK, unix.S_IFBLK, unix.S_IFCHR:
			continue // never part of a build: Docker skips them too
		case unix.S_IFLNK:
			if c.link, err = archive.ReadlinkAt(fd, name); err != nil {
				return fmt.Errorf("read symlink %s: %w", c.rel, err)
			}
		}
		if c.isDir() {
			c = &node{}
			*c = scratch
		}
		cex, cprune := false, false
		var cst matchState
		if w.filt != nil {
			if cex, cprune, cst, err = w.filt.exclude(c.rel, c.isDir(), st); err != nil {
				return err
			}
		}
		if err := w.walk(c, cex, cprune, cst); err != nil {
			return err
		}
	}
	if n.entered {
		return w.v.leave(n)
	}
	return nil
}

// enterPath enters n after its parents that were not entered yet.
func (w *walker) enterPath(n *node) error {
	if n == nil || n.entered {
		return nil
	}
	if err := w.enterPath(n.parent); err != nil {
		return err
	}
	n.entered = true
	return w.v.enter(n)
}

// join joins a name to a slash path below a root ("." is the root).
func join(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

// openBeneath opens name (a path of non-symlink components below dirfd)
// without following any symlink: openat2 with RESOLVE_BENEATH and
// RESOLVE_NO_SYMLINKS, or openat with O_NOFOLLOW where openat2 is missing.
func openBeneath(dirfd int, name string, flags int) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(dirfd, name, &how)
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
			return unix.Openat(dirfd, name, flags|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		}
		return -1, err
	}
}
