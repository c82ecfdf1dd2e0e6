package buildctx

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Context is a build context directory read in place.
type Context struct {
	Dir string // absolute, symlinks resolved

	ignore    *ignoreRules // nil when nothing is ignored
	cache     *hashCache
	cacheFile string // "" when the cache is not persisted

	hashed atomic.Int64 // regular files whose content was read (tests)
}

// Open opens dir as a build context. dockerfile is the Dockerfile's path
// (absolute or relative to the working directory; may be "" or outside dir);
// ignore rules come from "<dockerfile>.dockerignore" next to the Dockerfile
// if that exists (BuildKit's rule), else from dir/.dockerignore. cacheDir
// holds the persistent hash cache (created if missing); "" keeps the cache
// in memory only.
func Open(dir, dockerfile, cacheDir string) (*Context, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("build context %q: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "build context %q: no such directory", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("build context %q: %w", dir, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("build context %q: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "build context %q is not a directory", dir)
	}
	c := &Context{Dir: real, cache: newHashCache()}
	if c.ignore, err = loadIgnore(real, dockerfile); err != nil {
		return nil, err
	}
	if cacheDir != "" {
		if err := os.MkdirAll(cacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("build context hash cache: %w", err)
		}
		sum := sha256.Sum256([]byte(real))
		c.cacheFile = filepath.Join(cacheDir, hex.EncodeToString(sum[:])+".cache")
		c.cache.load(c.cacheFile)
	}
	return c, nil
}

// Ignored reports whether the context-relative slash path rel is excluded
// by .dockerignore (moby/patternmatcher semantics, "!" exceptions and "**"
// included). The root is never excluded.
//
// A path ending in "/" asks about a whole directory: true means the
// directory is excluded and no "!" rule can bring back anything below it,
// so a walk may skip it. Copy asks that for every excluded directory.
func (c *Context) Ignored(rel string) (bool, error) {
	if c.ignore == nil {
		return false, nil
	}
	subtree := strings.HasSuffix(rel, "/")
	rel = cleanRel(rel)
	if rel == "." {
		return false, nil
	}
	ignored, err := c.ignore.ignored(rel)
	if err != nil || !ignored || !subtree {
		return ignored, err
	}
	return !c.ignore.mayReinclude(rel), nil
}

// filter returns the context's ignore rules as a walk filter (nil: none).
func (c *Context) filter() filter {
	if c.ignore == nil {
		return nil
	}
	return ruleFilter{c.ignore}
}

// cleanRel cleans a slash path below a root, "." for the root itself.
func cleanRel(p string) string {
	p = strings.TrimLeft(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// ignoreRules are the parsed patterns of a .dockerignore file.
type ignoreRules struct {
	mu   sync.Mutex // a PatternMatcher is not safe for concurrent use
	pm   *patternmatcher.PatternMatcher
	excl [][]string // the components of every "!" pattern
}

// loadIgnore reads the ignore file that applies to a context (see Open).
func loadIgnore(dir, dockerfile string) (*ignoreRules, error) {
	name := filepath.Join(dir, ".dockerignore")
	if dockerfile != "" {
		if df, err := filepath.Abs(dockerfile); err == nil {
			if fi, err := os.Stat(df + ".dockerignore"); err == nil && fi.Mode().IsRegular() {
				name = df + ".dockerignore"
			}
		}
	}
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ignore file: %w", err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read ignore file %s: %w", name, err)
	}
	r, err := newIgnoreRules(patterns)
	if err != nil {
		return nil, fmt.Errorf("ignore file %s: %w", name, err)
	}
	return r, nil
}

// newIgnoreRules compiles patterns as read by ignorefile.ReadAll; none gives nil.
func newIgnoreRules(patterns []string) (*ignoreRules, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid pattern: %v", err)
	}
	r := &ignoreRules{pm: pm}
	for _, p := range pm.Patterns() {
		if p.Exclusion() {
			r.excl = append(r.excl, strings.Split(p.String(), "/"))
		}
	}
	return r, nil
}

func (r *ignoreRules) ignored(rel string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok, err := r.pm.MatchesOrParentMatches(rel)
	if err != nil {
		return false, errdefs.Newf(errdefs.ErrInvalidArgument, "ignore rules: %v", err)
	}
	return ok, nil
}

// match is ignored for a walk: parent is the state of rel's directory.
func (r *ignoreRules) match(rel string, parent matchState) (bool, matchState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok, st, err := r.pm.MatchesUsingParentResults(rel, parent)
	if err != nil {
		return false, st, errdefs.Newf(errdefs.ErrInvalidArgument, "ignore rules: %v", err)
	}
	return ok, st, nil
}

// mayReinclude reports whether a "!" pattern could match something below
// the excluded directory dir. A pattern that matches dir itself or one of
// its parents cannot: whatever matches dir matches what is below it too,
// so the rules leave everything below dir excluded, as they leave dir. Any
// doubt ("**", escapes, classes) answers yes, which only costs a walk.
func (r *ignoreRules) mayReinclude(dir string) bool {
	d := strings.Split(dir, "/")
	for _, p := range r.excl {
		if len(p) > len(d) && prefixMayMatch(p[:len(d)], d) {
			return true
		}
		if len(p) <= len(d) && strings.Contains(strings.Join(p, "/"), "**") {
			return true
		}
	}
	return false
}

// prefixMayMatch reports whether the pattern components p may match the
// path components d, one for one.
func prefixMayMatch(p, d []string) bool {
	for i := range p {
		if strings.Contains(p[i], "**") || strings.ContainsAny(p[i], `\[]^`) {
			// patternmatcher's regexp rules (it leaves "^" unescaped, for
			// one) may differ from path.Match's: do not second-guess them.
			return true
		}
		if ok, err := path.Match(p[i], d[i]); err != nil || !ok {
			return false
		}
	}
	return true
}
