package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
)

// WhiteoutFormat is how Apply carries out the OCI whiteouts of a layer.
type WhiteoutFormat int

const (
	// WhiteoutDelete deletes what a whiteout names: for a directory that
	// holds a full copy of the parent layers (vfs).
	WhiteoutDelete WhiteoutFormat = iota
	// WhiteoutOverlay writes overlayfs whiteouts into an overlay upper
	// directory: ".wh.x" becomes a character device 0/0 named "x", and
	// ".wh..wh..opq" the attribute trusted.overlay.opaque=y on its directory.
	WhiteoutOverlay
)

// ApplyOptions tunes Apply.
type ApplyOptions struct {
	Whiteouts WhiteoutFormat
	Limits    Limits
}

// Apply extracts a (possibly compressed) layer tar into dir in one pass and
// returns what Scan would return for it: the layer's diffID and size come
// from the same bytes. Every entry passes Scan's checks first, so a layer
// that Scan refuses is refused here, at the same entry, with the same error.
//
// Nothing is written outside dir: every directory is resolved inside dir as
// if dir were the root of a container (see root), so symlinks already in dir
// or made by the layer resolve inside it; the entry's own name is never
// followed, and whatever is in its way is replaced (a directory only by a
// directory, which is merged). Owners, modes (setuid, setgid, sticky), times,
// extended attributes, hard links, symlinks, directories and fifos are
// restored; directory times last. Overlayfs's own attributes
// (trusted.overlay.*) and security.selinux in a layer are ignored. When not
// run as root, owners that cannot be set are left to the caller.
//
// Whiteouts follow the OCI rules: they hide what the layers below hold,
// never what this layer itself writes, wherever it comes in the stream.
// AUFS metadata (.wh..wh.* other than the opaque marker, and what is below
// it) is skipped.
//
// On error, dir holds part of the layer: discard it.
func Apply(dir string, r io.Reader, opts ApplyOptions) (LayerInfo, error) {
	a, err := newApplier(dir, ".", opts.Limits)
	if err != nil {
		return LayerInfo{}, err
	}
	defer a.r.close()
	a.whiteouts = true
	a.format = opts.Whiteouts
	if empty, err := isEmptyDir(a.r.fd()); err != nil {
		return LayerInfo{}, pathError("read", dir, err)
	} else if !empty {
		a.written = make(map[string]uint8)
	}
	return a.run(r)
}

// ExtractTo extracts a tar stream (`cp` into a container) into the
// directory dir of the tree at root, with Apply's safety: dir and every
// path in the stream resolve inside root, as they would inside the
// container. Whiteout names are plain files here. dir must exist.
func ExtractTo(root, dir string, r io.Reader, lim Limits) error {
	base := strings.TrimPrefix(path.Clean("/"+dir), "/")
	if base == "" {
		base = "."
	}
	a, err := newApplier(root, base, lim)
	if err != nil {
		return err
	}
	defer a.r.close()
	if _, err := a.r.dir(base, false); err != nil {
		return fmt.Errorf("extract to %s: %w", dir, err)
	}
	_, err = a.run(r)
	return err
}

// run extracts the stream r, small files through a pool of workers.
func (a *applier) run(r io.Reader) (LayerInfo, error) {
	if a.workers > 0 {
		a.pool = newFilePool(a, a.workers)
		a.r.onDrop = func() { _ = a.pool.wait() } // an error shows at the next entry
		defer a.pool.close()
	}
	info, err := scanStream(r, nil, a.lim, a.entry)
	if err == nil && a.pool != nil {
		err = a.pool.wait()
	}
	if err == nil {
		err = a.finish()
	}
	return info, err
}

// applier writes accepted entries below base inside a root.
type applier struct {
	r         *root
	base      string // where entries go, below the root ("." for the root)
	lim       Limits
	whiteouts bool
	format    WhiteoutFormat
	// written holds, for a target that was not empty, the paths this layer
	// wrote (bit writtenEntry) and their ancestors (bit writtenBelow). When
	// the target was empty it is nil: what exists is what the layer wrote.
	written    map[string]uint8
	dirs       []dirTimes
	buf        []byte
	privileged bool // running as root: owner changes must succeed
	workers    int  // goroutines writing small files; 0 writes all in order
	pool       *filePool
}

const (
	writtenEntry uint8 = 1 << iota
	writtenBelow
)

type dirTimes struct {
	p  string
	ts [2]unix.Timespec
}

func newApplier(dir, base string, lim Limits) (*applier, error) {
	r, err := openRoot(dir)
	if err != nil {
		return nil, err
	}
	return &applier{r: r, base: base, lim: lim, privileged: os.Geteuid() == 0,
		workers: max(2, runtime.GOMAXPROCS(0))}, nil
}

// entry writes one accepted entry; p is its cleaned name.
func (a *applier) entry(hdr *tar.Header, p string, data io.Reader) error {
	defer a.r.release()
	err := a.write(hdr, p, data)
	if err == nil || errors.Is(err, errdefs.ErrLimitExceeded) || errors.As(err, new(*writeError)) {
		return err // a worker's error names its own entry
	}
	return &writeError{entry: hdr.Name, err: err}
}

// writeError is an entry that could not be written.
type writeError struct {
	entry string
	err   error
}

