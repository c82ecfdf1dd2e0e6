package imagestore

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/reference"
)

// Event is one line of rmi/prune output: an untagged name or a deleted ID.
type Event struct {
	Untagged string `json:",omitempty"`
	Deleted  string `json:",omitempty"`
}

// RemoveResult is what Remove and Prune did.
type RemoveResult struct {
	Events    []Event
	Reclaimed int64 // bytes of blobs that left the disk
}

// Deleted reports whether an image (not just a tag) went.
func (r RemoveResult) Deleted() bool {
	for _, ev := range r.Events {
		if ev.Deleted != "" {
			return true
		}
	}
	return false
}

// Remove implements rmi for one argument with Docker's rules: a name is
// untagged, and the image deleted once nothing names it; an ID deletes the
// image, which needs force when names from several repositories point at it;
// an image with dependent child images is never deleted. Unless noPrune,
// untagged parents left without children go too.
func (s *Store) Remove(ctx context.Context, name string, force, noPrune bool) (RemoveResult, error) {
	var res RemoveResult
	id, ref, err := s.resolve(ctx, name)
	if err != nil {
		return res, err
	}
	img, err := s.Meta.Get(ctx, id)
	if err != nil {
		return res, err
	}
	if ref != nil {
		if len(img.Tags)+len(img.RepoDigests) == 1 && !force {
			if err := s.checkUsers(ctx, img, func(c metadata.Container) error {
				return errdefs.Newf(errdefs.ErrConflict, "conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s",
					name, c.ID[:12], img.ID.Encoded()[:12])
			}); err != nil {
				return res, err
			}
		}
		if err := s.untagOne(ctx, *ref, &res); err != nil {
			return res, err
		}
		if img, err = s.Meta.Get(ctx, id); err != nil {
			return res, err
		}
		if len(img.Tags) > 0 {
			return res, nil
		}
	} else {
		if err := s.checkDeletable(ctx, img, force); err != nil {
			return res, err
		}
	}
	if err := s.untagAll(ctx, img, &res); err != nil {
		return res, err
	}
	return res, s.deleteChain(ctx, id, noPrune, &res)
}

func (s *Store) checkDeletable(ctx context.Context, img metadata.Image, force bool) error {
	short := img.ID.Encoded()[:12]
	children, err := s.Meta.Children(ctx, img.ID)
	if err != nil {
		return err
	}
	if len(children) > 0 {
		return errdefs.Newf(errdefs.ErrConflict, "conflict: unable to delete %s (cannot be forced) - image has dependent child images", short)
	}
	repos := map[string]bool{}
	for _, t := range img.Tags {
		if r, err := reference.ParseNamed(t); err == nil {
			repos[r.Name()] = true
		}
	}
	if len(repos) > 1 && !force {
		return errdefs.Newf(errdefs.ErrConflict, "conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", short)
	}
	return s.checkUsers(ctx, img, func(c metadata.Container) error {
		if c.State == metadata.StateRunning || c.State == metadata.StatePaused || c.State == metadata.StateRestarting {
			return errdefs.Newf(errdefs.ErrConflict, "conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", short, c.ID[:12])
		}
		if !force {
			return errdefs.Newf(errdefs.ErrConflict, "conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", short, c.ID[:12])
		}
		return nil
	})
}

