package testsuite

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/snapshot"
)

// testChain builds three layers, each seeing the ones below it.
func testChain(t *testing.T, f *fixture) {
	f.layer("l1", "", map[string]string{"etc/os-release": "one", "data/": ""})
	f.layer("l2", "l1", map[string]string{"l2.txt": "two"})
	mounts, err := f.sn.Prepare(f.ctx, "top", "l2")
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.sn.Mounts(f.ctx, "top")
	if err != nil || !reflect.DeepEqual(again, mounts) {
		t.Fatalf("Mounts = %+v, %v; Prepare returned %+v", again, err, mounts)
	}
	dir, unmount := f.mount(mounts)
	wantFile(t, dir, "etc/os-release", "one")
	wantFile(t, dir, "l2.txt", "two")
	writeFiles(t, dir, map[string]string{"data/l3.txt": "three"})
	unmount()

	info, err := f.sn.Stat(f.ctx, "top")
	if err != nil || info.Kind != snapshot.KindActive || info.Parent != "l2" || info.Name != "top" || info.Created.IsZero() {
		t.Fatalf("Stat(top) = %+v, %v", info, err)
	}
	if err := f.sn.Commit(f.ctx, "l3", "top"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sn.Stat(f.ctx, "top"); !errdefs.IsNotFound(err) {
		t.Fatalf("Stat of a committed key: %v, want not found", err)
	}
	for name, parent := range map[string]string{"l1": "", "l2": "l1", "l3": "l2"} {
		info, err := f.sn.Stat(f.ctx, name)
		if err != nil || info.Kind != snapshot.KindCommitted || info.Parent != parent {
			t.Fatalf("Stat(%s) = %+v, %v; want committed on %q", name, info, err, parent)
		}
	}
	mounts, err = f.sn.View(f.ctx, "check", "l3")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ = f.mount(mounts)
	for p, want := range map[string]string{"etc/os-release": "one", "l2.txt": "two", "data/l3.txt": "three"} {
		wantFile(t, dir, p, want)
	}
}

// testCopyUp changes lower files in an active snapshot; the parent keeps
// them as they were.
func testCopyUp(t *testing.T, f *fixture) {
	f.layer("base", "", map[string]string{"etc/conf": "original", "bin/tool": "tool"})
	mounts, err := f.sn.Prepare(f.ctx, "c", "base")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := f.mount(mounts)
	if err := os.WriteFile(filepath.Join(dir, "etc/conf"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "bin/tool"), 0o700); err != nil {
		t.Fatal(err)
	}
	wantFile(t, dir, "etc/conf", "changed")
	wantFile(t, upperDir(t, mounts), "etc/conf", "changed")

	view, err := f.sn.View(f.ctx, "v", "base")
	if err != nil {
		t.Fatal(err)
	}
	vdir, _ := f.mount(view)
	wantFile(t, vdir, "etc/conf", "original")
	if fi, err := os.Stat(filepath.Join(vdir, "bin/tool")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("parent's bin/tool: %v, %v; want mode 0644 kept", fi, err)
	}
}

// testDelete removes a lower file in an active snapshot.
func testDelete(t *testing.T, f *fixture) {
	f.layer("base", "", map[string]string{"etc/conf": "x", "etc/keep": "k"})
	mounts, err := f.sn.Prepare(f.ctx, "c", "base")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := f.mount(mounts)
	if err := os.Remove(filepath.Join(dir, "etc/conf")); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, dir, "etc/conf")
	wantFile(t, dir, "etc/keep", "k")

	upper := upperDir(t, mounts)
	if layered(mounts) {
		var st unix.Stat_t
		err := unix.Lstat(filepath.Join(upper, "etc/conf"), &st)
		if err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Fatalf("upper dir: want a 0/0 whiteout at etc/conf, lstat: %v mode %#o rdev %d", err, st.Mode, st.Rdev)
		}
	} else {
		wantMissing(t, upper, "etc/conf")
	}

	view, err := f.sn.View(f.ctx, "v", "base")
	if err != nil {
		t.Fatal(err)
	}
	vdir, _ := f.mount(view)
	wantFile(t, vdir, "etc/conf", "x")
}