func (e *writeError) Error() string { return fmt.Sprintf("entry %q: %v", e.entry, e.err) }
func (e *writeError) Unwrap() error { return e.err }

func (a *applier) write(hdr *tar.Header, p string, data io.Reader) error {
	full := path.Join(a.base, p)
	if a.pool != nil && a.needsBarrier(hdr, full) {
		if err := a.pool.wait(); err != nil {
			return err
		}
	}
	if a.whiteouts {
		if isAufsMeta(p) {
			return nil
		}
		dir, name := split(p)
		if name == whiteoutOpaque {
			return a.opaque(dir)
		}
		if target, ok := strings.CutPrefix(name, whiteoutPrefix); ok {
			return a.whiteout(path.Join(dir, target))
		}
	}
	dir, name := split(full)
	dirfd, err := a.parent(dir)
	if err != nil {
		return err
	}
	switch {
	case a.async(hdr):
		err = a.pool.submit(dirfd, name, full, hdr, data)
	case hdr.Typeflag == tar.TypeDir:
		err = a.mkdir(dirfd, name, hdr, full)
	case hdr.Typeflag == tar.TypeReg, hdr.Typeflag == tar.TypeGNUSparse:
		err = a.file(dirfd, name, hdr, data)
	case hdr.Typeflag == tar.TypeSymlink:
		err = a.symlink(dirfd, name, hdr)
	case hdr.Typeflag == tar.TypeLink:
		err = a.link(dirfd, name, p, hdr)
	case hdr.Typeflag == tar.TypeFifo:
		err = a.fifo(dirfd, name, hdr)
	default: // the checker let nothing else through
		err = errdefs.Newf(errdefs.ErrInvalidArgument, "unsupported entry type %q", hdr.Typeflag)
	}
	if err == nil {
		a.record(p)
	}
	return err
}

// isAufsMeta reports AUFS metadata: a .wh..wh. name other than the opaque
// marker, or anything below one (.wh..wh.plnk holds AUFS hard links).
func isAufsMeta(p string) bool {
	if !strings.Contains(p, whiteoutPrefix+whiteoutPrefix) {
		return false
	}
	for _, c := range strings.Split(p, "/") {
		if strings.HasPrefix(c, whiteoutPrefix+whiteoutPrefix) && c != whiteoutOpaque {
			return true
		}
	}
	return false
}

// record notes that the layer wrote p.
func (a *applier) record(p string) {
	if a.written == nil {
		return
	}
	a.written[p] |= writtenEntry
	for q := path.Dir(p); q != "." && q != "/"; q = path.Dir(q) {
		if a.written[q]&writtenBelow != 0 {
			break
		}
		a.written[q] |= writtenBelow
	}
}

// finish restores directory times, deepest last written first.
func (a *applier) finish() error {
	for i := len(a.dirs) - 1; i >= 0; i-- {
		d := &a.dirs[i]
		dir, name := split(d.p)
		dirfd, err := a.r.dir(dir, false)
		if err == nil {
			err = unix.UtimesNanoAt(dirfd, name, d.ts[:], unix.AT_SYMLINK_NOFOLLOW)
		}
		if err != nil && !errors.Is(err, unix.ENOENT) && !errdefs.IsNotFound(err) {
			return fmt.Errorf("set the times of %q: %w", d.p, err)
		}
	}
	return nil
}

// replace runs mk; if the name is taken, it removes what is there and runs
// mk again.
func (a *applier) replace(dirfd int, name string, mk func() error) error {
	err := mk()
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	if err := a.remove(dirfd, name); err != nil {
		return err
	}
	return mk()
}

// remove deletes name in dirfd, a whole tree if it is a directory.
func (a *applier) remove(dirfd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return pathError("lstat", name, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		a.r.drop()
		return removeAllAt(dirfd, name)
	case unix.S_IFLNK:
		a.r.drop()
	}
	if err := unix.Unlinkat(dirfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return pathError("unlink", name, err)
	}
	return nil
}

// removeAllAt deletes name in dirfd and, if it is a directory, all below
// it, never following a symlink.
func removeAllAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return pathError("unlink", name, err)
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathError("open", name, err)
	}
	names, err := readNames(fd)
	for _, n := range names {
		if err == nil {
			err = removeAllAt(fd, n)
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return pathError("rmdir", name, err)
	}
	return nil
}

// times returns a header's access and modification times for utimensat.
// Times before 1970 become 1970, as Docker does.
func times(hdr *tar.Header) [2]unix.Timespec {
	at := hdr.AccessTime
	if at.IsZero() || at.Before(hdr.ModTime) {
		at = hdr.ModTime
	}
	return [2]unix.Timespec{timespec(at), timespec(hdr.ModTime)}
}

func timespec(t time.Time) unix.Timespec {
	if t.Unix() < 0 {
		return unix.Timespec{}
	}
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// isEmptyDir reports whether the directory dirfd (any kind of handle) has
// no entries.
func isEmptyDir(dirfd int) (bool, error) {
	fd, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	n, err := unix.Getdents(fd, buf)
	if err != nil {
		return false, err
	}
	_, count, _ := unix.ParseDirent(buf[:n], 1, nil)
	return count == 0, nil
}
