package registry

import (
	"io"
	"net/http"
	"strconv"
	"strings"
)

// serveBlob handles /v2/<name>/blobs/<digest>.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, rq *request) error {
	rt := rq.route
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if _, err := s.authorize(r, rq, repoNeed(rt.name, actionPull)); err != nil {
			return err
		}
		fi, err := s.store.repoBlob(ctx, rt.name, rt.dgst)
		if err != nil {
			return err
		}
		if r.Method == http.MethodHead {
			// A pusher that hears "exists" skips the upload and names the
			// blob in its manifest: lease it (see gclease.go). The lease
			// is best effort here, so read-only storage still answers.
			_ = s.lease(ctx, rt.dgst)
			doomed, err := s.isDoomed(ctx, rt.dgst)
			if err != nil {
				return err
			}
			if doomed {
				return newError(codeBlobUnknown, "blob %s is being garbage-collected", rt.dgst)
			}
		}
		h := w.Header()
		h.Set("Docker-Content-Digest", rt.dgst.String())
		h.Set("ETag", `"`+rt.dgst.String()+`"`)
		h.Set("Accept-Ranges", "bytes")
		h.Set("Cache-Control", "max-age=31536000")
		h.Set("Content-Type", "application/octet-stream")
		if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, rt.dgst.String()) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		start, length, partial, err := parseRange(r.Header.Get("Range"), fi.Size)
		if err != nil {
			h.Del("Content-Type")
			return toAPIError(err).withHeader("Content-Range", "bytes */"+strconv.FormatInt(fi.Size, 10))
		}
		h.Set("Content-Length", strconv.FormatInt(length, 10))
		status := http.StatusOK
		if partial {
			status = http.StatusPartialContent
			h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(start+length-1, 10)+"/"+strconv.FormatInt(fi.Size, 10))
		}
		if r.Method == http.MethodHead {
			w.WriteHeader(status)
			return nil
		}
		rc, err := s.store.d.Reader(ctx, blobPath(rt.dgst), start)
		if err != nil {
			return err
		}
		defer rc.Close()
		w.WriteHeader(status)
		_, err = io.Copy(w, io.LimitReader(rc, length))
		return err
	case http.MethodDelete:
		if _, err := s.authorize(r, rq, repoNeed(rt.name, actionDelete)); err != nil {
			return err
		}
		linked, err := s.store.exists(ctx, layerLinkPath(rt.name, rt.dgst))
		if err != nil {
			return err
		}
		if !linked {
			return newError(codeBlobUnknown, "blob %s unknown to repository %s", rt.dgst, rt.name)
		}
		// Tell the collector the blob may now be garbage, then unlink it.
		if err := s.store.d.PutContent(ctx, gcCandidatePath(rt.dgst), nil); err != nil {
			return err
		}
		if err := s.store.deleteIfExists(ctx, layerLinkPath(rt.name, rt.dgst)); err != nil {
			return err
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return methodNotAllowed(w, http.MethodGet, http.MethodHead, http.MethodDelete)
}

// parseRange reads a single-range "bytes=" header against a blob of size.
// No header, a multi-range or a non-bytes unit serve the whole blob;
// an unsatisfiable range is an error.
func parseRange(h string, size int64) (start, length int64, partial bool, err error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if h == "" || !ok || strings.Contains(spec, ",") {
		return 0, size, false, nil
	}
	bad := newError(codeRangeInvalid, "range %q not satisfiable for %d bytes", h, size)
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, false, bad
	}
	if first == "" { // suffix: the last N bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false, bad
		}
		n = min(n, size)
		if n == 0 {
			return 0, 0, false, bad
		}
		return size - n, n, true, nil
	}
	start, err = strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 || start >= size {
		return 0, 0, false, bad
	}
	end := size - 1
	if last != "" {
		end, err = strconv.ParseInt(last, 10, 64)
		if err != nil || end < start {
			return 0, 0, false, bad
		}
		end = min(end, size-1)
	}
	return start, end - start + 1, true, nil
}
