package imagestore

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
)

type contentInfo = content.Info

// Ingests younger than this may be resumed by a later pull; older
// abandoned ones are removed by garbage collection.
const defaultIngestAge = 24 * time.Hour

// Problem is one inconsistency found by Check.
type Problem struct {
	Kind     string // corrupt-blob, missing-blob, bad-image, unreferenced-blob
	Subject  string // the digest or image ID concerned
	Detail   string
	Repaired bool
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s %s: %s", p.Kind, p.Subject, p.Detail)
	if p.Repaired {
		s += " (repaired)"
	}
	return s
}

// CheckReport is the outcome of Check.
type CheckReport struct {
	Blobs, Images int
	Problems      []Problem
}

// Check verifies every blob's digest and every image's references. With
// repair it deletes corrupt and unreferenced blobs and the images that
// cannot be used any more (naming each), so the store is consistent again.
func (s *Store) Check(ctx context.Context, repair bool) (CheckReport, error) {
	var rep CheckReport
	// Re-hashing every blob is the slow part: do it without the lock, then
	// confirm every finding under the exclusive lock, so that blobs and
	// images that a concurrent rmi, prune or import touched are not
	// reported (or "repaired") by mistake.
	suspects, n, err := s.verifyBlobs()
	if err != nil {
		return rep, err
	}
	rep.Blobs = n
	release, err := s.exclusive()
	if err != nil {
		return rep, err
	}
	defer release()
	corrupt := map[digest.Digest]string{}
	for d := range suspects {
		if _, err := s.Content.Info(d); err != nil {
			continue // deleted meanwhile
		}
		if why := s.verifyBlob(d); why != "" {
			corrupt[d] = why
		}
	}
	imgs, err := s.Meta.AllBlobs(ctx)
	if err != nil {
		return rep, err
	}
	rep.Images = len(imgs)
	broken := map[digest.Digest]string{}
	for id, blobs := range imgs {
		if why := s.checkImage(id, blobs, corrupt); why != "" {
			broken[id] = why
		}
	}
	for _, d := range sortedKeys(corrupt) {
		p := Problem{Kind: "corrupt-blob", Subject: d.String(), Detail: corrupt[d]}
		if repair {
			p.Repaired = s.Content.Delete(d) == nil
		}
		rep.Problems = append(rep.Problems, p)
	}
	for _, id := range sortedKeys(broken) {
		p := Problem{Kind: "bad-image", Subject: id.String(), Detail: broken[id]}
		if repair {
			_, err := s.Meta.DeleteImage(ctx, id, true)
			if p.Repaired = err == nil; p.Repaired {
				p.Detail += "; image removed"
			}
		}
		rep.Problems = append(rep.Problems, p)
	}
	orphans, err := s.unreferenced(ctx)
	if err != nil {
		return rep, err
	}
	for _, info := range orphans {
		p := Problem{Kind: "unreferenced-blob", Subject: info.Digest.String(), Detail: fmt.Sprintf("%d bytes used by no image", info.Size)}
		if repair {
			p.Repaired = s.Content.Delete(info.Digest) == nil
		}
		rep.Problems = append(rep.Problems, p)
	}
	if repair {
		_, err = s.Content.CleanIngests(defaultIngestAge)
	}
	return rep, err
}

func (s *Store) checkImage(id digest.Digest, blobs []metadata.Blob, corrupt map[digest.Digest]string) string {
	var diffIDs []digest.Digest
	for _, b := range blobs {
		if _, bad := corrupt[b.Digest]; bad {
			return fmt.Sprintf("%s blob %s is corrupt", b.Kind, b.Digest)
		}
		if _, err := s.Content.Info(b.Digest); err != nil {
			return fmt.Sprintf("%s blob %s is missing", b.Kind, b.Digest)
		}
		if b.Kind == metadata.KindLayer {
			diffIDs = append(diffIDs, b.DiffID)
		}
	}
	raw, err := s.Content.ReadAll(id, maxConfigSize)
	if err != nil {
		return fmt.Sprintf("config: %v", err)
	}
	cfg, err := image.ParseConfig(raw)
	if err != nil {
		return fmt.Sprintf("config: %v", err)
	}
	if len(cfg.RootFS.DiffIDs) != len(diffIDs) {
		return fmt.Sprintf("config lists %d layers, store has %d", len(cfg.RootFS.DiffIDs), len(diffIDs))
	}
	for i, d := range cfg.RootFS.DiffIDs {
		if d != diffIDs[i] {
			return fmt.Sprintf("layer %d has diff ID %s, config expects %s", i, diffIDs[i], d)
		}
	}
	return ""
}

// maxConfigSize bounds config and manifest reads (the registry's limit).
const maxConfigSize = 4 << 20

// verifyBlobs rehashes every blob, one worker per CPU.
func (s *Store) verifyBlobs() (map[digest.Digest]string, int, error) {
	var infos []content.Info
	if err := s.Content.Walk(func(i content.Info) error { infos = append(infos, i); return nil }); err != nil {
		return nil, 0, err
	}
	corrupt := map[digest.Digest]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan content.Info)
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for info := range work {
				if why := s.verifyBlob(info.Digest); why != "" {
					mu.Lock()
					corrupt[info.Digest] = why
					mu.Unlock()
				}
			}
		}()
	}
	for _, i := range infos {
		work <- i
	}
	close(work)
	wg.Wait()
	return corrupt, len(infos), nil
}

func (s *Store) verifyBlob(d digest.Digest) string {
	f, err := s.Content.Open(d)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	v := d.Verifier()
	if _, err := io.Copy(v, f); err != nil {
		return fmt.Sprintf("read: %v", err)
	}
	if !v.Verified() {
		return "content does not match its digest"
	}
	return ""
}

func (s *Store) unreferenced(ctx context.Context) ([]content.Info, error) {
	refs, err := s.Meta.BlobRefs(ctx)
	if err != nil {
		return nil, err
	}
	var out []content.Info
	err = s.Content.Walk(func(i content.Info) error {
		if refs[i.Digest] == 0 {
			out = append(out, i)
		}
		return nil
	})
	return out, err
}

func sortedKeys[V any](m map[digest.Digest]V) []digest.Digest {
	out := make([]digest.Digest, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
