package build

import (
	"context"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/snapshot"
)

// PruneSnapshots is pruneSnapshots for `rmi` and `image prune`: the
// unpacked layers of removed images go with them, as in Docker.
func (b *Builder) PruneSnapshots(ctx context.Context) (int, int64, error) {
	return b.pruneSnapshots(ctx)
}

// pruneSnapshots removes the unpacked layers (committed snapshots named by
// chain ID) that no image and no build cache entry needs any more, newest
// first. A snapshot with children (a container's layer, an init layer, a
// layer above it still in use) cannot be removed and is kept. It returns
// how many it removed and the bytes they used.
func (b *Builder) pruneSnapshots(ctx context.Context) (int, int64, error) {
	keep, err := b.neededChains(ctx)
	if err != nil {
		return 0, 0, err
	}
	var infos []snapshot.Info
	if err := b.Snapshotter.Walk(ctx, func(info snapshot.Info) error {
		infos = append(infos, info)
		return nil
	}); err != nil {
		return 0, 0, err
	}
	removed, freed := 0, int64(0)
	for i := len(infos) - 1; i >= 0; i-- { // children before parents
		info := infos[i]
		if info.Kind != snapshot.KindCommitted || keep[info.Name] || !strings.HasPrefix(info.Name, "sha256:") {
			continue
		}
		u, _ := b.Snapshotter.Usage(ctx, info.Name) // for the report only
		if b.Snapshotter.Remove(ctx, info.Name) == nil {
			removed++
			freed += u.Size
		}
	}
	return removed, freed, nil
}

// neededChains are the chain IDs of every image's and cache entry's layers.
func (b *Builder) neededChains(ctx context.Context) (map[string]bool, error) {
	keep := map[string]bool{}
	add := func(diffIDs []digest.Digest) {
		for _, c := range image.ChainIDs(diffIDs) {
			keep[string(c)] = true
		}
	}
	all, err := b.Meta.AllBlobs(ctx)
	if err != nil {
		return nil, err
	}
	for _, blobs := range all {
		var layers []metadata.Blob
		for _, bl := range blobs {
			if bl.Kind == metadata.KindLayer {
				layers = append(layers, bl)
			}
		}
		sort.Slice(layers, func(i, j int) bool { return layers[i].Index < layers[j].Index })
		ids := make([]digest.Digest, len(layers))
		for i, l := range layers {
			ids[i] = l.DiffID
		}
		add(ids)
	}
	entries, err := b.Meta.CacheEntries(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if st, err := stateFromResult(e.Result, e.Key); err == nil {
			add(st.Config.RootFS.DiffIDs)
		}
	}
	return keep, nil
}
