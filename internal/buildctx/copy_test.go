package buildctx

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
)

// readTree is writeTree's inverse: every entry below root.
func readTree(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "->" + target
		case d.IsDir():
			out[rel+"/"] = ""
		default:
			out[rel] = readFile(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var copySrc = map[string]string{
	"a.txt":           "alpha",
	"b.txt":           "beta",
	"dir/x":           "x",
	"dir/sub/y":       "y",
	"dir/ln":          "->x",
	"dir/abs":         "->/etc/passwd",
	"other/z":         "z",
	"link-to-a":       "->a.txt",
	"link-to-dir":     "->dir",
	".dockerignore":   "*.log\n**/skip\n",
	"noise.log":       "n",
	"dir/skip":        "s",
	"dir/keep.log/":   "",
	"dir/keep.log/in": "i",
}

func TestCopyRules(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	writeTree(t, src, copySrc)
	ctx := openCtx(t, src)
	cases := []struct {
		name   string
		srcs   []string
		dest   string
		before map[string]string // the destination root before
		want   map[string]string // the destination root after
		follow bool
		err    error
	}{
		{name: "file to file", srcs: []string{"a.txt"}, dest: "/new",
			want: map[string]string{"new": "alpha"}},
		{name: "file to file in new dirs", srcs: []string{"a.txt"}, dest: "/x/y/new",
			want: map[string]string{"x/": "", "x/y/": "", "x/y/new": "alpha"}},
		{name: "file to dir/", srcs: []string{"a.txt"}, dest: "/app/",
			want: map[string]string{"app/": "", "app/a.txt": "alpha"}},
		{name: "file to existing dir", srcs: []string{"a.txt"}, dest: "/app",
			before: map[string]string{"app/": ""},
			want:   map[string]string{"app/": "", "app/a.txt": "alpha"}},
		{name: "file replaces file", srcs: []string{"a.txt"}, dest: "/app/a.txt",
			before: map[string]string{"app/a.txt": "old"},
			want:   map[string]string{"app/": "", "app/a.txt": "alpha"}},
		{name: "file replaces symlink", srcs: []string{"a.txt"}, dest: "/app/",
			before: map[string]string{"app/a.txt": "->/etc/passwd"},
			want:   map[string]string{"app/": "", "app/a.txt": "alpha"}},
		{name: "file over directory", srcs: []string{"a.txt"}, dest: "/app/",
			before: map[string]string{"app/a.txt/": ""}, err: errdefs.ErrConflict},
		{name: "root", srcs: []string{"."}, dest: "/app",
			want: map[string]string{"app/": "", "app/a.txt": "alpha", "app/b.txt": "beta", "app/dir/": "",
				"app/dir/x": "x", "app/dir/sub/": "", "app/dir/sub/y": "y", "app/dir/ln": "->x",
				"app/dir/abs": "->/etc/passwd", "app/other/": "", "app/other/z": "z",
				"app/link-to-a": "->a.txt", "app/link-to-dir": "->dir", "app/.dockerignore": "*.log\n**/skip\n",
				"app/dir/keep.log/": "", "app/dir/keep.log/in": "i", "app/noise.log": "n", "app/dir/skip": "s"}},
		{name: "dir contents", srcs: []string{"dir"}, dest: "/app",
			want: map[string]string{"app/": "", "app/x": "x", "app/sub/": "", "app/sub/y": "y", "app/ln": "->x",
				"app/abs": "->/etc/passwd", "app/keep.log/": "", "app/keep.log/in": "i", "app/skip": "s"}},
		{name: "dir contents into root", srcs: []string{"dir/sub"}, dest: "/",
			want: map[string]string{"y": "y"}},
		{name: "dir merges", srcs: []string{"dir/sub", "other"}, dest: "/app/",
			before: map[string]string{"app/old": "o", "app/y": "replaced"},
			want:   map[string]string{"app/": "", "app/old": "o", "app/y": "y", "app/z": "z"}},
		{name: "glob", srcs: []string{"*.txt"}, dest: "/app/",
			want: map[string]string{"app/": "", "app/a.txt": "alpha", "app/b.txt": "beta"}},
		{name: "glob dirs flatten", srcs: []string{"o*", "dir/s*"}, dest: "/app/",
			want: map[string]string{"app/": "", "app/z": "z", "app/y": "y", "app/skip": "s"}},
		{name: "several sources without slash", srcs: []string{"a.txt", "b.txt"}, dest: "/app",
			err: errdefs.ErrInvalidArgument},
		{name: "glob of several without slash", srcs: []string{"*.txt"}, dest: "/app",
			err: errdefs.ErrInvalidArgument},
		{name: "several sources into existing dir", srcs: []string{"a.txt", "b.txt"}, dest: "/app",
			before: map[string]string{"app/": ""},
			want:   map[string]string{"app/": "", "app/a.txt": "alpha", "app/b.txt": "beta"}},
		{name: "top symlink followed", srcs: []string{"link-to-a", "link-to-dir"}, dest: "/app/", follow: true,
			want: map[string]string{"app/": "", "app/link-to-a": "alpha", "app/x": "x", "app/sub/": "",
				"app/sub/y": "y", "app/ln": "->x", "app/abs": "->/etc/passwd", "app/keep.log/": "", "app/keep.log/in": "i", "app/skip": "s"}},
		{name: "top symlink kept", srcs: []string{"link-to-a"}, dest: "/app/",
			want: map[string]string{"app/": "", "app/link-to-a": "->a.txt"}},
		{name: "missing", srcs: []string{"nope"}, dest: "/app/", err: errdefs.ErrNotFound},
		{name: "dir onto file", srcs: []string{"dir"}, dest: "/app",
			before: map[string]string{"app": "file"}, err: errdefs.ErrInvalidArgument},
		{name: "nested dir onto file", srcs: []string{"dir"}, dest: "/app",
			before: map[string]string{"app/sub": "file"}, err: errdefs.ErrConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dst := t.TempDir()
			writeTree(t, dst, tc.before)
			err := Copy(src, tc.srcs, dst, tc.dest, CopyOptions{UID: -1, GID: -1, FollowTopSymlink: tc.follow})
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := readTree(t, dst); !maps.Equal(got, tc.want) {
				t.Fatalf("destination:\n got %v\nwant %v", got, tc.want)
			}
		})
	}

	// With the context's ignore rules.
	dst := t.TempDir()
	if err := Copy(src, []string{"."}, dst, "/", CopyOptions{UID: -1, GID: -1, Ignore: ctx.Ignored, FollowTopSymlink: true}); err != nil {
		t.Fatal(err)
	}
	got := readTree(t, dst)
	for _, gone := range []string{"noise.log", "dir/skip"} {
		if _, ok := got[gone]; ok {
			t.Errorf("ignored %s was copied", gone)
		}
	}
	if got["dir/keep.log/in"] != "i" || got["a.txt"] != "alpha" {
		t.Errorf("ignore rules dropped too much: %v", slices.Sorted(maps.Keys(got)))
	}
	if err := Copy(src, []string{"noise.log"}, dst, "/", CopyOptions{Ignore: ctx.Ignored}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("ignored source: %v", err)
	}
}

func TestCopyIgnoreExceptions(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		".dockerignore":    "vendor\n!vendor/keep/**\nnode_modules\n",
		"vendor/drop/a":    "a",
		"vendor/keep/b/c":  "c",
		"node_modules/x/y": "y",
		"main":             "m",
	})
	if err := os.Chmod(filepath.Join(src, "vendor"), 0o750); err != nil {
		t.Fatal(err)
	}
	ctx := openCtx(t, src)
	dst := t.TempDir()
	if err := Copy(src, []string{"."}, dst, "/app", CopyOptions{UID: -1, GID: -1, Ignore: ctx.Ignored}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"app/": "", "app/main": "m", "app/vendor/": "", "app/vendor/keep/": "",
		"app/vendor/keep/b/": "", "app/vendor/keep/b/c": "c", "app/.dockerignore": "*.log\n"}
	want["app/.dockerignore"] = readFile(t, filepath.Join(src, ".dockerignore"))
	if got := readTree(t, dst); !maps.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	// A directory brought back by an exception keeps its own metadata.
	fi, err := os.Stat(filepath.Join(dst, "app/vendor"))
	if err != nil || fi.Mode().Perm() != 0o750 {
		t.Fatalf("vendor: %v %v", fi.Mode(), err)
	}
	// The checksum agrees on what is in.
	s := mustSum(t, ctx, ".")
	for _, p := range []string{"vendor", "vendor/keep/b/c"} {
		if _, ok := s.Files[p]; !ok {
			t.Errorf("checksum lacks %s", p)
		}
	}
	if _, ok := s.Files["vendor/drop"]; ok {
		t.Error("checksum has vendor/drop")
	}
}

