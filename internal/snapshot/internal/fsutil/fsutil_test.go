package fsutil

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the tree has other owners, devices and trusted xattrs")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// tree builds a directory with every kind of entry a layer can hold.
func tree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	p := func(name string) string { return filepath.Join(src, name) }
	must(t, os.MkdirAll(p("usr/bin"), 0o755))
	must(t, os.MkdirAll(p("tmp"), 0o755))
	must(t, os.MkdirAll(p("srv/shared"), 0o755))
	must(t, os.WriteFile(p("usr/bin/su"), []byte("setuid binary"), 0o644))
	must(t, os.WriteFile(p("usr/bin/ping"), []byte("capable"), 0o755))
	must(t, os.WriteFile(p("empty"), nil, 0o600))
	must(t, os.WriteFile(p("big"), []byte(strings.Repeat("0123456789", 100_000)), 0o644))
	must(t, os.Link(p("usr/bin/su"), p("usr/bin/su-link")))
	must(t, os.Symlink("bin/su", p("usr/su-symlink")))
	must(t, os.Link(p("usr/su-symlink"), p("usr/su-symlink-link")))
	must(t, os.Symlink("/nowhere", p("dangling")))
	must(t, unix.Mknod(p("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(t, unix.Mknod(p("whiteout"), unix.S_IFCHR, 0))
	must(t, unix.Mknod(p("loop"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 0))))
	must(t, unix.Mkfifo(p("fifo"), 0o640))
	must(t, unix.Mknod(p("sock"), unix.S_IFSOCK|0o755, 0))
	must(t, os.Lchown(p("srv/shared"), 1000, 1001))
	must(t, os.Lchown(p("usr/su-symlink"), 7, 8))
	must(t, os.Chown(p("big"), 65534, 65534))
	must(t, unix.Chmod(p("usr/bin/su"), 0o4755))
	must(t, unix.Chmod(p("srv/shared"), 0o2775))
	must(t, unix.Chmod(p("tmp"), 0o1777))
	must(t, unix.Lsetxattr(p("usr/bin/ping"), "security.capability", capNetRaw, 0))
	must(t, unix.Lsetxattr(p("srv"), "trusted.overlay.opaque", []byte("y"), 0))
	must(t, unix.Lsetxattr(p("big"), "user.note", []byte(strings.Repeat("v", 3000)), 0))
	must(t, unix.Lsetxattr(p("usr/su-symlink"), "trusted.link", []byte("on a symlink"), 0))
	// Times last, deepest first, at nanosecond precision.
	var paths []string
	must(t, filepath.WalkDir(src, func(path string, _ fs.DirEntry, err error) error {
		paths = append(paths, path)
		return err
	}))
	for i := len(paths) - 1; i >= 0; i-- {
		ts := []unix.Timespec{{Sec: 1_000_000 + int64(i), Nsec: 123}, {Sec: 2_000_000 + int64(i), Nsec: 456789}}
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, paths[i], ts, unix.AT_SYMLINK_NOFOLLOW))
	}
	return src
}

// a VFS_CAP_REVISION_2 capability set with cap_net_raw permitted.
var capNetRaw = []byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// describe lists every entry under root with what a copy must keep, and the
// hard-link groups as sets of paths.
func describe(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	groups := map[uint64][]string{}
	must(t, filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		var st unix.Stat_t
		must(t, unix.Lstat(path, &st))
		desc := fmt.Sprintf("mode=%#o uid=%d gid=%d rdev=%d size=%d mtime=%d.%09d nlink=%d",
			st.Mode, st.Uid, st.Gid, st.Rdev, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Nlink)
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			b, err := os.ReadFile(path)
			must(t, err)
			desc += fmt.Sprintf(" data=%x", b[:min(len(b), 32)])
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			target, err := os.Readlink(path)
			must(t, err)
			desc += " -> " + target
		}
		names, err := xattrNames(func(b []byte) (int, error) { return unix.Llistxattr(path, b) })
		must(t, err)
		sort.Strings(names)
		for _, n := range names {
			v, err := sized(func(b []byte) (int, error) { return unix.Lgetxattr(path, n, b) })
			must(t, err)
			desc += fmt.Sprintf(" %s=%q", n, v)
		}
		out[rel] = desc
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			groups[st.Ino] = append(groups[st.Ino], rel)
		}
		return nil
	}))
	for _, g := range groups {
		if len(g) > 1 {
			sort.Strings(g)
			out["link-group "+g[0]] = strings.Join(g, " ")
		}
	}
	return out
}

