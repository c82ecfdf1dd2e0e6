package registry

import (
	"context"
	"encoding/json"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/strata-dev/strata/internal/registry/storage"
)

// GCReport is what a collection found and removed (or, dry, would remove).
type GCReport struct {
	DryRun         bool
	Repositories   int
	Manifests      int      // manifests in all repositories
	BlobsMarked    int      // blobs some manifest references
	BlobsDeleted   []string // digests
	BytesFreed     int64
	LinksDeleted   int      // repository links to deleted blobs
	UploadsDeleted []string // expired upload ids
}

// gcAfterDoom, when set by a test, runs between dooming the garbage and
// the second look: the moment a racing push matters most.
var gcAfterDoom func()

// gcRun is one collection's working state.
type gcRun struct {
	s        *Server
	start    time.Time
	marked   map[digest.Digest]bool
	visited  map[digest.Digest]bool     // manifests already walked
	linkedBy map[digest.Digest][]string // blob -> repositories linking it
	young    map[digest.Digest]bool     // a link newer than the grace period
	repos    []string
	report   GCReport
}

// GC collects garbage online, while the registry serves:
//
//  1. Mark every blob a manifest of any repository references: the
//     manifest itself, its config and layers, its index children and its
//     subject, plus the blob any live upload is completing.
//  2. Doom the blobs the registry knows of (linked into a repository, or
//     unlinked by a DELETE) that are unmarked and whose links, bytes and
//     lease (gclease.go) are older than the grace period.
//  3. Look again: manifests linked since the collection began are marked,
//     leases are read again; what is still garbage is deleted, links
//     first, so no manifest can be accepted against a vanishing blob.
//
// Blobs no repository ever linked are never touched: blobs/ may be shared
// with strata's local content store. The doomed markers and leases make
// sure a push racing the collector, in any process, keeps what it uses.
// Uploads older than UploadExpiry, expired leases and the doomed markers
// of a collector that died are deleted too.
func (s *Server) GC(ctx context.Context, dryRun bool) (GCReport, error) {
	g := &gcRun{
		s:        s,
		start:    time.Now(),
		marked:   map[digest.Digest]bool{},
		visited:  map[digest.Digest]bool{},
		linkedBy: map[digest.Digest][]string{},
		young:    map[digest.Digest]bool{},
		report:   GCReport{DryRun: dryRun},
	}
	var err error
	if g.repos, err = s.store.repositories(ctx); err != nil {
		return g.report, err
	}
	g.report.Repositories = len(g.repos)
	for _, repo := range g.repos {
		if err := g.markRepo(ctx, repo, time.Time{}); err != nil {
			return g.report, err
		}
	}
	if err := g.uploads(ctx, dryRun, true); err != nil {
		return g.report, err
	}
	cands, err := g.candidates(ctx)
	if err != nil {
		return g.report, err
	}
	var garbage []digest.Digest
	for _, d := range cands {
		if bad, err := g.judge(ctx, d, dryRun); err != nil {
			return g.report, err
		} else if bad {
			garbage = append(garbage, d)
		}
	}
	// Doom the garbage, then look again at what changed meanwhile: leases
	// taken and manifests linked since the collection began (gclease.go).
	if !dryRun {
		for _, d := range garbage {
			if err := s.store.d.PutContent(ctx, gcDoomedPath(d), nil); err != nil {
				return g.report, err
			}
		}
		if gcAfterDoom != nil {
			gcAfterDoom()
		}
	}
	for _, repo := range g.repos {
		if err := g.markRepo(ctx, repo, g.start.Add(-time.Minute)); err != nil {
			return g.report, err
		}
	}
	if err := g.uploads(ctx, true, false); err != nil {
		return g.report, err
	}
	g.report.BlobsMarked = len(g.marked)
	for _, d := range garbage {
		if err := g.sweep(ctx, d, dryRun); err != nil {
			return g.report, err
		}
	}
	if dryRun {
		return g.report, nil
	}
	return g.report, g.expireLeases(ctx)
}

// markRepo marks what the repository's manifests reference and records its
// blob links. With since set, only manifests linked after it are walked.
func (g *gcRun) markRepo(ctx context.Context, repo string, since time.Time) error {
	st := g.s.store
	revs, err := st.digestsUnder(ctx, revisionsDir(repo))
	if err != nil {
		return err
	}
	for _, d := range revs {
		if !since.IsZero() {
			fi, err := st.d.Stat(ctx, revisionLinkPath(repo, d))
			if err != nil || fi.ModTime.Before(since) {
				continue
			}
		} else {
			g.report.Manifests++
		}
		if err := g.markManifest(ctx, d); err != nil {
			return err
		}
	}
	if !since.IsZero() {
		return nil
	}
	layers, err := st.digestsUnder(ctx, repoPath(repo)+"/_layers")
	if err != nil {
		return err
	}
	for _, d := range layers {
		g.linkedBy[d] = append(g.linkedBy[d], repo)
		fi, err := st.d.Stat(ctx, layerLinkPath(repo, d))
		if err == nil && g.start.Sub(fi.ModTime) < g.s.cfg.GCGracePeriod {
			g.young[d] = true
		}
	}
	return ctx.Err()
}

// markManifest marks a manifest and everything it references, walking
// index children and subjects that are stored.
func (g *gcRun) markManifest(ctx context.Context, d digest.Digest) error {
	if g.visited[d] {
		return nil
	}
	g.visited[d] = true
	g.marked[d] = true
	body, err := g.s.store.d.GetContent(ctx, blobPath(d))
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// Bodies of unknown media types are stored even when they are not
	// JSON; such a body references nothing, so there is nothing to mark.
	var m manifestDoc
	if json.Unmarshal(body, &m) == nil {
		return g.markReferences(ctx, &m)
	}
	return nil
}