func TestCopyMetadata(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	writeTree(t, src, map[string]string{"d/f": "f", "d/s/g": "g", "d/ln": "->f", "exe": "#!"})
	if err := os.Chmod(filepath.Join(src, "exe"), os.ModeSetuid|0o751); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "d/s"), 0o705); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
	atime := time.Date(2002, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range []string{"d/f", "d/s/g", "d/s", "d", "exe"} {
		if err := os.Chtimes(filepath.Join(src, p), atime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, "d/ln"), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(src, "d/fifo"), 0o640); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := unix.Mknod(filepath.Join(src, "d/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
	}

	dst := t.TempDir()
	if err := Copy(src, []string{"d", "exe"}, dst, "/app/", CopyOptions{UID: -1, GID: -1}); err != nil {
		t.Fatal(err)
	}
	check := func(p string, mode os.FileMode) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(dst, p))
		if err != nil {
			t.Fatal(err)
		}
		if mode != 0 && fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), mode)
		}
		if !fi.ModTime().Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", p, fi.ModTime(), mtime)
		}
		if st := fi.Sys().(*syscall.Stat_t); time.Unix(st.Atim.Unix()).Compare(atime) != 0 {
			t.Errorf("%s: atime %v, want %v", p, time.Unix(st.Atim.Unix()), atime)
		}
	}
	check("app/f", 0o644)
	check("app/s", os.ModeDir|0o705)
	check("app/s/g", 0o644)
	check("app/ln", 0)
	check("app/exe", os.ModeSetuid|0o751)
	if fi, err := os.Lstat(filepath.Join(dst, "app/fifo")); err != nil || fi.Mode() != os.ModeNamedPipe|0o640 {
		t.Errorf("fifo: %v %v", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "app/null")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("device node copied: %v", err)
	}
	// The destination directory made for a directory source is 0755.
	if fi, _ := os.Stat(filepath.Join(dst, "app")); fi.Mode().Perm() != 0o755 {
		t.Errorf("app: %v", fi.Mode())
	}

	// --chmod applies to files and directories, not symlinks.
	dst2 := t.TempDir()
	mode := os.FileMode(0o640)
	if err := Copy(src, []string{"d"}, dst2, "/app", CopyOptions{UID: -1, GID: -1, Chmod: &mode}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"app/f", "app/s/g"} {
		if fi, _ := os.Stat(filepath.Join(dst2, p)); fi.Mode() != 0o640 {
			t.Errorf("chmod %s: %v", p, fi.Mode())
		}
	}
	if fi, _ := os.Stat(filepath.Join(dst2, "app/s")); fi.Mode() != os.ModeDir|0o640 {
		t.Errorf("chmod dir: %v", fi.Mode())
	}
}

