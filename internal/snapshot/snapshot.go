package snapshot

import (
	"context"
	"time"
)

// Kind is the state of a snapshot.
type Kind int

// The snapshot kinds. The zero Kind is invalid.
const (
	KindUnknown   Kind = iota
	KindActive         // writable, on a committed parent
	KindView           // read-only, on a committed parent
	KindCommitted      // immutable; the only kind that can be a parent
)

// String returns "active", "view", "committed" or "unknown".
func (k Kind) String() string {
	switch k {
	case KindActive:
		return "active"
	case KindView:
		return "view"
	case KindCommitted:
		return "committed"
	}
	return "unknown"
}

// ParseKind is the inverse of Kind.String; it returns KindUnknown for any
// other text.
func ParseKind(s string) Kind {
	switch s {
	case "active":
		return KindActive
	case "view":
		return KindView
	case "committed":
		return KindCommitted
	}
	return KindUnknown
}

// Info describes a snapshot. Parent is "" for a snapshot on an empty parent.
type Info struct {
	Name    string
	Parent  string
	Kind    Kind
	Created time.Time
}

// Mount is one mount(2) call: Type is the filesystem type ("overlay") or
// "bind"; Options holds both mount flags ("ro", "rbind") and filesystem
// data ("lowerdir=...").
type Mount struct {
	Type    string
	Source  string
	Options []string
}

// Usage is the disk space used by a snapshot's own layer: the sum of the
// allocated blocks of its distinct inodes, and how many there are.
type Usage struct {
	Size   int64
	Inodes int64
}

// Snapshotter stores layers and container filesystems as snapshots.
// Every method is safe for concurrent use, also by several processes sharing
// the same root and database. Keys and names are arbitrary non-empty strings
// (ChainIDs such as "sha256:..." included); they never touch the filesystem.
type Snapshotter interface {
	// Stat describes the snapshot key (errdefs.ErrNotFound if there is none).
	Stat(ctx context.Context, key string) (Info, error)
	// Prepare creates the active snapshot key on the committed parent
	// ("" = an empty filesystem) and returns its mounts.
	// errdefs.ErrAlreadyExists if key exists; ErrNotFound if parent does not.
	Prepare(ctx context.Context, key, parent string) ([]Mount, error)
	// View creates a read-only snapshot key of the committed parent.
	View(ctx context.Context, key, parent string) ([]Mount, error)
	// Mounts returns the mounts of an active snapshot or a view.
	Mounts(ctx context.Context, key string) ([]Mount, error)
	// Commit turns the active snapshot key into the committed snapshot
	// name; key stops existing. errdefs.ErrAlreadyExists if name exists.
	Commit(ctx context.Context, name, key string) error
	// Remove deletes a snapshot; errdefs.ErrConflict if it has children.
	Remove(ctx context.Context, key string) error
	// Walk calls fn for every snapshot, parents before their children.
	Walk(ctx context.Context, fn func(Info) error) error
	// Usage reports the disk used by the snapshot's own layer, not by its
	// parents.
	Usage(ctx context.Context, key string) (Usage, error)
}

// Cleaner is implemented by snapshotters that can delete what a crashed
// process left behind. Cleanup is safe to run while other processes use
// the snapshotter.
type Cleaner interface {
	Cleanup(ctx context.Context) error
}
