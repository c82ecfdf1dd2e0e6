package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

// maxResumes is how often one FetchBlob stream is picked up again after
// breaking.
const maxResumes = 3

// FetchBlob streams blob dg from byte offset on (for resuming a download)
// and returns its total size (-1 when the registry does not say). Redirects
// are followed, without the Authorization header when they lead to another
// host. A stream that breaks is resumed from where it broke, up to three
// times. The content is not verified: the caller hashes it as it stores it.
func (r *Repository) FetchBlob(ctx context.Context, dg digest.Digest, offset int64) (io.ReadCloser, int64, error) {
	if err := dg.Validate(); err != nil {
		return nil, 0, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid digest %q: %v", dg, err)
	}
	if offset < 0 {
		return nil, 0, errdefs.Newf(errdefs.ErrInvalidArgument, "negative offset %d for blob %s", offset, dg)
	}
	var br *blobReader
	err := r.each(ctx, func(ep *endpoint) error {
		open := func(off int64) (io.ReadCloser, int64, error) { return r.openBlob(ctx, ep, dg, off) }
		body, size, err := open(offset)
		if err != nil {
			return err
		}
		br = &blobReader{body: body, off: offset, size: size, reopen: open}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return br, br.size, nil
}

// openBlob GETs blob dg from byte off on and returns the body positioned at
// off and the blob's total size.
func (r *Repository) openBlob(ctx context.Context, ep *endpoint, dg digest.Digest, off int64) (io.ReadCloser, int64, error) {
	rq := &request{method: http.MethodGet, path: r.path("blobs", string(dg)), scopes: r.scopes, retry: true}
	if off > 0 {
		rq.header = http.Header{"Range": {"bytes=" + strconv.FormatInt(off, 10) + "-"}}
	}
	resp, err := r.client.do(ctx, ep, rq)
	if err != nil {
		return nil, 0, err
	}
	fail := func(err error) (io.ReadCloser, int64, error) {
		resp.Body.Close()
		return nil, 0, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if off > 0 {
			// The server ignored the range: skip to the offset.
			if n, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
				if n < off && errors.Is(err, io.EOF) {
					return fail(errdefs.Newf(errdefs.ErrInvalidArgument, "offset %d is past the end of blob %s (%d bytes)", off, dg, n))
				}
				return fail(&transportError{fmt.Errorf("skipping to offset %d of blob %s: %w", off, dg, err)})
			}
		}
		return resp.Body, resp.ContentLength, nil
	case http.StatusPartialContent:
		first, _, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || first != off {
			return fail(errdefs.Newf(errdefs.ErrUnavailable, "registry %s answered a range request for blob %s from byte %d with Content-Range %q",
				ep.hs.name, dg, off, resp.Header.Get("Content-Range")))
		}
		if total < 0 && resp.ContentLength >= 0 {
			total = off + resp.ContentLength
		}
		return resp.Body, total, nil
	case http.StatusRequestedRangeNotSatisfiable:
		if _, _, total, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && total == off {
			resp.Body.Close()
			return http.NoBody, total, nil
		}
		return fail(errdefs.Newf(errdefs.ErrInvalidArgument, "offset %d is past the end of blob %s", off, dg))
	}
	return fail(fmt.Errorf("blob %s of %s: %w", dg, r.ref.Name(), responseError(resp)))
}

// blobReader reads a blob, opening it again from the current offset when the
// stream breaks.
type blobReader struct {
	body    io.ReadCloser
	off     int64 // offset of the next byte
	size    int64 // total size, -1 if unknown
	reopen  func(off int64) (io.ReadCloser, int64, error)
	resumes int
	closed  bool
}

func (b *blobReader) Read(p []byte) (int, error) {
	for {
		n, err := b.body.Read(p)
		b.off += int64(n)
		if err == nil || (err == io.EOF && (b.size < 0 || b.off >= b.size)) {
			return n, err
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if b.closed || b.resumes >= maxResumes || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return n, err
		}
		body, _, rerr := b.reopen(b.off)
		if rerr != nil {
			return n, err
		}
		b.body.Close()
		b.body = body
		b.resumes++
		if n > 0 {
			return n, nil
		}
	}
}

func (b *blobReader) Close() error {
	b.closed = true
	return b.body.Close()
}