func TestCopyChown(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	src := t.TempDir()
	writeTree(t, src, map[string]string{"d/f": "f", "d/ln": "->f", "d/s/g": "g"})
	if err := os.Lchown(filepath.Join(src, "d/f"), 123, 456); err != nil {
		t.Fatal(err)
	}
	owner := func(root, p string) (int, int) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		return int(st.Uid), int(st.Gid)
	}
	// -1 keeps the source's owner.
	dst := t.TempDir()
	if err := Copy(src, []string{"d"}, dst, "/app", CopyOptions{UID: -1, GID: -1}); err != nil {
		t.Fatal(err)
	}
	if u, g := owner(dst, "app/f"); u != 123 || g != 456 {
		t.Errorf("kept owner %d:%d", u, g)
	}
	// --chown: everything copied and every directory made.
	dst = t.TempDir()
	if err := Copy(src, []string{"d"}, dst, "/x/y/", CopyOptions{UID: 1000, GID: 1001}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"x", "x/y", "x/y/f", "x/y/ln", "x/y/s", "x/y/s/g"} {
		if u, g := owner(dst, p); u != 1000 || g != 1001 {
			t.Errorf("%s: owner %d:%d, want 1000:1001", p, u, g)
		}
	}
	// An existing destination directory keeps its owner.
	dst = t.TempDir()
	writeTree(t, dst, map[string]string{"app/": ""})
	if err := Copy(src, []string{"d"}, dst, "/app", CopyOptions{UID: 7, GID: 7}); err != nil {
		t.Fatal(err)
	}
	if u, _ := owner(dst, "app"); u != 0 {
		t.Errorf("existing dir chowned to %d", u)
	}
}

