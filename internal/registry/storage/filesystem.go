package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Directories inside the root, relative to it (see the package doc).
const (
	fsContentDir  = "content"
	fsRegistryDir = "registry"
	fsPendingDir  = "registry/.pending"
	fsTmpDir      = "registry/.tmp"
)

// fsTmpMaxAge is how old a temporary file must be before NewFilesystem
// removes it as left over by a crash (a live PutContent takes far less).
const fsTmpMaxAge = time.Hour

// File modes: blobs are read-only like internal/content's.
const (
	fsBlobMode = 0o444
	fsFileMode = 0o644
	fsDirMode  = 0o755
)

// Filesystem is a Driver on a local directory laid out as described in the
// package doc. It keeps no state but an open os.Root, so any number of
// Filesystems, in any number of processes, may share one root.
type Filesystem struct {
	root *os.Root
	dir  string
}

var _ Driver = (*Filesystem)(nil)

// NewFilesystem opens (creating it if needed) the driver rooted at dir,
// which may be the root of a strata store.
func NewFilesystem(dir string) (*Filesystem, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("registry storage %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, fsDirMode); err != nil {
		return nil, fmt.Errorf("registry storage %q: %w", abs, err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("registry storage %q: %w", abs, err)
	}
	f := &Filesystem{root: root, dir: abs}
	for _, d := range []string{fsContentDir + "/blobs", fsPendingDir, fsTmpDir} {
		if err := f.mkdirAll(d); err != nil {
			_ = root.Close() // a directory handle has nothing to flush; err is the one to report
			return nil, fmt.Errorf("registry storage %q: %w", abs, err)
		}
	}
	f.cleanTmp()
	return f, nil
}

// Dir returns the absolute root directory.
func (f *Filesystem) Dir() string { return f.dir }

// Close releases the root directory.
func (f *Filesystem) Close() error { return f.root.Close() }

// local maps a driver path to its place under the root.
func local(p string) string {
	if isBlobPath(p) {
		return fsContentDir + "/" + p
	}
	return fsRegistryDir + "/" + p
}

// pendingPath is where the pending content of driver path p lives.
func pendingPath(p string) string { return fsPendingDir + "/" + p }

// fileMode is the mode of committed files at driver path p.
func fileMode(p string) os.FileMode {
	if isBlobPath(p) {
		return fsBlobMode
	}
	return fsFileMode
}

// GetContent reads the file at p whole.
func (f *Filesystem) GetContent(ctx context.Context, p string) ([]byte, error) {
	if err := CheckPath(p); err != nil {
		return nil, err
	}
	data, err := f.root.ReadFile(local(p))
	if err != nil {
		return nil, fsError("read", p, err)
	}
	return data, nil
}

// PutContent writes data to p through a temporary file and a rename.
func (f *Filesystem) PutContent(ctx context.Context, p string, data []byte) error {
	if err := CheckPath(p); err != nil {
		return err
	}
	tmp, file, err := f.createTemp(fileMode(p))
	if err != nil {
		return fsError("write", p, err)
	}
	_, err = io.Copy(file, bytes.NewReader(data))
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = f.publish(tmp, local(p))
	}
	if err != nil {
		_ = f.root.Remove(tmp)
		return fsError("write", p, err)
	}
	return nil
}

// Reader opens p and positions it at offset. The result is an *os.File, so
// copying it to a socket can use sendfile.
func (f *Filesystem) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	if err := CheckPath(p); err != nil {
		return nil, err
	}
	file, err := f.root.Open(local(p))
	if err != nil {
		return nil, fsError("open", p, err)
	}
	fi, err := file.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errdefs.Newf(errdefs.ErrInvalidArgument, "not a regular file")
	} else if err == nil && (offset < 0 || offset > fi.Size()) {
		err = errdefs.Newf(errdefs.ErrInvalidArgument, "offset %d outside [0, %d]", offset, fi.Size())
	}
	if err == nil && offset > 0 {
		_, err = file.Seek(offset, io.SeekStart)
	}
	if err != nil {
		file.Close()
		return nil, fsError("open", p, err)
	}
	return file, nil
}

// Writer returns a writer on the pending content of p (see the package doc).
func (f *Filesystem) Writer(ctx context.Context, p string, append bool) (FileWriter, error) {
	if err := CheckPath(p); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return openFSWriter(f, p, append)
}

// Stat describes the file or directory at p.
func (f *Filesystem) Stat(ctx context.Context, p string) (FileInfo, error) {
	if err := CheckPath(p); err != nil {
		return FileInfo{}, err
	}
	fi, err := f.root.Stat(local(p))
	if err != nil {
		return FileInfo{}, fsError("stat", p, err)
	}
	info := FileInfo{Path: p, ModTime: fi.ModTime(), IsDir: fi.IsDir()}
	if !info.IsDir {
		info.Size = fi.Size()
	}
	return info, nil
}