// checkUsers calls conflict for the first container created from img; a
// nil result from conflict lets the caller go on.
func (s *Store) checkUsers(ctx context.Context, img metadata.Image, conflict func(metadata.Container) error) error {
	users, err := s.Meta.ContainersUsing(ctx, img.ID)
	if err != nil {
		return err
	}
	for _, c := range users {
		if err := conflict(c); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) untagOne(ctx context.Context, ref reference.Reference, res *RemoveResult) error {
	if ref.Digest != "" {
		if err := s.Meta.RemoveRepoDigest(ctx, ref.Name()+"@"+ref.Digest.String()); err != nil {
			return err
		}
	} else if err := s.Meta.Untag(ctx, ref.String()); err != nil {
		return err
	}
	res.Events = append(res.Events, Event{Untagged: ref.Familiar()})
	return nil
}

func (s *Store) untagAll(ctx context.Context, img metadata.Image, res *RemoveResult) error {
	for _, t := range img.Tags {
		if err := s.Meta.Untag(ctx, t); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		res.Events = append(res.Events, Event{Untagged: Familiar(t)})
	}
	for _, rd := range img.RepoDigests {
		if err := s.Meta.RemoveRepoDigest(ctx, rd); err != nil {
			return err
		}
		res.Events = append(res.Events, Event{Untagged: Familiar(rd)})
	}
	return nil
}

// deleteChain deletes id if nothing depends on it, then (unless noPrune)
// its parents that no name and no other child keep.
func (s *Store) deleteChain(ctx context.Context, id digest.Digest, noPrune bool, res *RemoveResult) error {
	for id != "" {
		img, err := s.Meta.Get(ctx, id)
		if err != nil {
			if errdefs.IsNotFound(err) {
				return nil
			}
			return err
		}
		children, err := s.Meta.Children(ctx, id)
		if err != nil || len(children) > 0 || len(img.Tags) > 0 || len(img.RepoDigests) > 0 {
			return err
		}
		// An image a container was created from stays (untagged, like
		// Docker's rmi -f) until the container is gone.
		if users, err := s.Meta.ContainersUsing(ctx, id); err != nil || len(users) > 0 {
			return err
		}
		if err := s.deleteImage(ctx, id, res); err != nil {
			return err
		}
		if noPrune {
			return nil
		}
		id = img.Parent
	}
	return nil
}

func (s *Store) deleteImage(ctx context.Context, id digest.Digest, res *RemoveResult) error {
	unused, err := s.Meta.DeleteImage(ctx, id, false)
	if errdefs.IsConflict(err) || errdefs.IsNotFound(err) {
		return nil // tagged meanwhile (it stays), or another process deleted it
	}
	if err != nil {
		return err
	}
	res.Events = append(res.Events, Event{Deleted: id.String()})
	freed, err := s.deleteBlobs(ctx, unused)
	res.Reclaimed += freed
	return err
}

// deleteBlobs removes the blobs no image references, under the exclusive
// GC lock so that no writer holding a lease is about to reference them.
func (s *Store) deleteBlobs(ctx context.Context, blobs []metadata.Blob) (int64, error) {
	if len(blobs) == 0 {
		return 0, nil
	}
	release, err := s.exclusive()
	if err != nil {
		return 0, err
	}
	defer release()
	var freed int64
	for _, b := range blobs {
		used, err := s.Meta.IsBlobReferenced(ctx, b.Digest)
		if err != nil {
			return freed, err
		}
		if used {
			continue
		}
		info, err := s.Content.Info(b.Digest)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return freed, err
		}
		if err := s.Content.Delete(b.Digest); err != nil && !errdefs.IsNotFound(err) {
			return freed, fmt.Errorf("delete blob %s: %w", b.Digest, err)
		}
		freed += info.Size
	}
	return freed, nil
}

// resolve is ResolveID that also says whether name matched a reference (tag
// or digest) rather than an ID.
func (s *Store) resolve(ctx context.Context, name string) (digest.Digest, *reference.Reference, error) {
	id, err := s.ResolveID(ctx, name)
	if err != nil {
		return "", nil, err
	}
	if ref, perr := reference.Parse(name); perr == nil {
		var rid digest.Digest
		if ref.Digest != "" {
			rid, err = s.Meta.LookupRepoDigest(ctx, ref.Name(), ref.Digest)
		} else {
			rid, err = s.Meta.LookupTag(ctx, ref.String())
		}
		if err == nil && rid == id {
			if ref.Digest != "" && !hasRepoDigest(ctx, s, id, ref) {
				return id, nil, nil // matched the manifest digest, not a record
			}
			return id, &ref, nil
		}
	}
	return id, nil, nil
}

func hasRepoDigest(ctx context.Context, s *Store, id digest.Digest, ref reference.Reference) bool {
	img, err := s.Meta.Get(ctx, id)
	if err != nil {
		return false
	}
	want := ref.Name() + "@" + ref.Digest.String()
	for _, rd := range img.RepoDigests {
		if rd == want {
			return true
		}
	}
	return false
}
