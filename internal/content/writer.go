package content

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/writeback"
)

// copyBufferSize is the buffer used to stream data into and out of ingests.
const copyBufferSize = 1 << 20

// busyRetries bounds how long Writer waits for a lock that a cleaner holds
// for a moment.
const busyRetries = 20

// Writer writes one blob into ingest/<ref>/ and commits it. It holds the
// ingest's lock until Commit, Close or Abort. A Writer is not safe for
// concurrent use.
type Writer struct {
	store    *Store
	ref      string
	dir      string
	alg      digest.Algorithm
	lock     *os.File
	data     *os.File
	digester digest.Digester
	offset   int64
	wb       writeback.Tracker
	done     bool
}

// Writer opens the ingest ref for writing a blob hashed with alg ("" means
// sha256). If the ingest already holds data from an earlier, interrupted
// Writer, the data is rehashed and writing resumes at its end (see Offset).
// If another live Writer holds ref, in any process, it fails with
// errdefs.ErrUnavailable.
func (s *Store) Writer(ref string, alg digest.Algorithm) (*Writer, error) {
	if !validRef(ref) {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument,
			"ingest ref %q: must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}", ref)
	}
	if alg == "" {
		alg = digest.SHA256
	}
	if !supported(alg) {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "ingest %s: unsupported digest algorithm %q", ref, alg)
	}
	dir := filepath.Join(s.ingest, ref)
	lock, err := lockIngest(dir, true)
	// A cleaner may hold the lock for a moment while it looks at a new
	// ingest; a live writer holds it for good. Wait out the first.
	for i := 0; i < busyRetries && errors.Is(err, errLockBusy); i++ {
		time.Sleep(5 * time.Millisecond)
		lock, err = lockIngest(dir, true)
	}
	if errors.Is(err, errLockBusy) {
		return nil, errdefs.Newf(errdefs.ErrUnavailable, "ingest %s is in use by another process", ref)
	}
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", ref, err)
	}
	w := &Writer{store: s, ref: ref, dir: dir, alg: alg, lock: lock}
	if err := w.openData(); err != nil {
		lock.Close()
		return nil, err
	}
	return w, nil
}

// openData opens (or creates) the data file and hashes what it already holds.
func (w *Writer) openData() error {
	f, err := os.OpenFile(filepath.Join(w.dir, dataName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("ingest %s: %w", w.ref, err)
	}
	w.data = f
	fi, err := f.Stat()
	if err == nil {
		err = w.rehash(fi.Size())
	}
	if err != nil {
		f.Close()
		return err
	}
	return nil
}

// rehash resets the hash to the first size bytes of the data file and leaves
// the file positioned at size.
func (w *Writer) rehash(size int64) error {
	w.digester = w.alg.Digester()
	h := w.digester.Hash()
	buf := make([]byte, min(size, copyBufferSize))
	for off := int64(0); off < size; {
		n, err := w.data.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		h.Write(buf[:n])
		off += int64(n)
		if err != nil && (off < size || !errors.Is(err, io.EOF)) {
			return fmt.Errorf("ingest %s: rehash at offset %d: %w", w.ref, off, err)
		}
	}
	if _, err := w.data.Seek(size, io.SeekStart); err != nil {
		return fmt.Errorf("ingest %s: %w", w.ref, err)
	}
	w.offset = size
	w.wb.Reset(size)
	return nil
}

// errDone is returned when a Writer is used after Commit, Close or Abort.
func (w *Writer) errDone() error {
	return errdefs.Newf(errdefs.ErrInvalidArgument, "ingest %s: writer already closed", w.ref)
}

// Write appends p to the ingest. Bytes go to the file and to the hash straight
// from p; nothing is copied.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, w.errDone()
	}
	n, err := w.data.Write(p)
	w.digester.Hash().Write(p[:n])
	w.offset += int64(n)
	if err != nil {
		return n, fmt.Errorf("ingest %s: %w", w.ref, err)
	}
	w.wb.Wrote(w.data, w.offset) // the fsync at Commit then has little left
	return n, nil
}

// ReadFrom copies r into the ingest through one 1 MiB buffer, so io.Copy into a
// Writer issues large writes.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, copyBufferSize)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Offset returns how many bytes the ingest holds.
func (w *Writer) Offset() int64 { return w.offset }