// A root filesystem's symlinks never lead a COPY out of it.
func TestCopyHostileDestination(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	writeTree(t, src, map[string]string{"x": "payload", "d/lib/evil": "payload"})
	outside := filepath.Join(t.TempDir(), "outside-xyz")
	cases := []struct {
		name   string
		before map[string]string
		srcs   []string
		dest   string
		inside string // where the payload must land, below the root
	}{
		{"absolute dir symlink", map[string]string{"app": "->" + outside}, []string{"x"}, "/app/x", strings.TrimPrefix(outside, "/") + "/x"},
		{"dotdot symlink", map[string]string{"app": "->../../.."}, []string{"x"}, "/app/x", "x"},
		{"dotdot symlink as dir", map[string]string{"app": "->../../.."}, []string{"x"}, "/app/", "x"},
		{"dotdot dest", nil, []string{"x"}, "/../../../x", "x"},
		{"final symlink replaced", map[string]string{"app/x": "->" + filepath.Join(outside, "x")}, []string{"x"}, "/app/x", "app/x"},
		{"nested symlink merged inside", map[string]string{"app/lib": "->" + outside}, []string{"d"}, "/app", strings.TrimPrefix(outside, "/") + "/evil"},
		{"nested dotdot symlink", map[string]string{"app/lib": "->../../../../.."}, []string{"d"}, "/app", "evil"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			writeTree(t, dst, tc.before)
			if err := os.MkdirAll(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			err := Copy(src, tc.srcs, dst, tc.dest, CopyOptions{UID: -1, GID: -1})
			if err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(dst, tc.inside)); got != "payload" {
				t.Errorf("payload not at %s", tc.inside)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("wrote outside the root: %v", ents)
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(dst), "x")); err == nil {
				t.Error("wrote next to the root")
			}
		})
	}
}

func TestCopySourceSymlinks(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret": "s"})
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"etc/passwd":  "inside passwd",
		"abs":         "->/etc/passwd",
		"out":         "->" + outside,
		"usr/bin/app": "->/etc/passwd",
	})
	dst := t.TempDir()
	for _, s := range []string{"abs", "out/secret", "../x", "usr/bin/app"} {
		err := Copy(src, []string{s}, dst, "/x", CopyOptions{UID: -1, GID: -1, FollowTopSymlink: true})
		if !errors.Is(err, errdefs.ErrPermission) {
			t.Errorf("%q: %v, want permission denied", s, err)
		}
	}
	// A root filesystem: absolute symlinks resolve inside srcRoot.
	for _, s := range []string{"abs", "usr/bin/app", "/usr/../abs"} {
		err := Copy(src, []string{s}, dst, "/got", CopyOptions{UID: -1, GID: -1, FollowTopSymlink: true, RootfsSymlinks: true})
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got := readFile(t, filepath.Join(dst, "got")); got != "inside passwd" {
			t.Errorf("%q: copied %q", s, got)
		}
	}
	if err := Copy(src, []string{"out/secret"}, dst, "/got", CopyOptions{RootfsSymlinks: true, FollowTopSymlink: true}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("rootfs symlink out: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "x")); err == nil {
		t.Error("a refused copy wrote something")
	}
}
