package build

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/strata-dev/strata/internal/metadata"
)

// PruneOptions select the cache entries Prune removes.
type PruneOptions struct {
	// All removes every entry; otherwise only those that keep a layer no
	// image uses (the cache that costs disk space).
	All bool
	// Until keeps the entries used more recently than this long ago.
	Until time.Duration
}

// PruneReport is what Prune removed.
type PruneReport struct {
	Entries   int
	Reclaimed int64 // blobs and unpacked layers
	Snapshots int   // unpacked layers removed
}

// Prune removes build cache entries, then the blobs and the unpacked
// layers nothing uses any more.
// With All it also empties the RUN --mount=type=cache directories and
// the kept file checksums.
func (b *Builder) Prune(ctx context.Context, o PruneOptions) (PruneReport, error) {
	entries, err := b.Meta.CacheEntries(ctx)
	if err != nil {
		return PruneReport{}, err
	}
	used := map[string]bool{}
	if !o.All {
		refs, err := b.imageBlobs(ctx)
		if err != nil {
			return PruneReport{}, err
		}
		used = refs
	}
	var keys []string
	cutoff := time.Now().Add(-o.Until)
	for _, e := range entries {
		if o.Until > 0 && e.LastUsed.After(cutoff) {
			continue
		}
		if o.All || holdsUnusedBlob(e, used) {
			keys = append(keys, e.Key)
		}
	}
	rep := PruneReport{Entries: len(keys)}
	if _, err := b.Meta.DeleteCacheEntries(ctx, keys); err != nil {
		return rep, err
	}
	freed, err := b.Images.CollectGarbage(ctx)
	rep.Reclaimed = freed
	if err != nil {
		return rep, err
	}
	n, size, err := b.pruneSnapshots(ctx)
	rep.Snapshots, rep.Reclaimed = n, rep.Reclaimed+size
	if err != nil {
		return rep, err
	}
	if o.All { // and the file checksums, so the next build is cold
		for _, sub := range []string{"cache-mounts", "hashes"} {
			dir := filepath.Join(b.Dir, sub)
			rep.Reclaimed += dirSize(dir)
			_ = os.RemoveAll(dir)
		}
	}
	return rep, nil
}

// imageBlobs is the set of blobs images use.
func (b *Builder) imageBlobs(ctx context.Context) (map[string]bool, error) {
	all, err := b.Meta.AllBlobs(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, blobs := range all {
		for _, bl := range blobs {
			out[bl.Digest.String()] = true
		}
	}
	return out, nil
}

func holdsUnusedBlob(e metadata.CacheEntry, used map[string]bool) bool {
	st, err := stateFromResult(e.Result, e.Key)
	if err != nil {
		return true
	}
	for _, l := range st.Layers {
		if !used[l.Digest.String()] {
			return true
		}
	}
	return false
}

// Usage reports the build cache: entries and the bytes of the layers
// only the cache keeps.
func (b *Builder) Usage(ctx context.Context) (entries int, size int64, err error) {
	list, err := b.Meta.CacheEntries(ctx)
	if err != nil {
		return 0, 0, err
	}
	used, err := b.imageBlobs(ctx)
	if err != nil {
		return 0, 0, err
	}
	seen := map[string]bool{}
	for _, e := range list {
		st, err := stateFromResult(e.Result, e.Key)
		if err != nil {
			continue
		}
		for _, l := range st.Layers {
			d := l.Digest.String()
			if !used[d] && !seen[d] {
				seen[d] = true
				size += l.Size
			}
		}
	}
	return len(list), size, nil
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
