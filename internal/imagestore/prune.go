package imagestore

import (
	"context"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/metadata"
)

// Prune removes dangling images, or with all every image no container
// uses, that pass the filter. Children go before their parents. Reclaimed
// counts the bytes that left the disk, including unreferenced blobs that
// earlier interrupted operations left behind.
func (s *Store) Prune(ctx context.Context, all bool, f Filter) (RemoveResult, error) {
	var res RemoveResult
	imgs, err := s.Meta.List(ctx)
	if err != nil {
		return res, err
	}
	pending := map[digest.Digest]metadata.Image{}
	for _, img := range imgs {
		if (all || IsDangling(img)) && f.Match(img) {
			pending[img.ID] = img
		}
	}
	for progress := true; progress && len(pending) > 0; {
		progress = false
		for id, img := range pending {
			children, err := s.Meta.Children(ctx, id)
			if err != nil {
				return res, err
			}
			if len(children) > 0 {
				continue
			}
			if users, err := s.Meta.ContainersUsing(ctx, id); err != nil || len(users) > 0 {
				if err != nil {
					return res, err
				}
				delete(pending, id) // used by a container: not unused
				continue
			}
			delete(pending, id)
			progress = true
			if err := s.untagAll(ctx, img, &res); err != nil {
				return res, err
			}
			if err := s.deleteImage(ctx, id, &res); err != nil {
				return res, err
			}
		}
	}
	freed, err := s.CollectGarbage(ctx)
	res.Reclaimed += freed
	return res, err
}

// CollectGarbage deletes every blob no image references and abandoned
// ingests, returning the bytes freed.
func (s *Store) CollectGarbage(ctx context.Context) (int64, error) {
	if _, err := s.Content.CleanIngests(defaultIngestAge); err != nil {
		return 0, err
	}
	release, err := s.exclusive()
	if err != nil {
		return 0, err
	}
	defer release()
	refs, err := s.Meta.BlobRefs(ctx)
	if err != nil {
		return 0, err
	}
	var freed int64
	err = s.Content.Walk(func(info contentInfo) error {
		if refs[info.Digest] > 0 {
			return nil
		}
		if err := s.Content.Delete(info.Digest); err != nil {
			return err
		}
		freed += info.Size
		return nil
	})
	return freed, err
}
