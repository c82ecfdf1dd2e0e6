package archive

import (
	"archive/tar"
	"bytes"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// diffLower is the tree containers change in these tests.
func diffLower(t *testing.T) string {
	lower := filepath.Join(t.TempDir(), "lower")
	for p, c := range map[string]string{
		"bin/tool": "tool", "etc/passwd": "root:x:0:0\n", "etc/gone": "x", "etc/group": "g",
		"var/cache/a/b": "deep", "var/log/l": "l", "opq/old1": "1", "opq/sub/s": "s", "untouched/u": "u",
	} {
		writeFile(t, filepath.Join(lower, p), c, 0o644)
	}
	mustDo(t, os.Chmod(filepath.Join(lower, "bin/tool"), 0o755))
	mustDo(t, unix.Lsetxattr(filepath.Join(lower, "untouched/u"), "user.keep", []byte("1"), 0))
	return lower
}

// mutate makes the same changes a container would, in the tree at root (an
// overlay mount or a full copy).
func mutate(t *testing.T, root string) {
	j := func(p string) string { return filepath.Join(root, p) }
	f, err := os.OpenFile(j("etc/passwd"), os.O_APPEND|os.O_WRONLY, 0)
	mustDo(t, err)
	_, err = f.WriteString("user:x:1000:1000\n")
	mustDo(t, err)
	mustDo(t, f.Close())
	writeFile(t, j("etc/new"), "new", 0o640)
	mustDo(t, unix.Lsetxattr(j("etc/new"), "user.tag", []byte("v"), 0))
	mustDo(t, os.Remove(j("etc/gone")))
	mustDo(t, os.RemoveAll(j("var/cache")))
	writeFile(t, j("newdir/a"), "linked", 0o644)
	mustDo(t, os.Link(j("newdir/a"), j("newdir/b")))
	mustDo(t, unix.Mkfifo(j("newdir/fifo"), 0o600))
	l, err := net.Listen("unix", j("newdir/sock"))
	mustDo(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	mustDo(t, os.Symlink("etc/passwd", j("newlink")))
	mustDo(t, unix.Chmod(j("bin/tool"), 0o4711))
	mustDo(t, os.Lchown(j("bin/tool"), 5, 6))
	mustDo(t, unix.Chmod(j("bin/tool"), 0o4711))
}

// replaceDir empties opq by removing and making it again: overlayfs makes
// the new directory opaque.
func replaceDir(t *testing.T, root string) {
	mustDo(t, os.RemoveAll(filepath.Join(root, "opq")))
	writeFile(t, filepath.Join(root, "opq/new"), "new", 0o644)
}

// noSockets drops sockets, which layers do not carry.
func noSockets(m map[string]entryInfo) map[string]entryInfo {
	for k, v := range m {
		if v.Type == "socket" {
			delete(m, k)
		}
	}
	return m
}

// overlayChanges mounts an overlay on lower, runs change in it, and returns
// the upper directory and the merged view as it was.
func overlayChanges(t *testing.T, lower string, change func(*testing.T, string)) (string, map[string]entryInfo) {
	upper := t.TempDir()
	merged, unmount := mountOverlay(t, lower, upper)
	change(t, merged)
	view := snapshotTree(t, merged, treeOpts{})
	unmount()
	return upper, view
}

func TestDiffOverlay(t *testing.T) {
	requireRoot(t)
	lower := diffLower(t)
	upper, view := overlayChanges(t, lower, func(t *testing.T, root string) { mutate(t, root); replaceDir(t, root) })

	var buf bytes.Buffer
	mustDo(t, Diff(&buf, upper))
	entries := readTar(t, buf.Bytes())
	want := []string{
		"bin/", "bin/tool",
		"etc/", "etc/.wh.gone", "etc/new", "etc/passwd",
		"newdir/", "newdir/a", "newdir/b", "newdir/fifo",
		"newlink",
		"opq/", "opq/.wh..wh..opq", "opq/new",
		"var/", "var/.wh.cache",
	}
	if got := tarNames(entries); !slices.Equal(got, want) {
		t.Fatalf("entries:\n got  %v\n want %v", got, want)
	}
	byName := map[string]tarEntry{}
	for _, e := range entries {
		byName[e.Name] = e
	}
	if e := byName["newdir/b"]; e.Type != tar.TypeLink || e.Link != "newdir/a" {
		t.Errorf("newdir/b: %v, want a hard link to newdir/a", e)
	}
	if e := byName["bin/tool"]; e.Mode != 0o4711 || e.UID != 5 || e.GID != 6 {
		t.Errorf("bin/tool: %v", e)
	}
	if e := byName["etc/new"]; e.Xattrs != "user.tag=v" {
		t.Errorf("etc/new: %v", e)
	}
	for _, e := range entries {
		if strings.Contains(e.Xattrs, "overlay") {
			t.Errorf("%s carries overlayfs's attributes: %s", e.Name, e.Xattrs)
		}
	}

	// The layer applied to the lower tree gives the merged view.
	dst := filepath.Join(t.TempDir(), "dst")
	copyTree(t, lower, dst)
	info, err := Apply(dst, bytes.NewReader(buf.Bytes()), ApplyOptions{})
	mustDo(t, err)
	if info.DiffID != sha256Digest(buf.Bytes()) {
		t.Errorf("diffID %s is not the sha256 of the diff", info.DiffID)
	}
	if d := diffSnapshots(noSockets(view), snapshotTree(t, dst, treeOpts{})); d != "" {
		t.Errorf("applied diff differs from the merged view:\n%s", d)
	}

	// Same tree, same bytes.
	var again bytes.Buffer
	mustDo(t, Diff(&again, upper))
	if !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Error("Diff of the same tree gave different bytes")
	}
}

func TestDiffTreesMatchesDiff(t *testing.T) {
	requireRoot(t)
	lower := diffLower(t)
	upper, _ := overlayChanges(t, lower, mutate)
	var ov bytes.Buffer
	mustDo(t, Diff(&ov, upper))

	vfs := filepath.Join(t.TempDir(), "vfs")
	copyTree(t, lower, vfs)
	mutate(t, vfs)
	var tr bytes.Buffer
	mustDo(t, DiffTrees(&tr, lower, vfs))

	a, b := readTar(t, ov.Bytes()), readTar(t, tr.Bytes())
	if !slices.Equal(a, b) {
		t.Fatalf("Diff and DiffTrees differ:\n Diff:\n%s\n DiffTrees:\n%s", joinEntries(a), joinEntries(b))
	}
}

func TestDiffTreesApplies(t *testing.T) {
	requireRoot(t)
	lower := diffLower(t)
	vfs := filepath.Join(t.TempDir(), "vfs")
	copyTree(t, lower, vfs)
	mutate(t, vfs)
	replaceDir(t, vfs)
	// Type changes both ways, and a changed symlink target.
	mustDo(t, os.RemoveAll(filepath.Join(vfs, "var/log")))
	writeFile(t, filepath.Join(vfs, "var/log"), "now a file", 0o644)
	mustDo(t, os.Remove(filepath.Join(vfs, "etc/group")))
	writeFile(t, filepath.Join(vfs, "etc/group/inner"), "now a dir", 0o644)

	var buf bytes.Buffer
	mustDo(t, DiffTrees(&buf, lower, vfs))
	dst := filepath.Join(t.TempDir(), "dst")
	copyTree(t, lower, dst)
	_, err := Apply(dst, bytes.NewReader(buf.Bytes()), ApplyOptions{})
	mustDo(t, err)
	want := noSockets(snapshotTree(t, vfs, treeOpts{}))
	if d := diffSnapshots(want, snapshotTree(t, dst, treeOpts{})); d != "" {
		t.Errorf("applied DiffTrees differs from the changed tree:\n%s\nentries:\n%s", d, joinEntries(readTar(t, buf.Bytes())))
	}
	for _, e := range readTar(t, buf.Bytes()) {
		if strings.HasPrefix(e.Name, "untouched") {
			t.Errorf("unchanged %s in the diff", e.Name)
		}
	}
}

func TestChangesOverlay(t *testing.T) {
	requireRoot(t)
	lower := diffLower(t)
	upper, _ := overlayChanges(t, lower, func(t *testing.T, root string) { mutate(t, root); replaceDir(t, root) })
	exists := func(p string) bool {
		_, err := os.Lstat(filepath.Join(lower, p))
		return err == nil
	}
	got, err := Changes(upper, exists)
	mustDo(t, err)
	want := []string{
		"C /bin", "C /bin/tool", "C /etc", "D /etc/gone", "A /etc/new", "C /etc/passwd",
		"A /newdir", "A /newdir/a", "A /newdir/b", "A /newdir/fifo", "A /newdir/sock", "A /newlink",
		"D /opq", "A /opq/new", "C /var", "D /var/cache",
	}
	if s := changeStrings(got); !slices.Equal(s, want) {
		t.Fatalf("changes:\n got  %v\n want %v", s, want)
	}
}

func TestChangesTrees(t *testing.T) {
	requireRoot(t)
	lower := diffLower(t)
	vfs := filepath.Join(t.TempDir(), "vfs")
	copyTree(t, lower, vfs)
	mutate(t, vfs)
	replaceDir(t, vfs)
	got, err := ChangesTrees(lower, vfs)
	mustDo(t, err)
	want := []string{
		"C /bin", "C /bin/tool", "C /etc", "D /etc/gone", "A /etc/new", "C /etc/passwd",
		"A /newdir", "A /newdir/a", "A /newdir/b", "A /newdir/fifo", "A /newdir/sock", "A /newlink",
		"C /opq", "A /opq/new", "D /opq/old1", "D /opq/sub", "C /var", "D /var/cache",
	}
	if s := changeStrings(got); !slices.Equal(s, want) {
		t.Fatalf("changes:\n got  %v\n want %v", s, want)
	}
}

func changeStrings(c []Change) []string {
	var out []string
	for _, x := range c {
		out = append(out, x.String())
	}
	return out
}

func joinEntries(es []tarEntry) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString("  " + e.String() + "\n")
	}
	return b.String()
}
