// Package storage holds the registry's storage drivers: a local directory
// (the same content-store layout as a strata root, so a registry and a
// local store can share blobs) and S3.
//
// # Paths
//
// A driver path is a relative slash path: non-empty components, none of
// them "." or "..", no NUL, no leading or trailing slash. The first
// component must not start with "." (those names are the drivers' own: the
// pending uploads and temporary files below). Anything else fails with
// errdefs.ErrInvalidArgument before any I/O.
//
// # Committed and pending content
//
// Every path has committed content (what GetContent, Reader, Stat and List
// see) and may have pending content: an upload in progress, which no reader
// sees. Writer(path, append) works on the pending content:
//
//   - append=false starts it empty (dropping any earlier pending content);
//   - append=true continues it; if there is none yet it starts as a copy of
//     the committed content (empty if the path does not exist). Size counts
//     everything already there. Empty pending content is the same as none.
//   - Close keeps the pending content durably, so a later Writer with
//     append=true, in this process or another, resumes it. A PATCH request
//     should Close; only the final request should Commit.
//   - Commit makes the pending content the committed content atomically
//     (readers see the old file or the new one) and durable.
//   - Cancel drops all pending content of the path (the committed content
//     stays).
//
// The offset of an upload is therefore Writer(ctx, path, true).Size()
// followed by Close; Stat sees only committed files. Two Writers on one path
// at once are a caller error: the filesystem driver refuses the second with
// errdefs.ErrUnavailable, S3 cannot tell.
//
// Delete of a path also removes the pending content under it. Move moves
// committed content only.
//
// # Filesystem layout
//
// NewFilesystem(root) shares root with a strata store (internal/content is
// opened on root/content):
//
//	<root>/
//	├── content/
//	│   ├── blobs/<alg>/<hex>     driver paths "blobs/..." (0444, like content.Store)
//	│   └── ingest/               internal/content's; the driver never touches it
//	└── registry/
//	    ├── <path>                every other driver path (files 0644, dirs 0755)
//	    ├── .pending/<path>       pending content of <path> (resumable upload data)
//	    └── .tmp/<random>         PutContent's temporary files (removed after an hour)
//
// A blob committed at driver path "blobs/sha256/<hex>" is therefore a blob of
// the local content store and the other way round: the registry must keep its
// blobs at exactly blobs/<alg>/<encoded> to share them. All files are written
// to a temporary name on the same file system, fsynced, renamed into place,
// and the directory is fsynced; new directories are fsynced into their
// parents. Every operation goes through an os.Root on <root>, so nothing
// outside it is touched even through symbolic links. Pending files are
// flock(2)ed by their Writer. A registry that deletes blobs (garbage
// collection) deletes them for the local store too.
//
// # S3 layout
//
// Keys are <Prefix><path>. Pending content of <path> is a chain of part
// objects <Prefix>.pending/<path>/<offset>.<token>: offset is the part's
// first byte in the file (20 decimal digits), token is the writing session's
// random name. Each Writer session buffers parts of partSize bytes; every
// part but the last is at least 5 MiB (S3's minimum for multipart copy), so
// a session that resumes after a short last part downloads it and rewrites
// it, longer, at the same offset. The chain is rebuilt from a listing: from
// offset 0 (or from the committed object, when the first part starts at its
// size, for an append that resumed a large committed file) take the longest
// part at each offset, ignore the rest. A crash at any point leaves a valid
// chain. Commit composes the chain into <Prefix><path> with a server-side
// multipart copy (a single small upload is one PUT), then deletes the parts.
// No state lives in the process, so several registry processes on one bucket
// act as one registry.
package storage