// testView checks that views of nothing, of one layer and of a chain show
// their parent and refuse writes.
func testView(t *testing.T, f *fixture) {
	f.layer("l1", "", map[string]string{"a": "1"})
	f.layer("l2", "l1", map[string]string{"b": "2"})
	for _, tc := range []struct {
		parent string
		files  map[string]string
	}{
		{"", nil},
		{"l1", map[string]string{"a": "1"}},
		{"l2", map[string]string{"a": "1", "b": "2"}},
	} {
		key := "view-of-" + tc.parent
		mounts, err := f.sn.View(f.ctx, key, tc.parent)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := snapshot.UpperDir(mounts); ok {
			t.Fatalf("view %s has an upper dir: %+v", key, mounts)
		}
		if info, err := f.sn.Stat(f.ctx, key); err != nil || info.Kind != snapshot.KindView || info.Parent != tc.parent {
			t.Fatalf("Stat(%s) = %+v, %v", key, info, err)
		}
		dir, unmount := f.mount(mounts)
		for p, want := range tc.files {
			wantFile(t, dir, p, want)
		}
		if err := os.WriteFile(filepath.Join(dir, "new"), nil, 0o644); !errors.Is(err, unix.EROFS) {
			t.Fatalf("write in view %s: %v, want EROFS", key, err)
		}
		if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); !errors.Is(err, unix.EROFS) {
			t.Fatalf("mkdir in view %s: %v, want EROFS", key, err)
		}
		for p := range tc.files {
			if err := os.WriteFile(filepath.Join(dir, p), []byte("x"), 0o644); !errors.Is(err, unix.EROFS) {
				t.Fatalf("overwrite %s in view %s: %v, want EROFS", p, key, err)
			}
		}
		unmount()
		if err := f.sn.Commit(f.ctx, "from-"+key, key); !errdefs.IsInvalidArgument(err) {
			t.Fatalf("commit a view: %v, want invalid argument", err)
		}
	}
}

