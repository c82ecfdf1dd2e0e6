package registry

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
)

// serveUploads handles POST /v2/<name>/blobs/uploads/: start a session,
// monolithic upload (?digest=) or cross-repository mount (?mount=&from=).
func (s *Server) serveUploads(w http.ResponseWriter, r *http.Request, rq *request) error {
	if r.Method != http.MethodPost {
		return methodNotAllowed(w, http.MethodPost)
	}
	name := rq.route.name
	ctx := r.Context()
	q := r.URL.Query()
	id, err := s.authorize(r, rq, repoNeed(name, actionPush))
	if err != nil {
		return err
	}
	if m := q.Get("mount"); m != "" {
		d, err := parseDigest(m)
		if err != nil {
			return err
		}
		mounted, err := s.mount(ctx, r, id, name, d, q.Get("from"))
		if err != nil {
			return err
		}
		if mounted {
			return blobCreated(w, name, d)
		}
	}
	alg := "sha256"
	if a := q.Get("digest-algorithm"); a != "" {
		if _, ok := hexLens[a]; !ok {
			return newError(codeDigestInvalid, "unsupported digest algorithm %q", a)
		}
		alg = a
	}
	var want digest.Digest
	if ds := q.Get("digest"); ds != "" {
		if want, err = parseDigest(ds); err != nil {
			return err
		}
		alg = want.Algorithm().String()
		if have, err := s.monolithicExisting(ctx, r, name, want); have || err != nil {
			if err != nil {
				return err
			}
			return blobCreated(w, name, want)
		}
	}
	uid, st, err := s.createUpload(ctx, name, alg, want)
	if err != nil {
		return err
	}
	if want != "" {
		c := chunk{body: r.Body, start: 0, size: contentLength(r)}
		if err := s.finishUpload(ctx, uid, st, &c, want); err != nil {
			s.dropUpload(ctx, uid)
			return err
		}
		return blobCreated(w, name, want)
	}
	h := w.Header()
	h.Set("OCI-Chunk-Min-Length", strconv.FormatInt(s.cfg.ChunkMinLength, 10))
	return uploadAccepted(w, name, uid, 0, http.StatusAccepted)
}

// mount links blob d into name from repository from, or from anywhere when
// from is empty and the caller may read every repository. False means the
// caller should upload instead.
func (s *Server) mount(ctx context.Context, r *http.Request, id identity, name string, d digest.Digest, from string) (bool, error) {
	if doomed, err := s.leaseBlob(ctx, d); err != nil || doomed {
		return false, err // doomed: the client uploads it instead
	}
	if from != "" {
		if !validName(from) {
			return false, newError(codeNameInvalid, "invalid repository name %q", from)
		}
		if s.auth.enabled && !s.mayPull(id, from) {
			return false, nil
		}
		if _, err := s.store.repoBlob(ctx, from, d); err != nil {
			if isNotFound(err) {
				return false, nil
			}
			return false, err
		}
	} else {
		if !s.auth.pullsEverything(id) {
			return false, nil
		}
		if ok, err := s.store.exists(ctx, blobPath(d)); !ok || err != nil {
			return false, err
		}
	}
	return true, s.store.linkBlob(ctx, name, d)
}

// mayPull reports whether id may read repository name: its token says so,
// or its user's rights do (the user could fetch such a token anyway, and
// clients rarely ask for the mount source's scope).
func (s *Server) mayPull(id identity, name string) bool {
	n := repoNeed(name, actionPull)
	return id.bearer && tokenGrants(id.grants, n) || s.auth.allowed(id, n)
}

// monolithicExisting handles a single-POST upload of a blob the store
// already has: the body is hashed, not stored, and on a match the blob is
// linked.
func (s *Server) monolithicExisting(ctx context.Context, r *http.Request, name string, want digest.Digest) (bool, error) {
	if doomed, err := s.leaseBlob(ctx, want); err != nil || doomed {
		return false, err // doomed: stored as a new blob instead
	}
	have, err := s.store.exists(ctx, blobPath(want))
	if !have || err != nil {
		return false, err
	}
	h := newHasher(want.Algorithm().String())
	n, err := io.CopyBuffer(h, r.Body, make([]byte, 1<<20))
	s.metrics.addUpload(n)
	if err != nil {
		return false, newError(codeBlobUploadInvalid, "reading blob: %v", err)
	}
	if cl := contentLength(r); cl >= 0 && n != cl {
		return false, newError(codeSizeInvalid, "body has %d bytes, Content-Length %d", n, cl)
	}
	if got := digest.NewDigestFromBytes(want.Algorithm(), h.Sum(nil)); got != want {
		return false, newError(codeDigestInvalid, "upload has digest %s, not %s", got, want)
	}
	return true, s.store.linkBlob(ctx, name, want)
}

