package storage

import (
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
)

// maxPathLen bounds a driver path; S3 keys may not exceed 1024 bytes and the
// drivers add a prefix.
const maxPathLen = 900

// CheckPath reports whether p is a valid driver path (see the package doc),
// returning errdefs.ErrInvalidArgument if not.
func CheckPath(p string) error {
	if p == "" {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "storage path is empty")
	}
	if len(p) > maxPathLen {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "storage path %.40q...: longer than %d bytes", p, maxPathLen)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "storage path %q: contains NUL", p)
	}
	if p[0] == '.' {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "storage path %q: names starting with '.' are reserved", p)
	}
	for rest := p; ; {
		comp, tail, more := strings.Cut(rest, "/")
		switch comp {
		case "":
			return errdefs.Newf(errdefs.ErrInvalidArgument, "storage path %q: empty component (absolute path, '//' or trailing '/')", p)
		case ".", "..":
			return errdefs.Newf(errdefs.ErrInvalidArgument, "storage path %q: component %q is not allowed", p, comp)
		}
		if !more {
			return nil
		}
		rest = tail
	}
}

// checkPaths checks several paths.
func checkPaths(ps ...string) error {
	for _, p := range ps {
		if err := CheckPath(p); err != nil {
			return err
		}
	}
	return nil
}

// isBlobPath reports whether p lives in the shared content store.
func isBlobPath(p string) bool {
	return p == "blobs" || strings.HasPrefix(p, "blobs/")
}