func TestCopyDir(t *testing.T) {
	requireRoot(t)
	src := tree(t)
	dst := filepath.Join(t.TempDir(), "dst")
	must(t, CopyDir(t.Context(), dst, src))
	want, got := describe(t, src), describe(t, dst)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s:\n got %s\nwant %s", k, got[k], w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("extra entry %s", k)
		}
	}
	if _, ok := want["link-group usr/bin/su"]; !ok {
		t.Fatal("the test tree lost its hard links")
	}
}

func TestCopyDirSharesNoInode(t *testing.T) {
	requireRoot(t)
	src := tree(t)
	dst := filepath.Join(t.TempDir(), "dst")
	must(t, CopyDir(t.Context(), dst, src))
	srcInodes := map[uint64]string{}
	must(t, filepath.WalkDir(src, func(path string, _ fs.DirEntry, err error) error {
		var st unix.Stat_t
		must(t, unix.Lstat(path, &st))
		srcInodes[st.Ino] = path
		return err
	}))
	must(t, filepath.WalkDir(dst, func(path string, _ fs.DirEntry, err error) error {
		var st unix.Stat_t
		must(t, unix.Lstat(path, &st))
		if other, ok := srcInodes[st.Ino]; ok {
			t.Errorf("%s shares its inode with %s", path, other)
		}
		return err
	}))
	must(t, os.WriteFile(filepath.Join(dst, "usr/bin/su-link"), []byte("changed"), 0o644))
	if b, _ := os.ReadFile(filepath.Join(src, "usr/bin/su")); string(b) != "setuid binary" {
		t.Fatalf("writing the copy changed the source: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "usr/bin/su")); string(b) != "changed" {
		t.Fatalf("the copy's hard links are not linked: %q", b)
	}
}

func TestCopyDirRefusals(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "file"), nil, 0o644))
	if err := CopyDir(t.Context(), filepath.Join(dir, "x"), filepath.Join(dir, "file")); err == nil {
		t.Fatal("copied a file as a directory")
	}
	if err := CopyDir(t.Context(), dir, t.TempDir()); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("copy onto an existing directory: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := CopyDir(ctx, filepath.Join(dir, "y"), dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("copy with a canceled context: %v", err)
	}
}

func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "a"), make([]byte, 64<<10), 0o644))
	must(t, os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "b")))
	must(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	must(t, os.Symlink("a", filepath.Join(dir, "d/s")))
	size, inodes, err := DiskUsage(dir)
	must(t, err)
	var want int64
	for _, p := range []string{"", "a", "d", "d/s"} { // b is a
		var st unix.Stat_t
		must(t, unix.Lstat(filepath.Join(dir, p), &st))
		want += st.Blocks * 512
	}
	if inodes != 4 || size != want || size < 64<<10 {
		t.Fatalf("DiskUsage = %d bytes, %d inodes; want %d bytes, 4 inodes", size, inodes, want)
	}
	if _, _, err := DiskUsage(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("usage of a missing dir: %v", err)
	}
}

// TestReadWrite covers the fallback for filesystems without copy_file_range.
func TestReadWrite(t *testing.T) {
	dir := t.TempDir()
	data := []byte(strings.Repeat("abcdefghij", 70_000))
	must(t, os.WriteFile(filepath.Join(dir, "in"), data, 0o644))
	in, err := unix.Open(filepath.Join(dir, "in"), unix.O_RDONLY, 0)
	must(t, err)
	defer unix.Close(in)
	out, err := unix.Open(filepath.Join(dir, "out"), unix.O_WRONLY|unix.O_CREAT, 0o644)
	must(t, err)
	must(t, readWrite(out, in))
	must(t, unix.Close(out))
	got, err := os.ReadFile(filepath.Join(dir, "out"))
	must(t, err)
	if string(got) != string(data) {
		t.Fatalf("copied %d bytes, want %d", len(got), len(data))
	}
}
