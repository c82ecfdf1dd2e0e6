package overlay

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/snapshot/internal/storage"
)

// Snapshotter is the overlayfs driver. It implements snapshot.Snapshotter
// and snapshot.Cleaner.
type Snapshotter struct {
	store   *storage.Store
	options []string
}

var (
	_ snapshot.Snapshotter = (*Snapshotter)(nil)
	_ snapshot.Cleaner     = (*Snapshotter)(nil)
)

// New opens the driver rooted at root, keeping its metadata in db (table
// snapshots_overlay). It does not test the kernel: call Supported first and
// use the vfs driver when it fails.
func New(root string, db *sql.DB) (*Snapshotter, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(abs, ":,\\") {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "overlay root %q: overlayfs cannot take a path with ':', ',' or '\\'", abs)
	}
	store, err := storage.New(context.Background(), abs, "overlay", db)
	if err != nil {
		return nil, err
	}
	return &Snapshotter{store: store, options: mountOptions()}, nil
}

// Stat implements snapshot.Snapshotter.
func (s *Snapshotter) Stat(ctx context.Context, key string) (snapshot.Info, error) {
	return s.store.Stat(ctx, key)
}

// Prepare implements snapshot.Snapshotter.
func (s *Snapshotter) Prepare(ctx context.Context, key, parent string) ([]snapshot.Mount, error) {
	return s.create(ctx, snapshot.KindActive, key, parent)
}

// View implements snapshot.Snapshotter.
func (s *Snapshotter) View(ctx context.Context, key, parent string) ([]snapshot.Mount, error) {
	return s.create(ctx, snapshot.KindView, key, parent)
}

func (s *Snapshotter) create(ctx context.Context, kind snapshot.Kind, key, parent string) ([]snapshot.Mount, error) {
	snap, err := s.store.Create(ctx, kind, key, parent, func(dir string, _ []int64) error {
		if err := os.Mkdir(filepath.Join(dir, "fs"), 0o755); err != nil {
			return err
		}
		if kind == snapshot.KindActive {
			return os.Mkdir(filepath.Join(dir, "work"), 0o700)
		}
		return nil
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
	own := filepath.Join(s.store.Path(snap.ID), "fs")
	if snap.Info.Kind == snapshot.KindView {
		switch len(snap.Parents) {
		case 0:
			return []snapshot.Mount{bind(own, "ro")}
		case 1:
			return []snapshot.Mount{bind(s.fs(snap.Parents[0]), "ro")}
		}
		return []snapshot.Mount{s.overlay(snap.Parents)}
	}
	if len(snap.Parents) == 0 {
		return []snapshot.Mount{bind(own, "rw")}
	}
	m := s.overlay(snap.Parents)
	m.Options = append(m.Options,
		"workdir="+filepath.Join(s.store.Path(snap.ID), "work"),
		"upperdir="+own)
	return []snapshot.Mount{m}
}

func (s *Snapshotter) fs(id int64) string { return s.store.FS(id) }

// overlay is an overlay mount of the parents, lowerdir last (it is the
// longest option, and the last is where the kernel's error says it stopped).
func (s *Snapshotter) overlay(parents []int64) snapshot.Mount {
	lower := make([]string, len(parents))
	for i, id := range parents {
		lower[i] = s.fs(id)
	}
	opts := append([]string(nil), s.options...)
	return snapshot.Mount{Type: "overlay", Source: "overlay",
		Options: append(opts, "lowerdir="+strings.Join(lower, ":"))}
}

func bind(dir, mode string) snapshot.Mount {
	return snapshot.Mount{Type: "bind", Source: dir, Options: []string{"rbind", mode}}
}

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

// Usage implements snapshot.Snapshotter: the blocks of the snapshot's own
// directory (its upper dir), so a base shared by many containers is counted
// once, on the base.
func (s *Snapshotter) Usage(ctx context.Context, key string) (snapshot.Usage, error) {
	return s.store.Usage(ctx, key)
}

// Cleanup implements snapshot.Cleaner.
func (s *Snapshotter) Cleanup(ctx context.Context) error {
	return s.store.Cleanup(ctx)
}
