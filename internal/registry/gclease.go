package registry

import (
	"context"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// The collector and the requests that make a blob used (a HEAD a pusher
// skips an upload on, a mount, an upload completing, a manifest naming the
// blob) meet through two markers, so a collection running next to pushes,
// in this process or in another one on the same storage, never deletes a
// blob a push relies on:
//
//   - a request first writes _gc/used/<digest> (a lease for the grace
//     period; a manifest's own revision link serves as its lease), then
//     checks that the blob is not doomed, and acts only if it is not;
//   - the collector writes _gc/doomed/<digest> for each blob it means to
//     delete, then looks again (leases, manifests linked since it began)
//     and deletes only the blobs nothing saved.
//
// Each side writes before it reads what the other writes, so at least one
// of them sees the other: the request backs off (a HEAD answers 404, a
// mount falls back to an upload, a manifest is refused), or the collector
// keeps the blob.

func gcUsedPath(d digest.Digest) string {
	return "_gc/used/" + d.Algorithm().String() + "/" + d.Encoded()
}

func gcDoomedPath(d digest.Digest) string {
	return "_gc/doomed/" + d.Algorithm().String() + "/" + d.Encoded()
}

// doomedStale is the age past which a doomed marker is taken for the
// leftover of a collector that died, and ignored.
const doomedStale = 10 * time.Minute

// leases remembers the leases this process wrote, so a blob HEADed over
// and over costs one write per quarter of the grace period.
type leases struct {
	mu      sync.Mutex
	written map[digest.Digest]time.Time
}

// lease writes blob d's used marker unless this process wrote it lately.
func (s *Server) lease(ctx context.Context, d digest.Digest) error {
	fresh := s.cfg.GCGracePeriod / 4
	s.leases.mu.Lock()
	at, ok := s.leases.written[d]
	s.leases.mu.Unlock()
	if ok && time.Since(at) < fresh {
		return nil
	}
	now := time.Now()
	if err := s.store.d.PutContent(ctx, gcUsedPath(d), nil); err != nil {
		return err
	}
	s.leases.mu.Lock()
	if s.leases.written == nil || len(s.leases.written) > 100000 {
		s.leases.written = map[digest.Digest]time.Time{}
	}
	s.leases.written[d] = now
	s.leases.mu.Unlock()
	return nil
}

// leaseBlob leases d and reports whether the collector is deleting it
// right now; then the caller must act as if d were gone.
func (s *Server) leaseBlob(ctx context.Context, d digest.Digest) (doomed bool, err error) {
	if err := s.lease(ctx, d); err != nil {
		return false, err
	}
	return s.isDoomed(ctx, d)
}

// isDoomed reports whether a live collector is about to delete d.
func (s *Server) isDoomed(ctx context.Context, d digest.Digest) (bool, error) {
	return s.markerWithin(ctx, gcDoomedPath(d), doomedStale)
}

// leased reports whether d's used marker is younger than the grace period.
func (s *Server) leased(ctx context.Context, d digest.Digest) (bool, error) {
	return s.markerWithin(ctx, gcUsedPath(d), s.cfg.GCGracePeriod)
}

// markerWithin reports whether the marker at p exists and is younger than
// age.
func (s *Server) markerWithin(ctx context.Context, p string, age time.Duration) (bool, error) {
	fi, err := s.store.d.Stat(ctx, p)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return time.Since(fi.ModTime) < age, nil
}

// waitUndoomed waits, up to a few seconds, for the collector to be done
// with d; a blob still doomed then makes the request retryable.
func (s *Server) waitUndoomed(ctx context.Context, d digest.Digest) error {
	for range 100 {
		doomed, err := s.leaseBlob(ctx, d)
		if err != nil || !doomed {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return newError(codeTooManyRequests, "blob %s is being garbage-collected; retry", d)
}
