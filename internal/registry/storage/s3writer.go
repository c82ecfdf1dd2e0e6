package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"

	"github.com/minio/minio-go/v7"

	"github.com/strata-dev/strata/internal/errdefs"
)

// s3Writer is one session on the pending content of a path. Bytes collect
// in buf (which starts at offset bufStart of the file) and go out as part
// objects of partSize bytes; Close uploads the rest, Commit composes.
//
// A session that resumes after a short last part (or a short committed
// file) loads those bytes into buf first, so its first part is long enough
// to be composed; that part supersedes the short one, which Close deletes.
type s3Writer struct {
	s     *S3
	path  string
	token string

	base  *s3Source // committed object the chain continues, if any
	parts []s3Part  // the chain so far (earlier sessions', then ours)

	buf      []byte
	bufStart int64
	// pre bytes at the head of buf were loaded from storage: from super (a
	// short last part) or from loaded (a short committed object).
	pre     int
	super   *s3Part
	loaded  *s3Source
	flushed bool // a part was uploaded in this session
	done    bool
}

func openS3Writer(ctx context.Context, s *S3, p string, append bool) (*s3Writer, error) {
	var tok [8]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	w := &s3Writer{s: s, path: p, token: hex.EncodeToString(tok[:])}
	if !append {
		if _, err := s.removePrefix(ctx, s.pendingKey(p)); err != nil {
			return nil, s3Error("write", p, err)
		}
		return w, nil
	}
	base, parts, err := s.chain(ctx, p)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return w, w.continueCommitted(ctx)
	}
	w.base, w.parts = base, parts
	last := parts[len(parts)-1]
	if last.size >= s.minPart {
		w.bufStart = last.start + last.size
		return w, nil
	}
	if err := w.load(ctx, last.key, last.size); err != nil {
		return nil, err
	}
	w.parts, w.super, w.bufStart = parts[:len(parts)-1], &last, last.start
	return w, nil
}

// continueCommitted starts an append with no pending content from the
// committed object: a long one is the chain's base, a short one is loaded.
func (w *s3Writer) continueCommitted(ctx context.Context) error {
	key := w.s.key(w.path)
	info, err := w.s.client.StatObject(ctx, w.s.bucket, key, minio.StatObjectOptions{})
	if isS3NotFound(err) {
		return nil
	}
	if err != nil {
		return s3Error("write", w.path, err)
	}
	src := &s3Source{key: key, size: info.Size}
	if info.Size >= w.s.minPart {
		w.base, w.bufStart = src, info.Size
		return nil
	}
	if err := w.load(ctx, key, info.Size); err != nil {
		return err
	}
	w.loaded = src
	return nil
}

// load reads a short object into buf.
func (w *s3Writer) load(ctx context.Context, key string, size int64) error {
	obj, _, _, err := w.s.core.GetObject(ctx, w.s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return s3Error("write", w.path, err)
	}
	defer obj.Close()
	w.buf = make([]byte, size, max(size, 64<<10))
	if _, err := io.ReadFull(obj, w.buf); err != nil {
		return errdefs.Classed(errdefs.ErrConflict, s3Error("write", w.path, err))
	}
	w.pre = int(size)
	return nil
}

func (w *s3Writer) errDone() error {
	return errdefs.Newf(errdefs.ErrInvalidArgument, "write %s: writer already closed", w.path)
}

// Write buffers p and uploads every full part. Parts are uploaded without
// the caller's context (Write has none); each is at most partSize bytes.
func (w *s3Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, w.errDone()
	}
	written := 0
	for len(p) > 0 {
		n := min(len(p), w.s.partSize-len(w.buf))
		w.buf = append(w.buf, p[:n]...)
		p, written = p[n:], written+n
		if len(w.buf) >= w.s.partSize {
			if err := w.flush(context.Background()); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// Size is the length of the pending content including this session's.
func (w *s3Writer) Size() int64 { return w.bufStart + int64(len(w.buf)) }

// dirty reports whether this session added anything.
func (w *s3Writer) dirty() bool { return w.flushed || len(w.buf) > w.pre }

// flush uploads buf as the part at bufStart.
func (w *s3Writer) flush(ctx context.Context) error {
	if len(w.buf) == 0 {
		return nil
	}
	key := w.s.pendingKey(w.path) + partName(w.bufStart, w.token)
	if err := w.s.put(ctx, key, w.path, w.buf); err != nil {
		return err
	}
	w.parts = append(w.parts, s3Part{key: key, start: w.bufStart, size: int64(len(w.buf))})
	w.bufStart += int64(len(w.buf))
	w.buf, w.pre, w.flushed = w.buf[:0], 0, true
	return nil
}

// undoLoad forgets loaded bytes of a session that added nothing, so the
// stored state is used as it is.
func (w *s3Writer) undoLoad() {
	if w.super != nil {
		w.parts = append(w.parts, *w.super)
		w.super = nil
	}
	if w.loaded != nil {
		w.base, w.loaded = w.loaded, nil
	}
	w.bufStart += int64(len(w.buf))
	w.buf, w.pre = nil, 0
}

// Commit composes the pending content into the object and drops the parts.
func (w *s3Writer) Commit(ctx context.Context) error {
	if w.done {
		return w.errDone()
	}
	if !w.dirty() {
		w.undoLoad()
	}
	key := w.s.key(w.path)
	switch {
	case w.base == nil && len(w.parts) == 0:
		if err := w.s.put(ctx, key, w.path, w.buf); err != nil {
			return err
		}
	case w.base != nil && len(w.parts) == 0:
		// The committed object is the whole content already.
	default:
		if err := w.flush(ctx); err != nil {
			return err
		}
		var srcs []s3Source
		if w.base != nil {
			srcs = append(srcs, *w.base)
		}
		for _, pt := range w.parts {
			srcs = append(srcs, s3Source{key: pt.key, size: pt.size})
		}
		if err := w.s.compose(ctx, key, srcs); err != nil {
			return s3Error("commit", w.path, err)
		}
	}
	w.done, w.buf = true, nil
	if _, err := w.s.removePrefix(ctx, w.s.pendingKey(w.path)); err != nil {
		return s3Error("commit", w.path, err)
	}
	return nil
}

// Cancel drops all pending content of the path.
func (w *s3Writer) Cancel(ctx context.Context) error {
	if w.done {
		return w.errDone()
	}
	w.done, w.buf = true, nil
	if _, err := w.s.removePrefix(ctx, w.s.pendingKey(w.path)); err != nil {
		return s3Error("cancel", w.path, err)
	}
	return nil
}

// Close uploads what is buffered, so a later Writer resumes after it.
func (w *s3Writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	defer func() { w.buf = nil }()
	if !w.dirty() {
		return nil
	}
	ctx := context.Background()
	if err := w.flush(ctx); err != nil {
		return err
	}
	if w.super != nil {
		// Superseded by our first part; the chain ignores it if this fails.
		_ = w.s.client.RemoveObject(ctx, w.s.bucket, w.super.key, minio.RemoveObjectOptions{})
	}
	return nil
}
