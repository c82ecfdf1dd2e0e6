package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
)

var (
	t1 = time.Date(2020, 1, 2, 3, 4, 5, 600000000, time.UTC)
	t2 = time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC)
)

func with(e ent, f func(h *tar.Header)) ent { f(&e.hdr); return e }

func owned(e ent, uid, gid int, mode int64, mtime time.Time) ent {
	return with(e, func(h *tar.Header) {
		h.Uid, h.Gid, h.Mode, h.ModTime = uid, gid, mode, mtime
		h.Format = tar.FormatPAX // keeps nanoseconds
	})
}

func xattrs(e ent, kv ...string) ent {
	return with(e, func(h *tar.Header) {
		h.PAXRecords = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			h.PAXRecords[paxXattr+kv[i]] = kv[i+1]
		}
	})
}

func applyLayer(t *testing.T, dir string, format WhiteoutFormat, ents ...ent) LayerInfo {
	t.Helper()
	info, err := Apply(dir, bytes.NewReader(makeTar(t, ents...)), ApplyOptions{Whiteouts: format})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return info
}

func TestApplyEntries(t *testing.T) {
	requireRoot(t)
	tgt := t.TempDir()
	applyLayer(t, tgt, WhiteoutDelete,
		owned(dir("etc/"), 0, 0, 0o755, t1),
		owned(file("etc/passwd", "root:x:0:0\n"), 0, 0, 0o644, t1),
		owned(file("usr/bin/su", "setuid"), 0, 0, 0o4755, t2),
		owned(file("usr/bin/wall", "setgid"), 0, 5, 0o2711, t2),
		owned(dir("tmp/"), 0, 0, 0o1777, t2),
		owned(file("home/user/.profile", "x"), 1000, 1001, 0o600, t1),
		owned(symlink("etc/localtime", "/usr/share/zoneinfo/UTC"), 7, 8, 0o777, t1),
		owned(symlink("lib", "usr/lib"), 0, 0, 0o777, t1),
		hardlink("etc/passwd-link", "etc/passwd"),
		owned(special("run/fifo", tar.TypeFifo), 3, 4, 0o640, t1),
		xattrs(owned(file("usr/bin/ping", "ping"), 0, 0, 0o755, t1), "security.capability", "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "user.note", "hello"),
		xattrs(owned(dir("opt/"), 0, 0, 0o755, t2), "trusted.strata", "t", "trusted.overlay.opaque", "y"),
		owned(dir("usr/"), 0, 0, 0o755, t2), // after its contents
	)
	got := snapshotTree(t, tgt, treeOpts{dirMtimes: true})
	sec1, sec2 := t1.Unix(), t2.Unix()
	check := func(p string, want entryInfo) {
		t.Helper()
		g := got[p]
		g.Sum, g.LinkSet = "", ""
		if g != want {
			t.Errorf("%s:\n got  %+v\n want %+v", p, g, want)
		}
	}
	check("etc", entryInfo{Type: "dir", Mode: 0o755, Mtime: sec1})
	check("etc/passwd", entryInfo{Type: "file", Mode: 0o644, Size: 11, Mtime: sec1})
	check("usr/bin/su", entryInfo{Type: "file", Mode: 0o4755, Size: 6, Mtime: sec2})
	check("usr/bin/wall", entryInfo{Type: "file", Mode: 0o2711, GID: 5, Size: 6, Mtime: sec2})
	check("tmp", entryInfo{Type: "dir", Mode: 0o1777, Mtime: sec2})
	check("home/user/.profile", entryInfo{Type: "file", Mode: 0o600, UID: 1000, GID: 1001, Size: 1, Mtime: sec1})
	check("etc/localtime", entryInfo{Type: "symlink", Mode: 0o777, UID: 7, GID: 8, Link: "/usr/share/zoneinfo/UTC"})
	check("run/fifo", entryInfo{Type: "fifo", Mode: 0o640, UID: 3, GID: 4, Mtime: sec1})
	check("usr/bin/ping", entryInfo{Type: "file", Mode: 0o755, Size: 4, Mtime: sec1,
		Xattrs: "security.capability=\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00;user.note=hello"})
	check("opt", entryInfo{Type: "dir", Mode: 0o755, Mtime: sec2, Xattrs: "trusted.strata=t"})
	check("usr", entryInfo{Type: "dir", Mode: 0o755, Mtime: sec2})
	if ls := got["etc/passwd"].LinkSet; ls != "etc/passwd,etc/passwd-link" {
		t.Errorf("hard link set %q", ls)
	}
	var st unix.Stat_t
	mustDo(t, unix.Lstat(filepath.Join(tgt, "etc/passwd"), &st))
	if st.Mtim.Nsec != 600000000 {
		t.Errorf("mtime nanoseconds %d, want 600000000", st.Mtim.Nsec)
	}
	// A directory made implicitly exists, mode 0755.
	check("home", entryInfo{Type: "dir", Mode: 0o755, Mtime: got["home"].Mtime})
}

func TestApplyReplaces(t *testing.T) {
	requireRoot(t)
	tgt := t.TempDir()
	writeFile(t, filepath.Join(tgt, "f2d/x"), "", 0o644)
	mustDo(t, os.RemoveAll(filepath.Join(tgt, "f2d")))
	writeFile(t, filepath.Join(tgt, "f2d"), "file", 0o644)
	writeFile(t, filepath.Join(tgt, "d2f/deep/x"), "old", 0o644)
	writeFile(t, filepath.Join(tgt, "merge/old"), "old", 0o644)
	writeFile(t, filepath.Join(tgt, "target"), "must stay", 0o644)
	mustDo(t, os.Symlink("target", filepath.Join(tgt, "l2f")))
	mustDo(t, os.Symlink("merge", filepath.Join(tgt, "l2d")))
	writeFile(t, filepath.Join(tgt, "f2l"), "file", 0o644)
	writeFile(t, filepath.Join(tgt, "hl"), "old hl", 0o644)

	applyLayer(t, tgt, WhiteoutDelete,
		dir("f2d/"), file("f2d/new", "n"),
		file("d2f", "now a file"),
		owned(dir("merge/"), 0, 0, 0o700, t1), file("merge/new", "n"),
		file("l2f", "replaced the symlink"),
		dir("l2d/"), file("l2d/inside", "i"),
		symlink("f2l", "target"),
		hardlink("hl", "target"),
	)
	got := snapshotTree(t, tgt, treeOpts{noMtimes: true})
	want := map[string]string{
		"f2d": "dir", "f2d/new": "file", "d2f": "file", "merge": "dir", "merge/old": "file", "merge/new": "file",
		"l2f": "file", "l2d": "dir", "l2d/inside": "file", "f2l": "symlink", "hl": "file", "target": "file",
	}
	for p, typ := range want {
		if got[p].Type != typ {
			t.Errorf("%s is %q, want %q", p, got[p].Type, typ)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d entries, want %d: %v", len(got), len(want), got)
	}
	if b, _ := os.ReadFile(filepath.Join(tgt, "target")); string(b) != "must stay" {
		t.Errorf("the symlink target was written through: %q", b)
	}
	if got["merge"].Mode != 0o700 {
		t.Errorf("merged directory mode %o", got["merge"].Mode)
	}
	if got["hl"].LinkSet != "hl,target" {
		t.Errorf("hard link over a file: link set %q", got["hl"].LinkSet)
	}
}

func TestApplyDiffIDMatchesScan(t *testing.T) {
	requireRoot(t)
	raw, n := richLayer(t)
	for _, c := range []Compression{Uncompressed, Gzip, Zstd} {
		for _, f := range []WhiteoutFormat{WhiteoutDelete, WhiteoutOverlay} {
			src := compress(t, c, raw)
			want, err := Scan(bytes.NewReader(src), nil, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := Apply(t.TempDir(), bytes.NewReader(src), ApplyOptions{Whiteouts: f})
			if err != nil {
				t.Fatalf("%v: %v", c, err)
			}
			if got != want || got.Entries != n {
				t.Errorf("%v format %d: Apply %+v, Scan %+v", c, f, got, want)
			}
		}
	}
}

func TestApplyLimits(t *testing.T) {
	requireRoot(t)
	raw, _ := richLayer(t)
	_, err := Apply(t.TempDir(), bytes.NewReader(raw), ApplyOptions{Limits: Limits{MaxSize: 500000}})
	if !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("got %v, want ErrLimitExceeded", err)
	}
	_, err = Apply(t.TempDir(), bytes.NewReader(raw), ApplyOptions{Limits: Limits{MaxEntries: 3}})
	if !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("got %v, want ErrLimitExceeded", err)
	}
	src := compress(t, Gzip, raw)
	_, err = Apply(t.TempDir(), bytes.NewReader(src[:len(src)/2]), ApplyOptions{})
	if !errors.Is(err, errdefs.ErrCorrupt) || !strings.Contains(err.Error(), "gzip stream is truncated") {
		t.Fatalf("truncated: got %v", err)
	}
}

// hostileLayers are the layers Scan refuses (see TestScanRefuses).
var hostileLayers = []struct {
	name string
	ents []ent
}{
	{"dot-dot", []ent{file("ok", ""), file("../sentinel/secret", "x")}},
	{"dot-dot inside", []ent{file("a/../../sentinel/x", "")}},
	{"absolute", []ent{file("/etc/x", "")}},
	{"char device", []ent{special("dev/null", tar.TypeChar)}},
	{"block device", []ent{special("dev/sda", tar.TypeBlock)}},
	{"unknown type", []ent{special("z", 'Z')}},
	{"hard link absolute", []ent{hardlink("x", "/etc/shadow")}},
	{"hard link escapes", []ent{hardlink("x", "a/../../sentinel/secret")}},
	{"symlink no target", []ent{symlink("x", "")}},
	{"through symlink", []ent{symlink("a", "../sentinel"), file("a/secret", "x")}},
	{"through symlink dir", []ent{symlink("a", "../sentinel"), dir("a/b/")}},
	{"through nested symlink", []ent{dir("d/"), symlink("d/l", "../../sentinel"), file("d/l/x", "")}},
	{"through symlink cleaned", []ent{symlink("a", "/"), file("b/../a/x", "")}},
	{"hard link target through symlink", []ent{symlink("a", "../sentinel"), hardlink("x", "a/secret")}},
	{"hard link to symlink", []ent{symlink("a", "../sentinel"), hardlink("b", "a"), file("b/secret", "")}},
	{"whiteout keeps symlink", []ent{symlink("a", "../sentinel"), file(".wh.a", ""), file("a/secret", "")}},
	{"whiteout of parent", []ent{file("d/.wh..", "")}},
	{"root as symlink", []ent{symlink("./", "../sentinel")}},
}

func TestApplyRefusesWhatScanRefuses(t *testing.T) {
	requireRoot(t)
	for _, tc := range hostileLayers {
		for _, f := range []WhiteoutFormat{WhiteoutDelete, WhiteoutOverlay} {
			raw := makeTar(t, tc.ents...)
			_, scanErr := Scan(bytes.NewReader(raw), nil, Limits{})
			var want *EntryError
			if !errors.As(scanErr, &want) {
				t.Fatalf("%s: Scan gave %v, want an *EntryError", tc.name, scanErr)
			}
			s, root := newSentinel(t)
			_, err := Apply(root, bytes.NewReader(raw), ApplyOptions{Whiteouts: f})
			var got *EntryError
			if !errors.As(err, &got) || *got != *want {
				t.Errorf("%s: Apply gave %v, Scan %v", tc.name, err, scanErr)
			}
			s.check(t)
		}
	}
}

// TestApplyPreexistingSymlinks: symlinks already in the target (from the
// layers below, in a vfs copy) resolve inside it.
func TestApplyPreexistingSymlinks(t *testing.T) {
	requireRoot(t)
	cases := []struct {
		name  string
		ents  []ent
		check func(t *testing.T, root, outside string)
	}{
		{"write through dangling absolute symlink", []ent{file("etc/passwd", "evil")}, nil},
		{"write through absolute symlink", []ent{dir("tmp/"), file("etc/passwd", "evil")}, func(t *testing.T, root, outside string) {
			b, err := os.ReadFile(filepath.Join(root, outside, "passwd"))
			if err != nil || string(b) != "evil" {
				t.Errorf("etc/passwd did not land inside the root: %v", err)
			}
		}},
		{"write through relative symlink", []ent{file("rel/x", "evil")}, func(t *testing.T, root, _ string) {
			if b, err := os.ReadFile(filepath.Join(root, "x")); err != nil || string(b) != "evil" {
				t.Errorf("rel/x: ../.. should resolve to the root: %v", err)
			}
		}},
		{"write through dangling relative symlink", []ent{file("relsent/secret", "evil")}, nil},
		{"hard link through relative symlink", []ent{hardlink("stolen", "relsent/secret")}, nil},
		{"dir through symlink", []ent{dir("etc/sub/"), file("etc/sub/f", "")}, nil},
		{"hard link through symlink", []ent{hardlink("stolen", "etc/secret")}, nil},
		{"symlink replaced", []ent{file("etc", "now a file")}, func(t *testing.T, root, _ string) {
			if b, err := os.ReadFile(filepath.Join(root, "etc")); err != nil || string(b) != "now a file" {
				t.Errorf("etc was not replaced: %v", err)
			}
		}},
		{"whiteout of symlink", []ent{file(".wh.etc", "")}, func(t *testing.T, root, _ string) {
			// Deleted (WhiteoutDelete) or an overlay whiteout (WhiteoutOverlay).
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(root, "etc"), &st); err == nil && !isWhiteoutDevice(&st) {
				t.Errorf("etc still there: mode %o", st.Mode)
			}
		}},
		{"whiteout through symlink", []ent{file("etc/.wh.secret", "")}, nil},
		{"opaque through symlink", []ent{file("etc/.wh..wh..opq", "")}, nil},
		{"symlink then file through it", []ent{symlink("etc/x", "/"), file("etc/y", "")}, nil},
	}
	for _, tc := range cases {
		for _, f := range []WhiteoutFormat{WhiteoutDelete, WhiteoutOverlay} {
			s, root := newSentinel(t)
			mustDo(t, os.Symlink(s.dir, filepath.Join(root, "etc")))
			mustDo(t, os.Symlink("../..", filepath.Join(root, "rel")))
			mustDo(t, os.Symlink("../../sentinel", filepath.Join(root, "relsent")))
			if tc.name == "write through absolute symlink" {
				mustDo(t, os.MkdirAll(filepath.Join(root, s.dir), 0o755))
			}
			_, err := Apply(root, bytes.NewReader(makeTar(t, tc.ents...)), ApplyOptions{Whiteouts: f})
			s.check(t)
			if tc.check != nil {
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				tc.check(t, root, s.dir)
			}
		}
	}
}

