// Package snapshot defines the Snapshotter interface that holds unpacked
// layers and container root filesystems, and the helpers that turn the
// mounts a snapshotter returns into mounted directories.
//
// The model is containerd's: a snapshot is either committed (an immutable
// layer, usually named by its ChainID), active (a writable layer on top of a
// committed parent: a container's rootfs, or a layer being unpacked), or a
// view (a read-only layer on top of a committed parent). Callers never see
// the driver's directories; they get []Mount and mount them with MountAll.
// The one exception is UpperDir: the directory where an active snapshot's
// own changes live, which strata's archive code writes layers into and takes
// container diffs from without mounting anything.
//
// Drivers:
//
//	overlay  internal/snapshot/overlay: overlayfs, one directory per layer.
//	vfs      internal/snapshot/vfs: a full copy per active snapshot; works
//	         on any filesystem and without overlayfs.
//
// Both keep their metadata in one SQLite table (snapshots_<driver>) in a
// database the caller opens, so several strata processes can share a state
// directory, and both pass the suite in internal/snapshot/testsuite.
package snapshot