// serveUpload handles /v2/<name>/blobs/uploads/<uuid>.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, rq *request) error {
	name, uid := rq.route.name, rq.route.ref
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet, http.MethodPatch, http.MethodPut, http.MethodDelete:
	default:
		return methodNotAllowed(w, http.MethodGet, http.MethodPatch, http.MethodPut, http.MethodDelete)
	}
	if _, err := s.authorize(r, rq, repoNeed(name, actionPush)); err != nil {
		return err
	}
	st, err := s.loadUpload(ctx, name, uid)
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet:
		size, err := s.uploadSize(ctx, uid, st)
		if err != nil {
			return err
		}
		return uploadAccepted(w, name, uid, size, http.StatusNoContent)
	case http.MethodDelete:
		if err := s.store.deleteIfExists(ctx, uploadDir(uid)); err != nil {
			return err
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodPatch:
		return s.patchUpload(w, r, uid, st)
	}
	return s.putUpload(w, r, uid, st)
}

// patchUpload appends one chunk and records the new state.
func (s *Server) patchUpload(w http.ResponseWriter, r *http.Request, uid string, st *uploadState) error {
	ctx := r.Context()
	c, err := chunkOf(r)
	if err != nil {
		return err
	}
	dw, err := s.openData(ctx, uid)
	if err != nil {
		return err
	}
	err = s.appendChunk(ctx, dw, uid, st, c)
	if cerr := dw.Close(); err == nil {
		err = cerr
	}
	if serr := s.saveUpload(ctx, uid, st); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	return uploadAccepted(w, st.Name, uid, st.Size, http.StatusAccepted)
}

// putUpload completes an upload, with an optional final chunk.
func (s *Server) putUpload(w http.ResponseWriter, r *http.Request, uid string, st *uploadState) error {
	ctx := r.Context()
	want, err := parseDigest(r.URL.Query().Get("digest"))
	if err != nil {
		return err
	}
	var c *chunk
	if r.ContentLength != 0 {
		cc, err := chunkOf(r)
		if err != nil {
			return err
		}
		c = &cc
	}
	if c != nil && c.start <= 0 {
		// The whole blob in one PUT, and the store has it: hash, link,
		// write nothing.
		if size, err := s.uploadSize(ctx, uid, st); err == nil && size == 0 {
			have, err := s.monolithicExisting(ctx, r, st.Name, want)
			if have || err != nil {
				s.dropUpload(ctx, uid)
				if err != nil {
					return err
				}
				return blobCreated(w, st.Name, want)
			}
		}
	}
	if err := s.finishUpload(ctx, uid, st, c, want); err != nil {
		return err
	}
	return blobCreated(w, st.Name, want)
}

// finishUpload appends an optional last chunk, commits the data and
// completes the upload as blob want.
func (s *Server) finishUpload(ctx context.Context, uid string, st *uploadState, c *chunk, want digest.Digest) error {
	// Completing onto a blob the store already has: name it in the state
	// first, so a concurrent collection keeps that blob.
	if have, err := s.store.exists(ctx, blobPath(want)); err != nil {
		return err
	} else if have && st.Digest != want {
		st.Digest = want
		if err := s.saveUpload(ctx, uid, st); err != nil {
			return err
		}
	}
	dw, err := s.openData(ctx, uid)
	if err != nil {
		return err
	}
	if c != nil {
		if err := s.appendChunk(ctx, dw, uid, st, *c); err != nil {
			// Keep what arrived for a resume, best effort: the chunk's
			// error is the one to report, and the next request measures
			// the data rather than trusting the saved size.
			_ = dw.Close()
			_ = s.saveUpload(ctx, uid, st)
			return err
		}
	}
	size := dw.Size()
	err = dw.Commit(ctx)
	if cerr := dw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return s.completeUpload(ctx, uid, st, size, want)
}

// chunkOf reads a chunk's framing from Content-Range and Content-Length.
func chunkOf(r *http.Request) (chunk, error) {
	c := chunk{body: r.Body, start: -1, size: contentLength(r)}
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return c, nil
	}
	start, end, ok := parseContentRange(cr)
	if !ok {
		return c, newError(codeRangeInvalid, "malformed Content-Range %q", cr)
	}
	if c.size >= 0 && c.size != end-start+1 {
		return c, newError(codeSizeInvalid, "Content-Range %q does not match Content-Length %d", cr, c.size)
	}
	c.start, c.size = start, end-start+1
	return c, nil
}

// parseContentRange reads "<start>-<end>" (inclusive), also accepting a
// "bytes " or "bytes=" unit and a "/<total>" suffix.
func parseContentRange(s string) (start, end int64, ok bool) {
	s = strings.TrimSpace(s)
	if rest, cut := strings.CutPrefix(s, "bytes"); cut {
		s = strings.TrimLeft(rest, " =")
	}
	s, _, _ = strings.Cut(s, "/")
	a, b, found := strings.Cut(s, "-")
	if !found || a == "" || b == "" || a[0] == '+' || b[0] == '+' {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, end, true
}

// contentLength is the request's declared length, -1 when unknown.
func contentLength(r *http.Request) int64 {
	if r.ContentLength >= 0 {
		return r.ContentLength
	}
	return -1
}

func uploadAccepted(w http.ResponseWriter, name, id string, size int64, status int) error {
	h := w.Header()
	h.Set("Location", uploadLocation(name, id))
	h.Set("Docker-Upload-UUID", id)
	h.Set("Range", rangeHeader(size))
	h.Set("Content-Length", "0")
	w.WriteHeader(status)
	return nil
}

func blobCreated(w http.ResponseWriter, name string, d digest.Digest) error {
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/blobs/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}
