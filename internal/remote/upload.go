package remote

import (
	"context"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Mount asks the registry to link blob dg from repository fromRepo (a path
// on the same registry, "library/busybox") into this one. It returns false
// when the registry started an upload instead, which Mount cancels.
func (r *Repository) Mount(ctx context.Context, dg digest.Digest, fromRepo string) (bool, error) {
	if err := r.checkPush(); err != nil {
		return false, err
	}
	if err := dg.Validate(); err != nil {
		return false, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid digest %q: %v", dg, err)
	}
	ep := r.registry()
	resp, err := r.client.do(ctx, ep, &request{
		method: http.MethodPost, path: r.path("blobs", "uploads/"),
		query:  url.Values{"mount": {string(dg)}, "from": {fromRepo}},
		scopes: r.scopesWith(repositoryScope(fromRepo, "pull")), retry: true,
	})
	if err != nil {
		return false, err
	}
	defer discard(resp)
	switch resp.StatusCode {
	case http.StatusCreated:
		return true, nil
	case http.StatusAccepted:
		if loc, err := location(resp); err == nil {
			r.cancelUpload(ctx, ep, loc)
		}
		return false, nil
	}
	return false, fmt.Errorf("mounting blob %s from %s into %s: %w", dg, fromRepo, r.ref.Name(), responseError(resp))
}

// Upload pushes a blob read from body and returns its digest. dg may be ""
// when the digest is known only at the end: it is then computed while
// streaming. size may be -1 when unknown: the body then goes out with
// chunked transfer encoding. The upload is POST, one streamed PATCH, and PUT
// ?digest=; a failed upload is cancelled.
func (r *Repository) Upload(ctx context.Context, dg digest.Digest, size int64, body io.Reader) (digest.Digest, error) {
	if err := r.checkPush(); err != nil {
		return "", err
	}
	if dg != "" {
		if err := dg.Validate(); err != nil {
			return "", errdefs.Newf(errdefs.ErrInvalidArgument, "invalid digest %q: %v", dg, err)
		}
	}
	ep := r.registry()
	loc, err := r.startUpload(ctx, ep)
	if err != nil {
		return "", err
	}
	dg, err = r.sendUpload(ctx, ep, loc, dg, size, body)
	if err != nil {
		r.cancelUpload(ctx, ep, loc)
		return "", err
	}
	return dg, nil
}

func (r *Repository) startUpload(ctx context.Context, ep *endpoint) (*url.URL, error) {
	resp, err := r.client.do(ctx, ep, &request{method: http.MethodPost, path: r.path("blobs", "uploads/"), scopes: r.scopes, retry: true})
	if err != nil {
		return nil, err
	}
	defer discard(resp)
	if resp.StatusCode != http.StatusAccepted {
		return nil, fmt.Errorf("starting a blob upload to %s: %w", r.ref.Name(), responseError(resp))
	}
	return location(resp)
}

// sendUpload PATCHes the content to loc and commits it with PUT.
func (r *Repository) sendUpload(ctx context.Context, ep *endpoint, loc *url.URL, dg digest.Digest, size int64, body io.Reader) (digest.Digest, error) {
	cr := &countingReader{r: body, done: make(chan struct{})}
	if dg == "" {
		cr.h = digest.SHA256.Hash()
	}
	if size != 0 {
		resp, err := r.client.do(ctx, ep, &request{
			method: http.MethodPatch, url: loc, scopes: r.scopes, stream: cr, length: size,
			header: http.Header{"Content-Type": {"application/octet-stream"}},
		})
		if err != nil {
			return "", err
		}
		discard(resp)
		if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNoContent {
			return "", fmt.Errorf("uploading a blob to %s: %w", r.ref.Name(), responseError(resp))
		}
		if loc, err = location(resp); err != nil {
			return "", err
		}
		// The transport may still be finishing the body when the answer
		// comes; it closes the body when done, and only then are the
		// count and the hash final.
		select {
		case <-cr.done:
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(bodyDoneWait):
			return "", errdefs.Newf(errdefs.ErrUnavailable, "blob upload to %s: the registry answered while the blob was still being sent", r.ref.Name())
		}
	}
	if size > 0 && cr.n != size {
		return "", errdefs.Newf(errdefs.ErrInvalidArgument, "blob upload to %s: read %d bytes, want %d", r.ref.Name(), cr.n, size)
	}
	if size < 0 && !cr.eof {
		return "", errdefs.Newf(errdefs.ErrUnavailable, "blob upload to %s: the registry answered before the whole blob was sent", r.ref.Name())
	}
	if dg == "" {
		dg = digest.NewDigest(digest.SHA256, cr.h)
	}
	put := *loc
	q := put.Query()
	q.Set("digest", string(dg))
	put.RawQuery = q.Encode()
	resp, err := r.client.do(ctx, ep, &request{method: http.MethodPut, url: &put, scopes: r.scopes})
	if err != nil {
		return "", err
	}
	defer discard(resp)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("committing blob %s to %s: %w", dg, r.ref.Name(), responseError(resp))
	}
	return dg, nil
}

// cancelUpload deletes an upload session, best effort, even when ctx is done.
func (r *Repository) cancelUpload(ctx context.Context, ep *endpoint, loc *url.URL) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	resp, err := r.client.do(ctx, ep, &request{method: http.MethodDelete, url: loc, scopes: r.scopes})
	if err == nil {
		discard(resp)
	}
}

// location returns a response's Location, resolved against the request URL.
func location(resp *http.Response) (*url.URL, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, errdefs.Newf(errdefs.ErrUnavailable, "registry answered %s %s without a Location", resp.Request.Method, resp.Request.URL.Path)
	}
	u, err := resp.Request.URL.Parse(loc)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errdefs.Newf(errdefs.ErrUnavailable, "registry sent an unusable upload location %q", loc)
	}
	return u, nil
}

// bodyDoneWait bounds the wait for the transport to finish a body the
// registry has already answered for.
const bodyDoneWait = 30 * time.Second

// countingReader counts (and optionally hashes) what it reads, and notes
// whether it reached the end.
type countingReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	eof  bool
	done chan struct{} // closed by Close: the transport is done with the body
	once sync.Once
}

// Close tells the uploader that the transport is done with the body.
func (c *countingReader) Close() error {
	c.once.Do(func() { close(c.done) })
	return nil
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		if c.h != nil {
			c.h.Write(p[:n])
		}
	}
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

// WriteTo lets a body that can write itself (a gzip stream) write straight
// to the connection, counted and hashed on the way; other bodies are read.
func (c *countingReader) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{c: c, w: w}
	var err error
	if wt, ok := c.r.(io.WriterTo); ok {
		_, err = wt.WriteTo(cw)
	} else {
		_, err = io.Copy(cw, c.r)
	}
	if err == nil {
		c.eof = true
	}
	return cw.n, err
}

// countingWriter counts and hashes, for its countingReader, what it writes.
type countingWriter struct {
	c *countingReader
	w io.Writer
	n int64
}

func (cw *countingWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	if n > 0 {
		cw.n += int64(n)
		cw.c.n += int64(n)
		if cw.c.h != nil {
			cw.c.h.Write(p[:n])
		}
	}
	return n, err
}
