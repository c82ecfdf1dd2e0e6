package buildctx

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/moby/patternmatcher/ignorefile"

	"github.com/strata-dev/strata/internal/errdefs"
)

// ignorePaths are the paths FuzzIgnorePatterns asks about.
var ignorePaths = []string{
	"a", "a/b", "a/b/c", "a/b/c/d.txt", "a/x.log", "b", "b/a", "b/a/b", ".git", ".git/HEAD",
	"node_modules", "node_modules/m/index.js", "x.log", "dir/keep", "dir/keep/deep/f", "dir/drop",
}

// FuzzIgnorePatterns checks, for any ignore file, that matching never
// panics and that a directory the rules let a walk skip ("dir/" true) has
// nothing below it that the rules include.
func FuzzIgnorePatterns(f *testing.F) {
	for _, seed := range []string{
		"a\n!a/b/c\n",
		"**/b\n!a/b/c/**\n",
		"*\n!dir/keep\n",
		"dir\n!dir/keep/**\n!x.log\n",
		"a/*/c\n!a/b\n",
		"node_modules\n.git\n*.log\n",
		"a\n!*/b\n",
		"[a-c]\n![b]/a\n",
		"a\\\n!a/b\\*\n",
		"**\n!**/d.txt\n",
		"a/b\n!a\na/b/c\n",
		"a\n!^*/b",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, file string) {
		if !utf8.ValidString(file) {
			return // patternmatcher's scanner reports bad UTF-8 on stderr
		}
		patterns, err := ignorefile.ReadAll(strings.NewReader(file))
		if err != nil {
			return
		}
		rules, err := newIgnoreRules(patterns)
		if err != nil || rules == nil {
			return
		}
		c := &Context{ignore: rules}
		for _, dir := range ignorePaths {
			skip, err := c.Ignored(dir + "/")
			if err != nil || !skip {
				continue
			}
			for _, p := range ignorePaths {
				if !strings.HasPrefix(p, dir+"/") {
					continue
				}
				if in, err := c.Ignored(p); err == nil && !in {
					t.Fatalf("rules %q let %s/ be skipped but include %s", patterns, dir, p)
				}
			}
		}
	})
}

// FuzzChecksumPatterns checks that no source pattern panics or reaches
// outside the context: every entry it yields lies below the context, and a
// pattern reaching for the outside is refused or finds nothing.
func FuzzChecksumPatterns(f *testing.F) {
	for _, seed := range []string{
		".", "/", "a", "*", "*/*", "d/*/f", "../outside/secret", "up/secret", "d/../../outside",
		"[", "\\", "a/\\*", "etc/passwd", "d/abs", "*/../..", "d/in/../f", "./././a", "//a//",
	} {
		f.Add(seed)
	}
	parent := f.TempDir()
	dir := filepath.Join(parent, "ctx")
	writeTree(f, parent, map[string]string{"outside/secret": "s"})
	writeTree(f, dir, map[string]string{
		"a":      "a",
		"d/f":    "f",
		"d/e/f":  "f",
		"d/abs":  "->/etc",
		"d/in":   "->e",
		"up":     "->../outside",
		"etc":    "->/etc",
		"d/loop": "->loop",
	})
	c, err := Open(dir, "", "")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		s, err := c.Checksum([]string{src})
		if err != nil {
			for _, class := range []error{errdefs.ErrNotFound, errdefs.ErrPermission, errdefs.ErrInvalidArgument} {
				if errors.Is(err, class) {
					return
				}
			}
			t.Fatalf("%q: unclassified error %v", src, err)
		}
		for p := range s.Files {
			if p != "." && (strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../")) {
				t.Fatalf("%q: entry %q outside the context", src, p)
			}
			if strings.Contains(p, "secret") || strings.HasPrefix(p, "etc/") || strings.HasPrefix(p, "d/abs/") {
				t.Fatalf("%q: entry %q from outside the context", src, p)
			}
		}
	})
}
