// Package vfs is the snapshot driver that needs nothing from the
// filesystem: every active snapshot is a full copy of its parent's tree. It
// is strata's fallback where overlayfs is missing or refuses the state
// directory's filesystem.
//
// Layout under root (for strata, <state>/snapshots/vfs):
//
//	snapshots/<id>/fs     the snapshot's complete tree
//	snapshots/tmp-*       being created      (see internal/storage)
//	snapshots/removing-*  being deleted
//
// Prepare copies the parent's tree into the new snapshot's fs (reflinks on
// btrfs/XFS, in-kernel copies elsewhere; never hard links, since a write
// through a link would change the parent). Its mount is a read-write bind of
// fs, which is also its UpperDir: the whole tree, so a diff taken from it
// must compare against the parent.
//
// A view copies nothing: its mount is a read-only bind of the parent's own
// directory, so a view shares every inode with its parent and is only as
// read-only as its mount. That is safe because a committed parent never
// changes and cannot be removed while the view exists. A view of nothing
// binds its own empty fs.
//
// Usage of a snapshot is its whole tree: an active snapshot pays for its
// copy of the parent.
package vfs
