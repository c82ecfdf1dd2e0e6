package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/writeback"
)

// fsOpenRetries bounds how often a Writer retries when the pending file is
// replaced between its open and its lock (another Writer committed it).
const fsOpenRetries = 5

// fsCopyBuffer is the buffer ReadFrom streams through.
const fsCopyBuffer = 1 << 20

// fsWriter writes the pending file of one path. It holds an exclusive flock
// on the file until Commit, Cancel or Close.
type fsWriter struct {
	fs      *Filesystem
	path    string // driver path
	pending string // root-relative pending file
	file    *os.File
	size    int64
	wb      writeback.Tracker
	done    bool
}

func openFSWriter(f *Filesystem, p string, append bool) (*fsWriter, error) {
	pending := pendingPath(p)
	if err := f.mkdirAll(path.Dir(pending)); err != nil {
		return nil, fsError("write", p, err)
	}
	for range fsOpenRetries {
		if append {
			if err := f.seedPending(p, pending); err != nil {
				return nil, fsError("write", p, err)
			}
		}
		file, err := f.root.OpenFile(pending, os.O_RDWR|os.O_CREATE, fsFileMode)
		if err != nil {
			return nil, fsError("write", p, err)
		}
		w := &fsWriter{fs: f, path: p, pending: pending, file: file}
		if err := w.lock(); err != nil {
			file.Close()
			return nil, err
		}
		if !w.current() {
			file.Close()
			continue
		}
		if err := w.start(append); err != nil {
			file.Close()
			return nil, fsError("write", p, err)
		}
		if append && w.size == 0 && f.hasContent(p) {
			// An empty pending file left by a crashed writer: drop it (we
			// hold its lock) and seed from the committed file again.
			err := f.root.Remove(pending)
			file.Close()
			if err != nil && !isNotExist(err) {
				return nil, fsError("write", p, err)
			}
			continue
		}
		return w, nil
	}
	return nil, errdefs.Newf(errdefs.ErrUnavailable, "write %s: upload keeps being replaced by other writers", p)
}

// seedPending makes the pending file of p a copy of its committed file when
// there is no pending file yet, so an append continues the committed
// content. The copy is linked into place only if no pending file appeared
// meanwhile.
func (f *Filesystem) seedPending(p, pending string) error {
	if _, err := f.root.Lstat(pending); !isNotExist(err) {
		return err
	}
	src, err := f.root.Open(local(p))
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer src.Close()
	if fi, err := src.Stat(); err != nil || !fi.Mode().IsRegular() {
		return err
	}
	tmp, dst, err := f.createTemp(fsFileMode)
	if err != nil {
		return err
	}
	// The temporary name goes either way (after Link the pending name holds
	// the file); a failed removal only leaves garbage for cleanTmp.
	defer func() { _ = f.root.Remove(tmp) }()
	_, err = io.Copy(dst, src) // copy_file_range on Linux
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := f.root.Link(tmp, pending); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// hasContent reports whether p has a non-empty committed file.
func (f *Filesystem) hasContent(p string) bool {
	fi, err := f.root.Stat(local(p))
	return err == nil && fi.Mode().IsRegular() && fi.Size() > 0
}

// lock takes the pending file's flock without waiting.
func (w *fsWriter) lock() error {
	err := unix.Flock(int(w.file.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return errdefs.Newf(errdefs.ErrUnavailable, "write %s: another writer has the upload open", w.path)
	}
	if err != nil {
		return fmt.Errorf("write %s: lock: %w", w.path, err)
	}
	return nil
}

// current reports whether the open file is still the pending file of the
// path (not committed, cancelled or deleted by someone else).
func (w *fsWriter) current() bool {
	have, err := w.file.Stat()
	if err != nil {
		return false
	}
	now, err := w.fs.root.Lstat(w.pending)
	return err == nil && os.SameFile(have, now)
}

// start truncates (append=false) or positions the file at its end.
func (w *fsWriter) start(append bool) error {
	if !append {
		if err := w.file.Truncate(0); err != nil {
			return err
		}
	}
	size, err := w.file.Seek(0, io.SeekEnd)
	w.size = size
	w.wb.Reset(size)
	return err
}

func (w *fsWriter) errDone() error {
	return errdefs.Newf(errdefs.ErrInvalidArgument, "write %s: writer already closed", w.path)
}

// Write appends p to the pending file.
func (w *fsWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, w.errDone()
	}
	n, err := w.file.Write(p)
	w.size += int64(n)
	if err != nil {
		return n, fsError("write", w.path, err)
	}
	w.wb.Wrote(w.file, w.size) // the fsync at Commit then has little left
	return n, nil
}

// ReadFrom copies r through one large buffer, so io.Copy into the writer
// issues large writes.
func (w *fsWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.done {
		return 0, w.errDone()
	}
	return io.CopyBuffer(struct{ io.Writer }{w}, r, make([]byte, fsCopyBuffer))
}

// Size returns the pending file's size.
func (w *fsWriter) Size() int64 { return w.size }

// Commit fsyncs the pending file and renames it over the committed file.
func (w *fsWriter) Commit(ctx context.Context) error {
	if w.done {
		return w.errDone()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dest := local(w.path)
	err := w.file.Sync()
	if err == nil && isBlobPath(w.path) {
		err = w.file.Chmod(fsBlobMode)
	}
	if err == nil {
		err = w.fs.mkdirAll(path.Dir(dest))
	}
	if err != nil {
		return fsError("commit", w.path, err)
	}
	if !w.current() {
		return errdefs.Newf(errdefs.ErrConflict, "commit %s: the upload was deleted or replaced meanwhile", w.path)
	}
	if err := w.fs.root.Rename(w.pending, dest); err != nil {
		return fsError("commit", w.path, err)
	}
	w.done = true
	err = w.fs.syncDir(path.Dir(dest))
	if cerr := w.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fsError("commit", w.path, err)
	}
	return nil
}

// Cancel removes the pending file.
func (w *fsWriter) Cancel(ctx context.Context) error {
	if w.done {
		return w.errDone()
	}
	w.done = true
	var err error
	if w.current() {
		err = w.fs.root.Remove(w.pending)
	}
	if cerr := w.file.Close(); err == nil {
		err = cerr
	}
	if err != nil && !isNotExist(err) {
		return fsError("cancel", w.path, err)
	}
	return nil
}

// Close fsyncs the pending file and keeps it for a later Writer. An empty
// one is removed: no pending content and empty pending content are the same.
func (w *fsWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	var err error
	if w.size == 0 && w.current() {
		err = w.fs.root.Remove(w.pending)
	} else {
		err = w.file.Sync()
	}
	if cerr := w.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fsError("close", w.path, err)
	}
	return nil
}