// markReferences marks the blobs of manifest m and walks its children.
func (g *gcRun) markReferences(ctx context.Context, m *manifestDoc) error {
	for _, desc := range m.blobs() {
		g.marked[desc.Digest] = true
	}
	kids := m.Manifests
	if m.Subject != nil {
		kids = append(kids, *m.Subject)
	}
	for _, desc := range kids {
		if _, err := parseDigest(desc.Digest.String()); err != nil {
			continue
		}
		if err := g.markManifest(ctx, desc.Digest); err != nil {
			return err
		}
	}
	return nil
}

// uploads marks the blobs live uploads are completing and, unless dry,
// deletes expired uploads; with report set it lists them in the report.
func (g *gcRun) uploads(ctx context.Context, dry, report bool) error {
	s := g.s
	ids, err := s.store.list(ctx, "uploads")
	if err != nil {
		return err
	}
	for _, id := range ids {
		started, err := s.uploadStarted(ctx, id)
		if isNotFound(err) {
			// No start time (a crash, or a session being created right
			// now): judge by the directory's age; backends without
			// directory times report zero, which counts as expired.
			var fi storage.FileInfo
			fi, err = s.store.d.Stat(ctx, uploadDir(id))
			started = fi.ModTime
		}
		if err != nil {
			continue // unreadable or gone; judge it next time
		}
		if g.start.Sub(started) > s.cfg.UploadExpiry {
			if report {
				g.report.UploadsDeleted = append(g.report.UploadsDeleted, id)
			}
			if !dry {
				if err := s.store.deleteIfExists(ctx, uploadDir(id)); err != nil {
					return err
				}
			}
			continue
		}
		b, err := s.store.d.GetContent(ctx, uploadStatePath(id))
		if err != nil {
			continue
		}
		var st uploadState
		if json.Unmarshal(b, &st) == nil && st.Digest != "" {
			g.marked[st.Digest] = true
		}
	}
	return nil
}

// candidates lists the blobs the registry knows of: linked by some
// repository or left by a DELETE.
func (g *gcRun) candidates(ctx context.Context) ([]digest.Digest, error) {
	left, err := g.s.store.digestsUnder(ctx, "_gc/candidates")
	if err != nil {
		return nil, err
	}
	seen := map[digest.Digest]bool{}
	var out []digest.Digest
	for d := range g.linkedBy {
		seen[d] = true
		out = append(out, d)
	}
	for _, d := range left {
		if !seen[d] {
			out = append(out, d)
		}
	}
	return out, nil
}

// judge reports whether candidate d looks like garbage: unmarked, with
// links, bytes and lease older than the grace period. A candidate that is
// referenced after all loses its candidate marker (unless dry).
func (g *gcRun) judge(ctx context.Context, d digest.Digest, dry bool) (bool, error) {
	st := g.s.store
	if g.marked[d] || g.young[d] {
		if dry {
			return false, nil
		}
		return false, st.deleteIfExists(ctx, gcCandidatePath(d))
	}
	fi, err := st.d.Stat(ctx, blobPath(d))
	if err != nil && !isNotFound(err) {
		return false, err
	}
	if err == nil && g.start.Sub(fi.ModTime) < g.s.cfg.GCGracePeriod {
		return false, nil // keep the marker: judge it again next time
	}
	leased, err := g.s.leased(ctx, d)
	return !leased, err
}

// sweep deletes doomed blob d, its links and markers, unless the second
// look saved it.
func (g *gcRun) sweep(ctx context.Context, d digest.Digest, dry bool) error {
	st := g.s.store
	if g.marked[d] {
		if dry {
			return nil
		}
		if err := st.deleteIfExists(ctx, gcCandidatePath(d)); err != nil {
			return err
		}
		return st.deleteIfExists(ctx, gcDoomedPath(d))
	}
	if leased, err := g.s.leased(ctx, d); err != nil || leased {
		if err == nil && !dry {
			err = st.deleteIfExists(ctx, gcDoomedPath(d))
		}
		return err
	}
	fi, err := st.d.Stat(ctx, blobPath(d))
	if err != nil && !isNotFound(err) {
		return err
	}
	if err == nil {
		g.report.BlobsDeleted = append(g.report.BlobsDeleted, d.String())
		g.report.BytesFreed += fi.Size
	}
	g.report.LinksDeleted += len(g.linkedBy[d])
	if dry {
		return nil
	}
	for _, repo := range g.linkedBy[d] {
		if err := st.deleteIfExists(ctx, repoPath(repo)+"/_layers/"+d.Algorithm().String()+"/"+d.Encoded()); err != nil {
			return err
		}
	}
	for _, p := range []string{blobPath(d), gcCandidatePath(d), gcDoomedPath(d)} {
		if err := st.deleteIfExists(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// expireLeases deletes the used markers older than the grace period, and
// doomed markers a collector that died left behind.
func (g *gcRun) expireLeases(ctx context.Context) error {
	st := g.s.store
	for _, dir := range []string{"_gc/used", "_gc/doomed"} {
		ds, err := st.digestsUnder(ctx, dir)
		if err != nil {
			return err
		}
		for _, d := range ds {
			p := gcUsedPath(d)
			keep := g.s.cfg.GCGracePeriod
			if dir == "_gc/doomed" {
				p, keep = gcDoomedPath(d), doomedStale
			}
			if fresh, err := g.s.markerWithin(ctx, p, keep); err != nil || fresh {
				continue
			}
			if err := st.deleteIfExists(ctx, p); err != nil {
				return err
			}
		}
	}
	return nil
}
