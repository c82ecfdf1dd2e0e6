package testsuite

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/snapshot/internal/storage"
)

// testCrash leaves what a killed process leaves and checks that the next
// process works around it and that Cleanup removes it, but nothing of a
// live process or a snapshot.
func testCrash(t *testing.T, f *fixture) {
	f.layer("l1", "", map[string]string{"a": "1"})
	mounts, err := f.sn.Prepare(f.ctx, "c", "l1")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, upperDir(t, mounts), map[string]string{"c": "c"})

	dir := filepath.Join(f.root, "snapshots")
	maxID := 0
	for _, name := range snapshotDirs(t, f.root) {
		if id, err := strconv.Atoi(name); err == nil {
			maxID = max(maxID, id)
		}
	}
	leftovers := []string{
		storage.TempPrefix + "crashed",     // Prepare killed while filling its directory
		storage.RemovingPrefix + "crashed", // Remove killed while deleting
		strconv.Itoa(maxID + 1),            // Prepare killed after the rename, before its row committed
		strconv.Itoa(maxID + 1000),         // Remove killed after deleting its row
	}
	for _, name := range leftovers {
		writeFiles(t, filepath.Join(dir, name), map[string]string{"fs/leftover": name, "fs/sub/": ""})
	}
	live := filepath.Join(dir, storage.TempPrefix+"live") // another process, still preparing
	writeFiles(t, live, map[string]string{"fs/busy": "busy"})
	fd, err := unix.Open(live, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}

	// The next process prepares before any cleanup; its new id is the one
	// the killed Prepare left a directory for.
	next := f.open()
	mounts, err = next.Prepare(f.ctx, "after", "")
	if err != nil {
		t.Fatalf("prepare after a crash: %v", err)
	}
	wantMissing(t, upperDir(t, mounts), "leftover")

	cleaner, ok := next.(snapshot.Cleaner)
	if !ok {
		t.Fatal("the driver does not implement snapshot.Cleaner")
	}
	if err := cleaner.Cleanup(f.ctx); err != nil {
		t.Fatal(err)
	}
	left := snapshotDirs(t, f.root)
	for _, name := range left {
		if _, err := os.Lstat(filepath.Join(dir, name, "fs/leftover")); err == nil {
			t.Errorf("cleanup left %s", name)
		}
	}
	if !slices.Contains(left, filepath.Base(live)) {
		t.Fatal("cleanup removed a directory a live process holds")
	}
	if len(left) != 4 {
		t.Fatalf("after cleanup: %v, want 3 snapshots and the live directory", left)
	}
	unix.Close(fd)
	fd = -1
	if err := cleaner.Cleanup(f.ctx); err != nil {
		t.Fatal(err)
	}
	if left := snapshotDirs(t, f.root); len(left) != 3 || slices.Contains(left, filepath.Base(live)) {
		t.Fatalf("after its owner died: %v, want the 3 snapshots only", left)
	}

	// The snapshots survived.
	wantFile(t, upperDir(t, mustMounts(t, f, "c")), "c", "c")
	dirc, _ := f.mount(mustMounts(t, f, "c"))
	wantFile(t, dirc, "a", "1")
	wantFile(t, dirc, "c", "c")
	if _, err := os.Stat(upperDir(t, mustMounts(t, f, "after"))); err != nil {
		t.Fatal(err)
	}
}