func TestApplyAufsMetadata(t *testing.T) {
	requireRoot(t)
	tgt := t.TempDir()
	applyLayer(t, tgt, WhiteoutDelete, dir(".wh..wh.plnk/"), file(".wh..wh.plnk/123.456", "x"), file("d/.wh..wh.aufs", ""), file("d/kept", "k"))
	got := snapshotTree(t, tgt, treeOpts{noMtimes: true})
	if len(got) != 2 || got["d/kept"].Type != "file" {
		t.Fatalf("got %v, want only d and d/kept", got)
	}
}

func TestApplySparse(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("GNU tar writes the sparse files; archive/tar cannot")
	}
	src := t.TempDir()
	p := filepath.Join(src, "sparse")
	f, err := os.Create(p)
	mustDo(t, err)
	_, err = f.WriteAt([]byte("middle"), 5<<20)
	mustDo(t, err)
	mustDo(t, f.Truncate(10<<20))
	mustDo(t, f.Close())
	for _, format := range []string{"pax", "gnu"} {
		out, err := exec.Command("tar", "--sparse", "--format="+format, "-C", src, "-cf", "-", "sparse").Output()
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		if len(out) > 1<<20 {
			t.Skipf("tar did not write a sparse entry (%d bytes)", len(out))
		}
		dst := t.TempDir()
		if _, err := Apply(dst, bytes.NewReader(out), ApplyOptions{}); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		var st unix.Stat_t
		mustDo(t, unix.Stat(filepath.Join(dst, "sparse"), &st))
		b, err := os.ReadFile(filepath.Join(dst, "sparse"))
		mustDo(t, err)
		if st.Size != 10<<20 || string(b[5<<20:5<<20+6]) != "middle" || strings.Trim(string(b[:5<<20]), "\x00") != "" {
			t.Fatalf("%s: size %d, content wrong", format, st.Size)
		}
		if st.Blocks*512 > 1<<20 {
			t.Errorf("%s: %d bytes allocated for a file of 6 data bytes", format, st.Blocks*512)
		}
		// A sparse file larger than the size limit is refused.
		_, err = Apply(t.TempDir(), bytes.NewReader(out), ApplyOptions{Limits: Limits{MaxSize: 1 << 20}})
		if !errors.Is(err, errdefs.ErrLimitExceeded) {
			t.Errorf("%s: over the limit: %v", format, err)
		}
	}
}
