// Package content is strata's content-addressed blob store.
//
// Every blob is stored once under its digest. The layout is compatible with the
// blobs directory of an OCI image layout:
//
//	<root>/
//	├── blobs/
//	│   ├── sha256/
//	│   │   └── <hex>            committed blob, read-only (0444), name = digest
//	│   └── sha512/
//	│       └── <hex>
//	└── ingest/
//	    └── <ref>/               one blob being written; ref is [A-Za-z0-9][A-Za-z0-9._-]{0,127}
//	        ├── lock             flock(LOCK_EX) held by the writing process
//	        └── data             bytes received so far (resumable)
//
// A blob appears in blobs/ only by rename(2) of an ingest data file that was
// fully written, fsynced and checked against its expected size and digest; the
// blobs/<alg> directory is fsynced after the rename. A reader therefore never
// sees a partial blob, and a crash at any point leaves either the old state or
// the complete blob, plus perhaps an ingest directory that CleanIngests removes
// (or a later Writer with the same ref resumes).
//
// strata has no daemon: several processes use one store at once. They
// coordinate only through the file system:
//
//   - A Writer holds an exclusive, non-blocking flock on ingest/<ref>/lock for
//     its whole life. A second Writer for the same ref, in this process or
//     another, gets errdefs.ErrUnavailable. The lock dies with its process, so
//     CleanIngests can tell an abandoned ingest (lock free) from a live one.
//   - An ingest directory is removed only by the holder of its lock, data first
//     and lock file last; a process that acquires a lock re-checks that the lock
//     file it holds is still the one at ingest/<ref>/lock and retries if not.
//   - Two processes committing the same digest both succeed: rename is atomic,
//     the contents are identical, and a committer that finds the blob already
//     present just drops its copy.
//
// Blobs are verified while they are written (one pass: each byte is written to
// the ingest file and fed to the hash, with no extra copy). ReadAll verifies
// again on read because its callers (manifests, configs) trust the bytes.
package content
