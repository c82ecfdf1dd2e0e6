package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/snapshot/internal/fsutil"
)

// FS is the directory holding snapshot id's files: its upper directory
// (overlay) or its whole tree (vfs).
func (s *Store) FS(id int64) string { return filepath.Join(s.Path(id), "fs") }

// Usage is the disk used by the files of key's own directory (FS).
func (s *Store) Usage(ctx context.Context, key string) (snapshot.Usage, error) {
	snap, err := s.Get(ctx, key)
	if err != nil {
		return snapshot.Usage{}, err
	}
	size, inodes, err := fsutil.DiskUsage(s.FS(snap.ID))
	if errors.Is(err, fs.ErrNotExist) {
		return snapshot.Usage{}, errdefs.Newf(errdefs.ErrNotFound, "snapshot %q was removed", key)
	}
	if err != nil {
		return snapshot.Usage{}, fmt.Errorf("usage of snapshot %q: %w", key, err)
	}
	return snapshot.Usage{Size: size, Inodes: inodes}, nil
}
