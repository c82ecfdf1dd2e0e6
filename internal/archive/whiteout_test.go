package archive

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// mountOverlay mounts lower+upper on a new directory the way the overlay
// snapshotter does, and unmounts it when the test ends. It returns the
// mount point and an unmount func.
func mountOverlay(t *testing.T, lower, upper string) (string, func()) {
	t.Helper()
	requireRoot(t)
	work, merged := t.TempDir(), t.TempDir()
	opts := "index=off,redirect_dir=off,metacopy=off,lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Skipf("cannot mount overlayfs here: %v", err)
	}
	done := false
	unmount := func() {
		if !done {
			done = true
			if err := unix.Unmount(merged, 0); err != nil {
				t.Errorf("unmount: %v", err)
			}
		}
	}
	t.Cleanup(unmount)
	return merged, unmount
}

// whiteoutLower is the tree the whiteout layer applies to.
func whiteoutLower(t *testing.T) string {
	lower := filepath.Join(t.TempDir(), "lower")
	for p, c := range map[string]string{
		"a": "a", "b/x": "bx", "c/old": "old", "c/sub/deep": "deep", "keep/k": "k",
		"e": "lower e", "f/old": "old", "h/kept": "kept", "h/gone": "gone", "i/old": "old",
	} {
		writeFile(t, filepath.Join(lower, p), c, 0o644)
	}
	return lower
}

// whiteoutLayer hides lower entries in every way a layer can, in stream
// orders that test that a whiteout never hides what its own layer writes.
var whiteoutLayer = []ent{
	file(".wh.a", ""),    // a file
	file(".wh.b", ""),    // a directory
	dir("c/"),            // opaque, with entries before and after the marker
	file("c/pre", "pre"), //
	file("c/.wh..wh..opq", ""),
	file("c/new", "new"),
	file("e", "layer e"), // written, then whited out: stays
	file(".wh.e", ""),
	file(".wh.f", ""), // whited out, then made again: lower f/old hidden
	dir("f/"),
	file("f/new", "new"),
	dir("g/"), // a new directory whited out after: stays
	file("g/h", "h"),
	file(".wh.g", ""),
	file("h/.wh.gone", ""), // in a directory the layer does not list
	file(".wh.missing", ""),
	file(".wh.i", ""), // whited out, then a file in it, without "i/"
	file("i/new", "new"),
}

var whiteoutResult = []string{"c", "c/new", "c/pre", "e", "f", "f/new", "g", "g/h", "h", "h/kept", "i", "i/new", "keep", "keep/k"}

func TestApplyWhiteoutsDelete(t *testing.T) {
	requireRoot(t)
	lower := whiteoutLower(t)
	dst := filepath.Join(t.TempDir(), "vfs")
	copyTree(t, lower, dst)
	applyLayer(t, dst, WhiteoutDelete, whiteoutLayer...)
	got := snapshotTree(t, dst, treeOpts{noMtimes: true})
	if names := sortedKeys(got); !slices.Equal(names, whiteoutResult) {
		t.Fatalf("tree:\n got  %v\n want %v", names, whiteoutResult)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "e")); string(b) != "layer e" {
		t.Errorf("e = %q", b)
	}
}

func TestApplyWhiteoutsOverlay(t *testing.T) {
	requireRoot(t)
	lower := whiteoutLower(t)
	upper := t.TempDir()
	applyLayer(t, upper, WhiteoutOverlay, whiteoutLayer...)

	// The upper directory holds overlayfs's own form of the whiteouts.
	for _, p := range []string{"a", "b", "missing", "h/gone"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(upper, p), &st); err != nil || !isWhiteoutDevice(&st) {
			t.Errorf("%s is not a whiteout device (mode %o): %v", p, st.Mode, err)
		}
	}
	for _, p := range []string{"c", "f", "g", "i"} {
		b := make([]byte, 8)
		n, err := unix.Lgetxattr(filepath.Join(upper, p), overlayOpaque, b)
		if err != nil || string(b[:n]) != "y" {
			t.Errorf("%s is not opaque: %v", p, err)
		}
	}
	if _, err := unix.Lgetxattr(filepath.Join(upper, "h"), overlayOpaque, make([]byte, 8)); err == nil {
		t.Error("h is opaque, but only h/gone was whited out")
	}

	merged, _ := mountOverlay(t, lower, upper)
	got := snapshotTree(t, merged, treeOpts{noMtimes: true})
	if names := sortedKeys(got); !slices.Equal(names, whiteoutResult) {
		t.Fatalf("merged view:\n got  %v\n want %v", names, whiteoutResult)
	}

	// The same layer applied with deletions gives the same tree.
	dst := filepath.Join(t.TempDir(), "vfs")
	copyTree(t, lower, dst)
	applyLayer(t, dst, WhiteoutDelete, whiteoutLayer...)
	if d := diffSnapshots(snapshotTree(t, dst, treeOpts{}), snapshotTree(t, merged, treeOpts{})); d != "" {
		t.Errorf("overlay and delete formats differ:\n%s", d)
	}
}

// TestApplyWhiteoutsEmptyTarget: into an empty directory, whiteouts have
// nothing to delete, and never delete what the layer wrote.
func TestApplyWhiteoutsEmptyTarget(t *testing.T) {
	requireRoot(t)
	dst := t.TempDir()
	applyLayer(t, dst, WhiteoutDelete, whiteoutLayer...)
	got := sortedKeys(snapshotTree(t, dst, treeOpts{noMtimes: true}))
	want := []string{"c", "c/new", "c/pre", "e", "f", "f/new", "g", "g/h", "i", "i/new"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func sortedKeys(m map[string]entryInfo) []string {
	var out []string
	for k := range m {
		if !strings.HasPrefix(k, "lost+found") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