// List returns the sorted children of the directory p as driver paths.
func (f *Filesystem) List(ctx context.Context, p string) ([]string, error) {
	if err := CheckPath(p); err != nil {
		return nil, err
	}
	dir, err := f.root.Open(local(p))
	if err != nil {
		return nil, fsError("list", p, err)
	}
	defer dir.Close()
	fi, err := dir.Stat()
	if err != nil {
		return nil, fsError("list", p, err)
	}
	if !fi.IsDir() {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "list %s: not a directory", p)
	}
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return nil, fsError("list", p, err)
	}
	slices.Sort(names)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = p + "/" + n
	}
	return out, nil
}

// Move renames src to dest, replacing dest. A file moved into blobs/ becomes
// read-only like every blob.
func (f *Filesystem) Move(ctx context.Context, src, dest string) error {
	if err := checkPaths(src, dest); err != nil {
		return err
	}
	ls, ld := local(src), local(dest)
	fi, err := f.root.Lstat(ls)
	if err != nil {
		return fsError("move", src, err)
	}
	if ls == ld {
		return nil
	}
	if fi.Mode().IsRegular() && isBlobPath(dest) && fi.Mode().Perm() != fsBlobMode {
		if err := f.root.Chmod(ls, fsBlobMode); err != nil {
			return fsError("move", src, err)
		}
	}
	if err := f.mkdirAll(path.Dir(ld)); err != nil {
		return fsError("move", dest, err)
	}
	if err := f.root.Rename(ls, ld); err != nil {
		return fmt.Errorf("move %s to %s: %w", src, dest, err)
	}
	if err := f.syncDir(path.Dir(ld)); err != nil {
		return fsError("move", dest, err)
	}
	if path.Dir(ls) != path.Dir(ld) {
		return f.syncDir(path.Dir(ls))
	}
	return nil
}

// Delete removes the file or tree at p and any pending content under it.
func (f *Filesystem) Delete(ctx context.Context, p string) error {
	if err := CheckPath(p); err != nil {
		return err
	}
	found := false
	for _, lp := range []string{local(p), pendingPath(p)} {
		if _, err := f.root.Lstat(lp); err != nil {
			if isNotExist(err) {
				continue
			}
			return fsError("delete", p, err)
		}
		found = true
		if err := f.root.RemoveAll(lp); err != nil {
			return fsError("delete", p, err)
		}
	}
	if !found {
		return errdefs.Newf(errdefs.ErrNotFound, "delete %s: not found", p)
	}
	return nil
}

// createTemp creates a new file in the temporary directory.
func (f *Filesystem) createTemp(mode os.FileMode) (string, *os.File, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	name := fsTmpDir + "/" + hex.EncodeToString(b[:])
	file, err := f.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return "", nil, err
	}
	return name, file, nil
}

// publish renames the fsynced file tmp to dest and fsyncs dest's directory.
func (f *Filesystem) publish(tmp, dest string) error {
	dir := path.Dir(dest)
	if err := f.mkdirAll(dir); err != nil {
		return err
	}
	if err := f.root.Rename(tmp, dest); err != nil {
		return err
	}
	return f.syncDir(dir)
}

// mkdirAll creates dir and its missing parents, fsyncing each new one into
// its parent.
func (f *Filesystem) mkdirAll(dir string) error {
	if fi, err := f.root.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	parent := path.Dir(dir)
	if parent != "." {
		if err := f.mkdirAll(parent); err != nil {
			return err
		}
	}
	err := f.root.Mkdir(dir, fsDirMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.syncDir(parent)
}

// syncDir fsyncs a directory so entries created or renamed in it persist.
func (f *Filesystem) syncDir(dir string) error {
	d, err := f.root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// cleanTmp removes temporary files left by crashed processes. It is best
// effort: a failure only leaves garbage behind.
func (f *Filesystem) cleanTmp() {
	d, err := f.root.Open(fsTmpDir)
	if err != nil {
		return
	}
	entries, _ := d.ReadDir(-1)
	d.Close()
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > fsTmpMaxAge {
			_ = f.root.RemoveAll(fsTmpDir + "/" + e.Name())
		}
	}
}

// isNotExist reports a missing path, including a path through a file.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// fsError classes a file system error on driver path p.
func fsError(op, p string, err error) error {
	switch {
	case isNotExist(err):
		return errdefs.Newf(errdefs.ErrNotFound, "%s %s: not found", op, p)
	case errors.Is(err, syscall.EISDIR):
		return errdefs.Newf(errdefs.ErrInvalidArgument, "%s %s: is a directory", op, p)
	case errors.Is(err, fs.ErrPermission):
		return errdefs.Classed(errdefs.ErrPermission, fmt.Errorf("%s %s: %w", op, p, err))
	}
	return fmt.Errorf("%s %s: %w", op, p, err)
}
