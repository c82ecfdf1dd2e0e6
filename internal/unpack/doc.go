// Package unpack turns an image's layer blobs into a chain of committed
// snapshots, one per layer, named by the layer's chain ID
// (image.ChainIDs). Images that share a base share its snapshots: a layer
// whose chain ID is already committed is never extracted again.
//
// Each missing layer is extracted into a fresh active snapshot
// "extract-<random>" on its parent's chain ID: archive.Apply writes the
// layer into the snapshot's upper directory (overlayfs whiteouts for the
// overlay driver, deletions for vfs, whose active snapshot is a full copy of
// its parent) and computes the layer's diffID from the same bytes; a diffID
// that differs from the image's is errdefs.ErrCorrupt, and the snapshot is
// removed. Otherwise the snapshot is committed under the chain ID. Several
// processes may unpack the same image at once: the first commit wins, the
// others find errdefs.ErrAlreadyExists, drop their copy and go on.
//
// Crash safety. While a process extracts into "extract-X" it holds an
// exclusive flock on LockDir/extract-X.lock, taken before the snapshot is
// prepared and released (the file removed) only after the snapshot is
// committed or removed. Cleanup removes every extract-* snapshot whose lock
// is free or missing: its process died (kill -9 releases flocks). A lock is
// exact where an age threshold ("older than an hour") would either remove
// a slow live extraction or keep a dead one's for an hour; a LockDir on a
// tmpfs that a reboot empties simply marks every leftover as stale.
package unpack
