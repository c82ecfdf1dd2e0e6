// Package overlay is the overlayfs snapshot driver: every snapshot is one
// directory, a committed snapshot is a lower layer of its children, and an
// active snapshot's directory is the upper layer of its overlay mount.
//
// Layout under root (for strata, <state>/snapshots/overlay):
//
//	snapshots/<id>/fs     the snapshot's own files; upperdir when active
//	snapshots/<id>/work   overlay workdir (active snapshots only)
//	snapshots/tmp-*       being created      (see internal/storage)
//	snapshots/removing-*  being deleted
//
// Mounts returned:
//
//	Prepare, no parent:   bind  <id>/fs rw
//	Prepare on a chain:   overlay lowerdir=<parent>/fs:<grandparent>/fs:...,upperdir=<id>/fs,workdir=<id>/work
//	View, no parent:      bind  <id>/fs ro (empty)
//	View of one layer:    bind  <parent>/fs ro
//	View of a chain:      overlay lowerdir=... only, which overlayfs mounts read-only
//
// Options: always index=off (an upper dir must stay usable on its own, and
// with another set of lowers); redirect_dir=off and metacopy=off are added
// when the kernel turns those features on by default, since both store
// changes as xattrs that a diff taken from the upper dir would not
// understand. userxattr is never used: strata runs as root, writes
// trusted.overlay.* whiteouts into upper dirs itself, and needs the kernel to
// read them. Layers deeper than a page of options are mounted by
// snapshot.MountAll with the new mount API.
package overlay
