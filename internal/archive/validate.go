package archive

import (
	"archive/tar"
	"fmt"
	"path"
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
)

// EntryError is a tar entry that a layer may not contain.
type EntryError struct {
	Entry  string // the entry's name as written in the tar header
	Reason string
}

func (e *EntryError) Error() string { return fmt.Sprintf("entry %q: %s", e.Entry, e.Reason) }

// Unwrap classifies every refused entry as errdefs.ErrInvalidArgument.
func (e *EntryError) Unwrap() error { return errdefs.ErrInvalidArgument }

// Whiteout names (OCI image spec, "Whiteouts").
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// checker validates the entries of one stream in order. It remembers the
// cleaned paths that are symlinks at this point of the stream; that map is
// its only per-entry allocation.
type checker struct {
	symlinks map[string]struct{}
}

func newChecker() *checker { return &checker{symlinks: make(map[string]struct{})} }

// check validates hdr and records its effect on the symlink set. It returns
// nil or an *EntryError.
func (c *checker) check(hdr *tar.Header) error {
	_, err := c.checkEntry(hdr)
	return err
}

// checkEntry is check that also returns the cleaned entry path, the one an
// extraction must use.
func (c *checker) checkEntry(hdr *tar.Header) (string, error) {
	p, reason := cleanName(hdr.Name)
	if reason == "" {
		reason = c.checkType(hdr, p)
	}
	if reason != "" {
		return "", &EntryError{Entry: hdr.Name, Reason: reason}
	}
	c.record(hdr, p)
	return p, nil
}

// checkType applies the rules that depend on the entry type. p is the
// cleaned name.
func (c *checker) checkType(hdr *tar.Header, p string) string {
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeFifo, tar.TypeDir:
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return "symlink has an empty target"
		}
		if strings.IndexByte(hdr.Linkname, 0) >= 0 {
			return "symlink target contains a NUL byte"
		}
	case tar.TypeLink:
		if reason := c.checkHardLink(hdr.Linkname); reason != "" {
			return reason
		}
	case tar.TypeChar, tar.TypeBlock:
		return "device node"
	default:
		return fmt.Sprintf("unsupported entry type %q", hdr.Typeflag)
	}
	if p == "." && hdr.Typeflag != tar.TypeDir {
		return "the root entry must be a directory"
	}
	if reason := checkWhiteout(p); reason != "" {
		return reason
	}
	if via := c.viaSymlink(p); via != "" {
		return fmt.Sprintf("writes through symlink %q", via)
	}
	return ""
}

// checkHardLink validates the target of a hard link.
func (c *checker) checkHardLink(target string) string {
	if strings.IndexByte(target, 0) >= 0 {
		return "hard link target contains a NUL byte"
	}
	if strings.HasPrefix(target, "/") {
		return "hard link target is an absolute path"
	}
	t := path.Clean(target)
	if target == "" || t == "." {
		return "hard link has no target"
	}
	if escapes(t) {
		return "hard link target escapes the root"
	}
	if via := c.viaSymlink(t); via != "" {
		return fmt.Sprintf("hard link target goes through symlink %q", via)
	}
	return ""
}

// record updates the symlink set after hdr was accepted. A symlink, or a
// hard link to a symlink (link(2) does not follow it, so the new name is a
// symlink too), adds p; any other entry replaces whatever was at p.
// Whiteouts remove nothing here: in the OCI model they apply to lower
// layers, so a symlink of this stream stays one. Symlinks below a replaced
// path are kept: that can only refuse more, never less.
func (c *checker) record(hdr *tar.Header, p string) {
	switch {
	case hdr.Typeflag == tar.TypeSymlink:
		c.symlinks[p] = struct{}{}
	case hdr.Typeflag == tar.TypeLink && c.isSymlink(path.Clean(hdr.Linkname)):
		c.symlinks[p] = struct{}{}
	case len(c.symlinks) > 0:
		delete(c.symlinks, p)
	}
}

func (c *checker) isSymlink(p string) bool {
	_, ok := c.symlinks[p]
	return ok
}

// viaSymlink returns the first proper ancestor of the cleaned path p that
// is a symlink of this stream, or "".
func (c *checker) viaSymlink(p string) string {
	if len(c.symlinks) == 0 {
		return ""
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && c.isSymlink(p[:i]) {
			return p[:i]
		}
	}
	return ""
}

// cleanName returns the cleaned form of a tar entry name, or why the name is
// refused.
func cleanName(name string) (string, string) {
	switch {
	case name == "":
		return "", "empty name"
	case strings.IndexByte(name, 0) >= 0:
		return "", "name contains a NUL byte"
	case strings.HasPrefix(name, "/"):
		return "", "absolute path"
	}
	p := path.Clean(name)
	if escapes(p) {
		return "", "path escapes the root"
	}
	return p, ""
}

// escapes reports whether a cleaned relative path leaves its root.
func escapes(p string) bool {
	return p == ".." || strings.HasPrefix(p, "../")
}

// checkWhiteout refuses whiteouts that would remove the directory itself or
// its parent (".wh.", ".wh..", ".wh...").
func checkWhiteout(p string) string {
	base := path.Base(p)
	if !strings.HasPrefix(base, whiteoutPrefix) || base == whiteoutOpaque {
		return ""
	}
	switch strings.TrimPrefix(base, whiteoutPrefix) {
	case "", ".", "..":
		return "whiteout names no file"
	}
	return ""
}
