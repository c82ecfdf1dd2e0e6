// Package fsutil holds the filesystem work of the snapshot drivers: the disk
// usage of a layer and the faithful copy of a tree that the vfs driver makes
// for each writable snapshot.
package fsutil
