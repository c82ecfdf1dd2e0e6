package imagestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/flock"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/reference"
)

// Store is the local image store.
type Store struct {
	Content *content.Store
	Meta    *metadata.DB
	lock    string // path of the GC lock file
}

// New builds a Store over an opened content store and database; lockDir
// holds the GC lock file.
func New(c *content.Store, m *metadata.DB, lockDir string) (*Store, error) {
	if err := os.MkdirAll(lockDir, 0o700); err != nil {
		return nil, fmt.Errorf("create lock dir: %w", err)
	}
	return &Store{Content: c, Meta: m, lock: filepath.Join(lockDir, "gc.lock")}, nil
}

// Lease takes the GC lock shared: blobs written while it is held are not
// collected before the image that uses them is committed. Release it after
// Commit (or on failure).
func (s *Store) Lease() (release func(), err error) {
	return flock.Shared(s.lock)
}

func (s *Store) exclusive() (release func(), err error) {
	return flock.Exclusive(s.lock)
}

// Resolve finds the image that s names, the way Docker does: a name
// (tag or digest reference) first, then a full or abbreviated image ID.
func (s *Store) Resolve(ctx context.Context, name string) (metadata.Image, error) {
	id, err := s.ResolveID(ctx, name)
	if err != nil {
		return metadata.Image{}, err
	}
	return s.Meta.Get(ctx, id)
}

// ResolveID is Resolve without loading the record.
func (s *Store) ResolveID(ctx context.Context, name string) (digest.Digest, error) {
	if name == "" {
		return "", errdefs.Newf(errdefs.ErrInvalidArgument, "image name must not be empty")
	}
	full := strings.TrimPrefix(name, "sha256:")
	if len(full) == 64 && reference.LooksLikeID(full) {
		return s.byPrefix(ctx, name, full)
	}
	ref, perr := reference.Parse(name)
	if perr == nil {
		var id digest.Digest
		var err error
		if ref.Digest != "" {
			id, err = s.Meta.LookupRepoDigest(ctx, ref.Name(), ref.Digest)
		} else {
			id, err = s.Meta.LookupTag(ctx, ref.String())
		}
		if err == nil || !errdefs.IsNotFound(err) {
			return id, err
		}
	}
	if reference.LooksLikeID(name) {
		return s.byPrefix(ctx, name, full)
	}
	if perr != nil {
		return "", perr
	}
	return "", errdefs.Newf(errdefs.ErrNotFound, "No such image: %s", ref.Familiar())
}

func (s *Store) byPrefix(ctx context.Context, name, prefix string) (digest.Digest, error) {
	ids, err := s.Meta.ByIDPrefix(ctx, prefix)
	if err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
		return "", errdefs.Newf(errdefs.ErrNotFound, "No such image: %s", name)
	case 1:
		return ids[0], nil
	}
	return "", errdefs.Newf(errdefs.ErrInvalidArgument, "image ID prefix %s is ambiguous: it matches %d images", name, len(ids))
}

// Familiar turns a stored full name (docker.io/library/x:tag) into the form
// users type (x:tag).
func Familiar(full string) string {
	if r, err := reference.ParseNamed(full); err == nil {
		return r.Familiar()
	}
	return full
}