// testRemove checks that parents outlive their children and that nothing
// is left on disk.
func testRemove(t *testing.T, f *fixture) {
	f.layer("l1", "", map[string]string{"a": "1"})
	f.layer("l2", "l1", map[string]string{"b": "2"})
	if _, err := f.sn.Prepare(f.ctx, "c", "l2"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sn.View(f.ctx, "v", "l1"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"l1", "l2"} {
		if err := f.sn.Remove(f.ctx, key); !errdefs.IsConflict(err) {
			t.Fatalf("remove %s with children: %v, want conflict", key, err)
		}
	}
	for _, key := range []string{"c", "l2", "v", "l1"} {
		if err := f.sn.Remove(f.ctx, key); err != nil {
			t.Fatalf("remove %s: %v", key, err)
		}
		if _, err := f.sn.Stat(f.ctx, key); !errdefs.IsNotFound(err) {
			t.Fatalf("Stat of removed %s: %v", key, err)
		}
	}
	if err := f.sn.Remove(f.ctx, "l1"); !errdefs.IsNotFound(err) {
		t.Fatalf("remove twice: %v, want not found", err)
	}
	if left := snapshotDirs(t, f.root); len(left) != 0 {
		t.Fatalf("directories left after removing everything: %v", left)
	}
}

// testWalk lists every snapshot once, parents first.
func testWalk(t *testing.T, f *fixture) {
	f.layer("l1", "", nil)
	f.layer("l2", "l1", nil)
	if _, err := f.sn.Prepare(f.ctx, "a", "l2"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sn.View(f.ctx, "v", "l1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sn.Prepare(f.ctx, "empty", ""); err != nil {
		t.Fatal(err)
	}
	want := map[string]snapshot.Info{
		"l1":    {Name: "l1", Kind: snapshot.KindCommitted},
		"l2":    {Name: "l2", Parent: "l1", Kind: snapshot.KindCommitted},
		"a":     {Name: "a", Parent: "l2", Kind: snapshot.KindActive},
		"v":     {Name: "v", Parent: "l1", Kind: snapshot.KindView},
		"empty": {Name: "empty", Kind: snapshot.KindActive},
	}
	seen := map[string]bool{}
	err := f.sn.Walk(f.ctx, func(info snapshot.Info) error {
		w, ok := want[info.Name]
		if !ok || seen[info.Name] {
			t.Errorf("Walk: unexpected or repeated %+v", info)
		}
		if info.Parent != "" && !seen[info.Parent] {
			t.Errorf("Walk: %s came before its parent %s", info.Name, info.Parent)
		}
		seen[info.Name] = true
		w.Created = info.Created
		if info != w || info.Created.IsZero() {
			t.Errorf("Walk: %+v, want %+v", info, w)
		}
		return nil
	})
	if err != nil || len(seen) != len(want) {
		t.Fatalf("Walk saw %d of %d snapshots: %v", len(seen), len(want), err)
	}
	stop := errors.New("stop")
	calls := 0
	if err := f.sn.Walk(f.ctx, func(snapshot.Info) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Walk did not stop at the callback's error: %v after %d calls", err, calls)
	}
}

// testErrors checks each error class the interface promises.
func testErrors(t *testing.T, f *fixture) {
	f.layer("base", "", nil)
	if _, err := f.sn.Prepare(f.ctx, "a", "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sn.View(f.ctx, "v", "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sn.Prepare(f.ctx, "other", ""); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what  string
		err   error
		class error
	}{
		{"stat missing", second(f.sn.Stat(f.ctx, "nope")), errdefs.ErrNotFound},
		{"prepare existing key", second(f.sn.Prepare(f.ctx, "a", "")), errdefs.ErrAlreadyExists},
		{"prepare over committed name", second(f.sn.Prepare(f.ctx, "base", "")), errdefs.ErrAlreadyExists},
		{"view existing key", second(f.sn.View(f.ctx, "v", "base")), errdefs.ErrAlreadyExists},
		{"prepare empty key", second(f.sn.Prepare(f.ctx, "", "")), errdefs.ErrInvalidArgument},
		{"prepare on missing parent", second(f.sn.Prepare(f.ctx, "b", "nope")), errdefs.ErrNotFound},
		{"prepare on active parent", second(f.sn.Prepare(f.ctx, "b", "a")), errdefs.ErrInvalidArgument},
		{"prepare on view parent", second(f.sn.Prepare(f.ctx, "b", "v")), errdefs.ErrInvalidArgument},
		{"view of active", second(f.sn.View(f.ctx, "b", "a")), errdefs.ErrInvalidArgument},
		{"mounts of missing", second(f.sn.Mounts(f.ctx, "nope")), errdefs.ErrNotFound},
		{"mounts of committed", second(f.sn.Mounts(f.ctx, "base")), errdefs.ErrInvalidArgument},
		{"commit missing", f.sn.Commit(f.ctx, "x", "nope"), errdefs.ErrNotFound},
		{"commit onto existing name", f.sn.Commit(f.ctx, "base", "a"), errdefs.ErrAlreadyExists},
		{"commit onto an active key", f.sn.Commit(f.ctx, "other", "a"), errdefs.ErrAlreadyExists},
		{"commit committed", f.sn.Commit(f.ctx, "x", "base"), errdefs.ErrInvalidArgument},
		{"commit to empty name", f.sn.Commit(f.ctx, "", "a"), errdefs.ErrInvalidArgument},
		{"remove missing", f.sn.Remove(f.ctx, "nope"), errdefs.ErrNotFound},
		{"usage of missing", second(f.sn.Usage(f.ctx, "nope")), errdefs.ErrNotFound},
	}
	for _, c := range checks {
		if !errors.Is(c.err, c.class) {
			t.Errorf("%s: %v, want %v", c.what, c.err, c.class)
		}
	}
	// Failed calls changed nothing.
	if info, err := f.sn.Stat(f.ctx, "a"); err != nil || info.Kind != snapshot.KindActive {
		t.Fatalf("a after failed calls: %+v, %v", info, err)
	}
	if _, err := f.sn.Stat(f.ctx, "b"); !errdefs.IsNotFound(err) {
		t.Fatalf("a failed prepare left snapshot b: %v", err)
	}
	if left := snapshotDirs(t, f.root); len(left) != 4 {
		t.Fatalf("failed calls left directories: %v, want the 4 snapshots'", left)
	}
}

func second[T any](_ T, err error) error { return err }

// snapshotDirs lists <root>/snapshots.
func snapshotDirs(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}
