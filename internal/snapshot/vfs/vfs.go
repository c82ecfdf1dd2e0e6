package vfs

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/snapshot/internal/fsutil"
	"github.com/strata-dev/strata/internal/snapshot/internal/storage"
)

// Snapshotter is the copying driver. It implements snapshot.Snapshotter and
// snapshot.Cleaner.
type Snapshotter struct {
	store *storage.Store
}

var (
	_ snapshot.Snapshotter = (*Snapshotter)(nil)
	_ snapshot.Cleaner     = (*Snapshotter)(nil)
)

// New opens the driver rooted at root, keeping its metadata in db (table
// snapshots_vfs).
func New(root string, db *sql.DB) (*Snapshotter, error) {
	store, err := storage.New(context.Background(), root, "vfs", db)
	if err != nil {
		return nil, err
	}
	return &Snapshotter{store: store}, nil
}

// Stat implements snapshot.Snapshotter.
func (s *Snapshotter) Stat(ctx context.Context, key string) (snapshot.Info, error) {
	return s.store.Stat(ctx, key)
}

// Prepare implements snapshot.Snapshotter: the new snapshot starts as a copy
// of parent.
func (s *Snapshotter) Prepare(ctx context.Context, key, parent string) ([]snapshot.Mount, error) {
	snap, err := s.store.Create(ctx, snapshot.KindActive, key, parent, func(dir string, parents []int64) error {
		if len(parents) == 0 {
			return os.Mkdir(filepath.Join(dir, "fs"), 0o755)
		}
		return fsutil.CopyDir(ctx, filepath.Join(dir, "fs"), s.fs(parents[0]))
	})
	if err != nil {
		return nil, err
	}
	return s.mounts(snap), nil
}

// View implements snapshot.Snapshotter.
func (s *Snapshotter) View(ctx context.Context, key, parent string) ([]snapshot.Mount, error) {
	snap, err := s.store.Create(ctx, snapshot.KindView, key, parent, func(dir string, _ []int64) error {
		return os.Mkdir(filepath.Join(dir, "fs"), 0o755)
	})
	if err != nil {
		return nil, err
	}
	return s.mounts(snap), nil
}

// Mounts implements snapshot.Snapshotter.
func (s *Snapshotter) Mounts(ctx context.Context, key string) ([]snapshot.Mount, error) {
	snap, err := s.store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if snap.Info.Kind == snapshot.KindCommitted {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "snapshot %q is committed: it has no mounts; prepare a snapshot on it", key)
	}
	return s.mounts(snap), nil
}

func (s *Snapshotter) mounts(snap storage.Snapshot) []snapshot.Mount {
	if snap.Info.Kind == snapshot.KindActive {
		return []snapshot.Mount{{Type: "bind", Source: s.fs(snap.ID), Options: []string{"rbind", "rw"}}}
	}
	dir := s.fs(snap.ID)
	if len(snap.Parents) > 0 {
		dir = s.fs(snap.Parents[0])
	}
	return []snapshot.Mount{{Type: "bind", Source: dir, Options: []string{"rbind", "ro"}}}
}

func (s *Snapshotter) fs(id int64) string { return s.store.FS(id) }

// Commit implements snapshot.Snapshotter.
func (s *Snapshotter) Commit(ctx context.Context, name, key string) error {
	return s.store.Commit(ctx, name, key)
}

// Remove implements snapshot.Snapshotter.
func (s *Snapshotter) Remove(ctx context.Context, key string) error {
	return s.store.Remove(ctx, key)
}

// Walk implements snapshot.Snapshotter.
func (s *Snapshotter) Walk(ctx context.Context, fn func(snapshot.Info) error) error {
	return s.store.Walk(ctx, fn)
}

// Usage implements snapshot.Snapshotter: the blocks of the snapshot's whole
// tree (for a view, of its own empty directory).
func (s *Snapshotter) Usage(ctx context.Context, key string) (snapshot.Usage, error) {
	return s.store.Usage(ctx, key)
}

// Cleanup implements snapshot.Cleaner.
func (s *Snapshotter) Cleanup(ctx context.Context) error {
	return s.store.Cleanup(ctx)
}
