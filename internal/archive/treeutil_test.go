package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: extraction sets owners, trusted.* attributes and device nodes")
	}
}

// entryInfo describes one file of a tree for comparisons.
type entryInfo struct {
	Type    string
	Mode    uint32 // permission bits incl. setuid/setgid/sticky
	UID     uint32
	GID     uint32
	Size    int64
	Sum     string // sha256 of the content of a regular file
	Link    string // symlink target
	Rdev    uint64
	Mtime   int64 // seconds; 0 when ignored
	Xattrs  string
	LinkSet string // other paths of the same inode, for hard links
}

type treeOpts struct {
	dirMtimes  bool // compare directory mtimes too
	noMtimes   bool
	skipXattrs bool
}

// snapshotTree describes every entry below root (root itself left out).
func snapshotTree(t testing.TB, root string, o treeOpts) map[string]entryInfo {
	t.Helper()
	out := map[string]entryInfo{}
	inodes := map[uint64][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		e := entryInfo{Mode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			e.Type, e.Size = "file", st.Size
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			e.Sum = hex.EncodeToString(sum[:8])
			if st.Nlink > 1 {
				inodes[st.Ino] = append(inodes[st.Ino], rel)
			}
		case unix.S_IFDIR:
			e.Type = "dir"
		case unix.S_IFLNK:
			e.Type = "symlink"
			e.Link, _ = os.Readlink(p)
		case unix.S_IFIFO:
			e.Type = "fifo"
		case unix.S_IFCHR:
			e.Type, e.Rdev = "char", st.Rdev
		case unix.S_IFBLK:
			e.Type, e.Rdev = "block", st.Rdev
		case unix.S_IFSOCK:
			e.Type = "socket"
		}
		// Whiteout devices are made "now": their time says nothing.
		if !o.noMtimes && (e.Type != "dir" || o.dirMtimes) && e.Type != "symlink" && e.Type != "char" {
			e.Mtime = st.Mtim.Sec
		}
		if !o.skipXattrs {
			e.Xattrs = xattrString(t, p)
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	for _, paths := range inodes {
		sort.Strings(paths)
		for _, p := range paths {
			e := out[p]
			e.LinkSet = strings.Join(paths, ",")
			out[p] = e
		}
	}
	return out
}

func xattrString(t testing.TB, p string) string {
	x := xattrReader{fd: -1, path: p}
	recs, err := x.records()
	if err != nil {
		t.Fatalf("xattrs of %s: %v", p, err)
	}
	var parts []string
	for k, v := range recs {
		parts = append(parts, strings.TrimPrefix(k, paxXattr)+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ";")
}

// diffTrees reports how two tree snapshots differ, "" when they are equal.
func diffSnapshots(want, got map[string]entryInfo) string {
	var b strings.Builder
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		w, wok := want[k]
		g, gok := got[k]
		switch {
		case !gok:
			fmt.Fprintf(&b, "missing %s %+v\n", k, w)
		case !wok:
			fmt.Fprintf(&b, "extra %s %+v\n", k, g)
		case w != g:
			fmt.Fprintf(&b, "differs %s:\n  want %+v\n  got  %+v\n", k, w, g)
		}
	}
	return b.String()
}

// tarEntry is a tar entry read back for checks.
type tarEntry struct {
	Name     string
	Type     byte
	Mode     int64
	UID, GID int
	Size     int64
	Link     string
	Sum      string
	Xattrs   string
}

func (e tarEntry) String() string {
	return fmt.Sprintf("%s %c mode=%o uid=%d gid=%d size=%d link=%q sum=%s xattrs=%q", e.Name, e.Type, e.Mode, e.UID, e.GID, e.Size, e.Link, e.Sum, e.Xattrs)
}

func readTar(t testing.TB, raw []byte) []tarEntry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(raw))
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		e := tarEntry{Name: hdr.Name, Type: hdr.Typeflag, Mode: hdr.Mode, UID: hdr.Uid, GID: hdr.Gid, Size: hdr.Size, Link: hdr.Linkname}
		if hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			e.Sum = hex.EncodeToString(sum[:8])
		}
		var xs []string
		for k, v := range hdr.PAXRecords {
			if strings.HasPrefix(k, paxXattr) {
				xs = append(xs, strings.TrimPrefix(k, paxXattr)+"="+v)
			}
		}
		slices.Sort(xs)
		e.Xattrs = strings.Join(xs, ";")
		out = append(out, e)
	}
}

func tarNames(entries []tarEntry) []string {
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	return names
}

// copyTree copies src to dst (which must not exist) with cp -a, which
// keeps owners, modes, times, xattrs and hard links.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	out, err := exec.Command("cp", "-a", "--", src, dst).CombinedOutput()
	if err != nil {
		t.Fatalf("cp -a %s %s: %v: %s", src, dst, err, out)
	}
}

func writeFile(t testing.TB, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sentinel is a directory next to an extraction root, with one file, that
// no extraction may change.
type sentinel struct {
	parent, dir string
	want        map[string]entryInfo
}

func newSentinel(t testing.TB) (*sentinel, string) {
	t.Helper()
	parent := t.TempDir()
	s := &sentinel{parent: parent, dir: filepath.Join(parent, "sentinel")}
	writeFile(t, filepath.Join(s.dir, "secret"), "do not touch", 0o644)
	root := filepath.Join(parent, "root")
	mustDo(t, os.Mkdir(root, 0o755))
	s.want = snapshotTree(t, s.dir, treeOpts{dirMtimes: true})
	return s, root
}

// check fails if anything outside root changed.
func (s *sentinel) check(t testing.TB) {
	t.Helper()
	if d := diffSnapshots(s.want, snapshotTree(t, s.dir, treeOpts{dirMtimes: true})); d != "" {
		t.Fatalf("the sentinel outside the root changed:\n%s", d)
	}
	ents, err := os.ReadDir(s.parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "root" && e.Name() != "sentinel" && e.Name() != "root2" {
			t.Fatalf("%s was created outside the root", e.Name())
		}
	}
}
