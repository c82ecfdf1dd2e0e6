package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
)

// copyTreeFixture is a root filesystem with every kind of entry.
func copyTreeFixture(t *testing.T) string {
	root := filepath.Join(t.TempDir(), "rootfs")
	writeFile(t, filepath.Join(root, "etc/hosts"), "127.0.0.1 localhost\n", 0o644)
	writeFile(t, filepath.Join(root, "etc/secret"), "inside", 0o600)
	writeFile(t, filepath.Join(root, "usr/bin/prog"), "prog", 0o755)
	mustDo(t, unix.Chmod(filepath.Join(root, "usr/bin/prog"), 0o4755))
	mustDo(t, os.Lchown(filepath.Join(root, "etc/secret"), 12, 34))
	mustDo(t, os.Link(filepath.Join(root, "usr/bin/prog"), filepath.Join(root, "usr/bin/prog2")))
	mustDo(t, os.Symlink("/etc", filepath.Join(root, "link")))
	mustDo(t, os.Symlink("../..", filepath.Join(root, "usr/up")))
	mustDo(t, unix.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	mustDo(t, unix.Lsetxattr(filepath.Join(root, "etc/hosts"), "user.x", []byte("y"), 0))
	return root
}

func TestWriteTreeRoundTrip(t *testing.T) {
	requireRoot(t)
	root := copyTreeFixture(t)
	mustDo(t, os.MkdirAll(filepath.Join(root, "dev"), 0o755))
	mustDo(t, unix.Mknod(filepath.Join(root, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	mustDo(t, unix.Mknod(filepath.Join(root, "dev/blk"), unix.S_IFBLK|0o600, int(unix.Mkdev(7, 0))))

	var buf bytes.Buffer
	mustDo(t, WriteTree(&buf, root))
	entries := readTar(t, buf.Bytes())
	want := []string{"dev/", "dev/blk", "dev/null", "etc/", "etc/hosts", "etc/secret", "fifo", "link",
		"usr/", "usr/bin/", "usr/bin/prog", "usr/bin/prog2", "usr/up"}
	if got := tarNames(entries); !slices.Equal(got, want) {
		t.Fatalf("entries:\n got  %v\n want %v", got, want)
	}
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		if hdr.Name == "dev/null" && (hdr.Typeflag != tar.TypeChar || hdr.Devmajor != 1 || hdr.Devminor != 3) {
			t.Errorf("dev/null: %+v", hdr)
		}
		if hdr.Name == "usr/bin/prog2" && (hdr.Typeflag != tar.TypeLink || hdr.Linkname != "usr/bin/prog") {
			t.Errorf("usr/bin/prog2: %+v", hdr)
		}
	}

	// ExtractTo refuses device nodes as Apply does; without them the tree
	// comes back as it was.
	_, err := Scan(bytes.NewReader(buf.Bytes()), nil, Limits{})
	var ee *EntryError
	if !errors.As(err, &ee) || ee.Entry != "dev/blk" {
		t.Fatalf("a tar with devices: %v", err)
	}
	mustDo(t, os.RemoveAll(filepath.Join(root, "dev")))
	buf.Reset()
	mustDo(t, WriteTree(&buf, root))
	dst := filepath.Join(t.TempDir(), "dst")
	mustDo(t, os.Mkdir(dst, 0o755))
	mustDo(t, ExtractTo(dst, "/", bytes.NewReader(buf.Bytes()), Limits{}))
	if d := diffSnapshots(snapshotTree(t, root, treeOpts{}), snapshotTree(t, dst, treeOpts{})); d != "" {
		t.Errorf("round trip differs:\n%s", d)
	}
}

func TestWritePath(t *testing.T) {
	requireRoot(t)
	root := copyTreeFixture(t)
	cases := []struct {
		path string
		opts PathOptions
		want []string
	}{
		{"/etc/hosts", PathOptions{}, []string{"hosts"}},
		{"etc/hosts", PathOptions{Name: "renamed"}, []string{"renamed"}},
		{"/etc", PathOptions{}, []string{"etc/", "etc/hosts", "etc/secret"}},
		{"/etc/", PathOptions{Name: "."}, []string{"./", "./hosts", "./secret"}},
		{"/usr/bin", PathOptions{}, []string{"bin/", "bin/prog", "bin/prog2"}},
		{"/link", PathOptions{}, []string{"link"}},                                                  // the symlink itself
		{"/link", PathOptions{FollowSymlink: true}, []string{"link/", "link/hosts", "link/secret"}}, // cp -L
		{"/link/hosts", PathOptions{}, []string{"hosts"}},                                           // /etc inside root
		{"/usr/up/etc/hosts", PathOptions{}, []string{"hosts"}},                                     // ../.. stops at root
		{"/../../etc/hosts", PathOptions{}, []string{"hosts"}},
	}
	for _, tc := range cases {
		var buf bytes.Buffer
		if err := WritePathWith(&buf, root, tc.path, tc.opts); err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		entries := readTar(t, buf.Bytes())
		if got := tarNames(entries); !slices.Equal(got, tc.want) {
			t.Errorf("%s %+v:\n got  %v\n want %v", tc.path, tc.opts, got, tc.want)
		}
	}

	// link/secret is the root's etc/secret, never the host's file.
	var buf bytes.Buffer
	mustDo(t, WritePath(&buf, root, "/link/secret"))
	tr := tar.NewReader(&buf)
	hdr, err := tr.Next()
	mustDo(t, err)
	b := make([]byte, 100)
	n, _ := tr.Read(b)
	if hdr.Uid != 12 || string(b[:n]) != "inside" {
		t.Errorf("link/secret read %q (uid %d), want the root's own file", b[:n], hdr.Uid)
	}

	// A host path the root does not have is not found.
	err = WritePath(&bytes.Buffer{}, root, "/link/passwd")
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("link/passwd: got %v, want ErrNotFound", err)
	}
}

func TestExtractToStaysInside(t *testing.T) {
	requireRoot(t)
	layer := makeTar(t, dir("d/"), file("d/f", "f"), file("x", "x"))
	cases := []struct {
		name    string
		setup   func(root, outside string)
		dir     string
		wantErr error
		landed  string // where x must be, below root
	}{
		{"plain", nil, "/", nil, "x"},
		{"subdir", func(root, _ string) { mustDo(t, os.Mkdir(filepath.Join(root, "sub"), 0o755)) }, "/sub", nil, "sub/x"},
		{"symlinked dir", func(root, _ string) {
			mustDo(t, os.Mkdir(filepath.Join(root, "real"), 0o755))
			mustDo(t, os.Symlink("/real", filepath.Join(root, "via")))
		}, "/via", nil, "real/x"},
		{"symlink out, absent inside", func(root, outside string) {
			mustDo(t, os.Symlink(outside, filepath.Join(root, "out")))
		}, "/out", errdefs.ErrNotFound, ""},
		{"relative symlink out", func(root, _ string) {
			mustDo(t, os.Symlink("../../../..", filepath.Join(root, "up")))
		}, "/up", nil, "x"},
		{"missing dir", nil, "/nope", errdefs.ErrNotFound, ""},
	}
	for _, tc := range cases {
		s, root := newSentinel(t)
		if tc.setup != nil {
			tc.setup(root, s.dir)
		}
		err := ExtractTo(root, tc.dir, bytes.NewReader(layer), Limits{})
		s.check(t)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%s: got %v, want %v", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if b, err := os.ReadFile(filepath.Join(root, tc.landed)); err != nil || string(b) != "x" {
			t.Errorf("%s: x is not at %s: %v", tc.name, tc.landed, err)
		}
	}

	// Entries through symlinks of the container resolve inside it too.
	s, root := newSentinel(t)
	mustDo(t, os.Symlink(s.dir, filepath.Join(root, "out")))
	mustDo(t, os.MkdirAll(filepath.Join(root, s.dir), 0o755))
	err := ExtractTo(root, "/", bytes.NewReader(makeTar(t, file("out/secret", "evil"))), Limits{})
	mustDo(t, err)
	s.check(t)
	if b, _ := os.ReadFile(filepath.Join(root, s.dir, "secret")); string(b) != "evil" {
		t.Errorf("out/secret did not land inside the root")
	}
	// Whiteout names are plain files for cp.
	mustDo(t, ExtractTo(root, "/", bytes.NewReader(makeTar(t, file(".wh.x", "w"))), Limits{}))
	if _, err := os.Stat(filepath.Join(root, ".wh.x")); err != nil {
		t.Errorf(".wh.x: %v", err)
	}
}
