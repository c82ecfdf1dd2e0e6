package overlay

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/snapshot"
)

// Supported reports whether overlay snapshots work under root: the kernel
// has overlayfs (listed in /proc/filesystems, or loadable on first mount),
// and a test overlay mounted in root copies up writes and records a delete
// as a whiteout in its upper dir. It fails (errdefs.ErrUnsupported) without
// root, on a root directory that is itself on overlayfs, or on a filesystem
// without d_type; callers then use the vfs driver. It also loads the
// overlay module, so call it before New.
func Supported(root string) error {
	listed, err := inProcFilesystems("overlay")
	if err != nil {
		return err
	}
	if err := testMount(root); err != nil {
		if !listed {
			err = fmt.Errorf("%w (overlay is not in /proc/filesystems)", err)
		}
		return errdefs.Classed(errdefs.ErrUnsupported, fmt.Errorf("overlay snapshots under %s: %w", root, err))
	}
	return nil
}

func inProcFilesystems(fs string) (bool, error) {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return false, fmt.Errorf("read /proc/filesystems: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == fs {
			return true, nil
		}
	}
	return false, nil
}

// testMount runs the check mount on a thread of its own in a private mount
// namespace: if the process is killed meanwhile, the namespace and the
// mount go with it, so no mount is left behind on the host. The thread is
// never unlocked, so Go retires it with its namespace.
func testMount(root string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	removeStaleChecks(root)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("private mount namespace: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("private mount namespace: %w", err)
			return
		}
		errc <- checkMount(root)
	}()
	return <-errc
}

// removeStaleChecks deletes check directories a killed process left (they
// hold no mount: that died with its namespace). Young ones may belong to a
// check under way in another process.
func removeStaleChecks(root string) {
	old, _ := filepath.Glob(filepath.Join(root, "overlay-check-*"))
	for _, d := range old {
		if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > time.Minute {
			_ = os.RemoveAll(d)
		}
	}
}

func checkMount(root string) (err error) {
	dir, err := os.MkdirTemp(root, "overlay-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p := func(name string) string { return filepath.Join(dir, name) }
	for _, d := range []string{"lower1", "lower2", "upper", "work", "merged"} {
		if err := os.Mkdir(p(d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(p("lower2/old"), []byte("old"), 0o644); err != nil {
		return err
	}
	m := snapshot.Mount{Type: "overlay", Source: "overlay", Options: append(mountOptions(),
		"lowerdir="+p("lower1")+":"+p("lower2"), "upperdir="+p("upper"), "workdir="+p("work"))}
	if err := snapshot.MountAll([]snapshot.Mount{m}, p("merged")); err != nil {
		return err
	}
	defer func() {
		if uerr := snapshot.Unmount(p("merged")); err == nil {
			err = uerr
		}
	}()
	if err := os.WriteFile(p("merged/new"), []byte("new"), 0o644); err != nil {
		return fmt.Errorf("write through overlay: %w", err)
	}
	b, err := os.ReadFile(p("upper/new"))
	if err != nil {
		return fmt.Errorf("a write through the overlay did not reach its upper dir: %w", err)
	}
	if !bytes.Equal(b, []byte("new")) {
		return fmt.Errorf("a write through the overlay reached its upper dir as %q", b)
	}
	if err := os.Remove(p("merged/old")); err != nil {
		return fmt.Errorf("delete through overlay: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(p("upper/old"), &st); err != nil {
		return fmt.Errorf("a delete through the overlay left no whiteout in its upper dir: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		return fmt.Errorf("a delete through the overlay left mode %#o rdev %#x, not a 0/0 whiteout, in its upper dir", st.Mode, st.Rdev)
	}
	return nil
}

// mountOptions are the options of every overlay mount: index=off always,
// and redirect_dir=off and metacopy=off where the kernel enables those by
// default (the module parameters say so once overlay is loaded).
func mountOptions() []string {
	opts := []string{"index=off"}
	for _, feature := range []string{"redirect_dir", "metacopy"} {
		b, err := os.ReadFile("/sys/module/overlay/parameters/" + feature)
		if err == nil && strings.TrimSpace(string(b)) == "Y" {
			opts = append(opts, feature+"=off")
		}
	}
	return opts
}