// Digest returns the digest of the bytes written so far.
func (w *Writer) Digest() digest.Digest { return w.digester.Digest() }

// Truncate drops everything after the first size bytes and rehashes them, so
// that a resumed download can restart from a point it trusts.
func (w *Writer) Truncate(size int64) error {
	if w.done {
		return w.errDone()
	}
	if size < 0 || size > w.offset {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "ingest %s: truncate to %d outside [0, %d]", w.ref, size, w.offset)
	}
	if err := w.data.Truncate(size); err != nil {
		return fmt.Errorf("ingest %s: %w", w.ref, err)
	}
	return w.rehash(size)
}

// Commit checks the ingest against size (if size >= 0) and expected (if not
// empty), and moves it into the store. A mismatch fails with errdefs.ErrCorrupt
// and removes the ingest. If the blob is already present (another writer, maybe
// in another process, committed it first), the ingest is dropped and Commit
// succeeds. The Writer is finished after Commit unless it returns
// errdefs.ErrInvalidArgument for an expected digest that is malformed or uses
// another algorithm than the Writer.
func (w *Writer) Commit(size int64, expected digest.Digest) (Info, error) {
	if w.done {
		return Info{}, w.errDone()
	}
	actual := w.digester.Digest()
	if expected != "" {
		alg, _, err := splitDigest(expected)
		if err != nil {
			return Info{}, fmt.Errorf("ingest %s: expected %w", w.ref, err)
		}
		if alg != w.alg {
			return Info{}, errdefs.Newf(errdefs.ErrInvalidArgument,
				"ingest %s: expected digest %s does not use the writer's algorithm %s", w.ref, expected, w.alg)
		}
	}
	if size >= 0 && size != w.offset {
		return Info{}, w.fail(errdefs.Newf(errdefs.ErrCorrupt,
			"ingest %s: size mismatch: expected %d bytes, got %d", w.ref, size, w.offset))
	}
	if expected != "" && expected != actual {
		return Info{}, w.fail(errdefs.Newf(errdefs.ErrCorrupt,
			"ingest %s: digest mismatch: expected %s, got %s", w.ref, expected, actual))
	}
	info := Info{Digest: actual, Size: w.offset}
	if err := w.publish(info); err != nil {
		return Info{}, w.fail(err)
	}
	w.done = true
	w.data.Close()
	// The blob is committed; an ingest directory left behind by a failed
	// cleanup has a free lock and is removed by CleanIngests.
	_ = removeIngest(w.dir, w.lock)
	return info, nil
}

// publish makes the data file the blob for info: fsync, chmod read-only,
// rename into blobs/<alg>/, fsync that directory. A blob of the right size
// that is already there is kept; one of the wrong size is replaced.
func (w *Writer) publish(info Info) error {
	target, err := w.store.BlobPath(info.Digest)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(target); err == nil && fi.Mode().IsRegular() && fi.Size() == info.Size {
		return nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ingest %s: %w", w.ref, err)
	}
	if err := w.data.Sync(); err != nil {
		return fmt.Errorf("ingest %s: fsync: %w", w.ref, err)
	}
	if err := w.data.Chmod(0o444); err != nil {
		return fmt.Errorf("ingest %s: %w", w.ref, err)
	}
	if err := os.Rename(filepath.Join(w.dir, dataName), target); err != nil {
		return fmt.Errorf("ingest %s: commit %s: %w", w.ref, info.Digest, err)
	}
	return syncDir(filepath.Dir(target))
}

// fail aborts the ingest after a failed commit and returns err.
func (w *Writer) fail(err error) error {
	if aerr := w.Abort(); aerr != nil {
		return errors.Join(err, aerr)
	}
	return err
}

// Close releases the lock and keeps the data, so a later Writer with the same
// ref resumes where this one stopped. It does nothing after Commit or Abort.
func (w *Writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	err := w.data.Close()
	if cerr := w.lock.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("ingest %s: %w", w.ref, err)
	}
	return nil
}

// Abort removes the ingest and releases its lock. It does nothing after
// Commit or Close.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.data.Close()
	return removeIngest(w.dir, w.lock)
}
