package storage

import (
	"context"
	"io"
	"time"
)

// Driver is the registry's storage: a tree of files named by slash paths
// ("blobs/sha256/<hex>", "repositories/library/busybox/_manifests/tags/latest").
// It is the only thing a backend implements; everything the registry does
// (atomic uploads, links, garbage collection) is built on these methods, so
// two registry processes on one backend behave as one registry.
//
// Errors: a missing path is errdefs.ErrNotFound.
type Driver interface {
	// GetContent reads a small file whole.
	GetContent(ctx context.Context, path string) ([]byte, error)
	// PutContent writes a small file whole, atomically (readers see the old
	// or the new content, never a mix).
	PutContent(ctx context.Context, path string, data []byte) error
	// Reader streams a file from offset.
	Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error)
	// Writer returns a writer for path; with append it continues the file
	// (an upload resumed by a later request, maybe in another process).
	Writer(ctx context.Context, path string, append bool) (FileWriter, error)
	// Stat describes a file or directory.
	Stat(ctx context.Context, path string) (FileInfo, error)
	// List returns the direct children of a directory, as full paths,
	// sorted.
	List(ctx context.Context, path string) ([]string, error)
	// Move renames a file atomically, replacing dest.
	Move(ctx context.Context, src, dest string) error
	// Delete removes a file or a whole directory tree.
	Delete(ctx context.Context, path string) error
}

// FileWriter writes one file; nothing is visible at its path until Commit.
type FileWriter interface {
	io.Writer
	// Size is the file's size so far (previous appends included).
	Size() int64
	// Commit makes the content durable and visible; Close after Commit.
	Commit(ctx context.Context) error
	// Cancel discards what was written.
	Cancel(ctx context.Context) error
	Close() error
}

// FileInfo describes a path.
type FileInfo struct {
	Path    string
	Size    int64
	ModTime time.Time
	IsDir   bool
}
