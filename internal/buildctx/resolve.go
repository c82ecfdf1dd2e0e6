package buildctx

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/errdefs"
)

// maxLinks bounds the symlinks one source path may go through (Linux's limit).
const maxLinks = 40

// errMissing is a source path component that does not exist or is not a
// directory: the pattern does not match there.
var errMissing = errors.New("no such file or directory")

// resolver resolves COPY source patterns below a source root.
type resolver struct {
	rootfd int    // the source root
	root   string // its absolute path, symlinks resolved
	// strict refuses a symlink that leads out of the root (the build
	// context); otherwise symlinks resolve inside the root as if it were
	// "/" (another stage's root filesystem).
	strict bool
	src    string // the source argument being resolved, for messages
}

// where names the root in messages.
func (r *resolver) where() string {
	if r.strict {
		return "the build context"
	}
	return "the source root"
}

// notFound is the error of a source that gave nothing to copy.
func (r *resolver) notFound(excluded bool) error {
	if excluded {
		return errdefs.Newf(errdefs.ErrNotFound, "COPY source %q: not found in %s (excluded by .dockerignore)", r.src, r.where())
	}
	return errdefs.Newf(errdefs.ErrNotFound, "COPY source %q: not found in %s", r.src, r.where())
}

// cleanSource turns a COPY source argument into a cleaned slash path below
// the root ("." for the root; a leading "/" or "./" is allowed), refusing
// one that leaves the root through "..".
func (r *resolver) cleanSource(src string) (string, error) {
	if src == "" || strings.IndexByte(src, 0) >= 0 {
		return "", errdefs.Newf(errdefs.ErrInvalidArgument, "invalid COPY source %q", src)
	}
	s := path.Clean(strings.TrimLeft(src, "/"))
	if s == ".." || strings.HasPrefix(s, "../") {
		return "", errdefs.Newf(errdefs.ErrPermission, "COPY source %q is outside %s", src, r.where())
	}
	return s, nil
}

// expand calls fn for every source the cleaned pattern matches: lrel is the
// path as the pattern names it, real the path with every symlink resolved
// (the last one only with followTop). It returns how many matched.
func (r *resolver) expand(pattern string, followTop bool, fn func(lrel, real string, st *unix.Stat_t) error) (int, error) {
	if pattern == "." {
		var st unix.Stat_t
		if err := unix.Fstatat(r.rootfd, ".", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return 0, fmt.Errorf("stat %s: %w", r.root, err)
		}
		return 1, fn(".", ".", &st)
	}
	return r.expandAt(".", ".", strings.Split(pattern, "/"), followTop, fn)
}

func (r *resolver) expandAt(lcur, rcur string, comps []string, followTop bool, fn func(string, string, *unix.Stat_t) error) (int, error) {
	comp := comps[0]
	if !hasMeta(comp) {
		return r.matchOne(lcur, rcur, comp, comps[1:], followTop, fn)
	}
	names, err := r.readdir(rcur)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, name := range names {
		ok, err := path.Match(comp, name)
		if err != nil {
			return 0, errdefs.Newf(errdefs.ErrInvalidArgument, "COPY source %q: bad pattern %q", r.src, comp)
		}
		if !ok {
			continue
		}
		n, err := r.matchOne(lcur, rcur, name, comps[1:], followTop, fn)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// matchOne continues a match with the entry name of the resolved directory rcur.
func (r *resolver) matchOne(lcur, rcur, name string, rest []string, followTop bool, fn func(string, string, *unix.Stat_t) error) (int, error) {
	lnext := join(lcur, name)
	real, st, err := r.resolve(rcur, name, len(rest) > 0 || followTop)
	if errors.Is(err, errMissing) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(rest) == 0 {
		return 1, fn(lnext, real, &st)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return 0, nil
	}
	return r.expandAt(lnext, real, rest, followTop, fn)
}

// readdir lists the resolved directory rel, sorted; nil if it is missing.
func (r *resolver) readdir(rel string) ([]string, error) {
	fd, err := openBeneath(r.rootfd, rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if errors.Is(r.statError(rel, err), errMissing) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("COPY source %q: open %s: %w", r.src, rel, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("COPY source %q: read %s: %w", r.src, rel, err)
	}
	slices.Sort(names)
	return names, nil
}

// resolve follows the path rest from the resolved directory base (both
// below the root) and returns the resolved path and its lstat. A final
// symlink is followed only with followLast. A missing component is
// errMissing; a symlink leading out of the root is errdefs.ErrPermission
// when strict, and stays inside the root otherwise.
func (r *resolver) resolve(base, rest string, followLast bool) (string, unix.Stat_t, error) {
	var st unix.Stat_t
	cur, links, via := base, 0, ""
	for rest != "" {
		var comp string
		comp, rest, _ = strings.Cut(rest, "/")
		switch comp {
		case "", ".":
			continue
		case "..":
			if cur == "." {
				if r.strict {
					return "", st, r.escape(via)
				}
				continue
			}
			cur = path.Dir(cur)
			continue
		}
		next := join(cur, comp)
		if err := unix.Fstatat(r.rootfd, next, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return "", st, r.statError(next, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK && (rest != "" || followLast) {
			if links++; links > maxLinks {
				return "", st, errdefs.Newf(errdefs.ErrInvalidArgument, "COPY source %q: too many levels of symbolic links", r.src)
			}
			via = next
			target, err := archive.ReadlinkAt(r.rootfd, next)
			if err != nil {
				return "", st, fmt.Errorf("COPY source %q: read symlink %s: %w", r.src, next, err)
			}
			if path.IsAbs(target) {
				if target, err = r.absTarget(next, target); err != nil {
					return "", st, err
				}
				cur = "."
			}
			if rest != "" {
				target += "/" + rest
			}
			rest = target
			continue
		}
		if rest != "" && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return "", st, errMissing
		}
		cur = next
	}
	if err := unix.Fstatat(r.rootfd, cur, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return "", st, r.statError(cur, err)
	}
	return cur, st, nil
}

// statError classifies a failed lstat of p: a path that cannot exist is
// errMissing.
func (r *resolver) statError(p string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ENAMETOOLONG):
		return errMissing
	case errors.Is(err, unix.EACCES):
		return errdefs.Classed(errdefs.ErrPermission, fmt.Errorf("COPY source %q: stat %s: %w", r.src, p, err))
	}
	return fmt.Errorf("COPY source %q: stat %s: %w", r.src, p, err)
}

// absTarget maps the absolute target of the symlink link to a path below
// the root: in a root filesystem it is one already; in the build context it
// must name a path inside the context directory.
func (r *resolver) absTarget(link, target string) (string, error) {
	if !r.strict {
		return strings.TrimLeft(target, "/"), nil
	}
	t := filepath.Clean(target)
	switch {
	case r.root == "/":
		return strings.TrimLeft(t, "/"), nil
	case t == r.root:
		return ".", nil
	case strings.HasPrefix(t, r.root+"/"):
		return t[len(r.root)+1:], nil
	}
	return "", errdefs.Newf(errdefs.ErrPermission, "COPY source %q: symlink %q points to %q, outside %s", r.src, link, target, r.where())
}

func (r *resolver) escape(link string) error {
	return errdefs.Newf(errdefs.ErrPermission, "COPY source %q: symlink %q points outside %s", r.src, link, r.where())
}

// hasMeta reports whether a path component is a pattern (filepath.Match syntax).
func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }
