package testbin

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBusybox writes a script that lists the applets sh, ls and busybox.
func fakeBusybox(t *testing.T) (string, string) {
	t.Helper()
	body := "#!/bin/sh\n[ \"$1\" = --list ] && printf 'sh\\nbusybox\\nls\\n'\n"
	p := filepath.Join(t.TempDir(), "busybox")
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p, body
}

type tarEntry struct {
	hdr  *tar.Header
	body string
}

// readTar reads a tarball into its entries by name, failing on a name seen
// twice or an entry whose directory comes later.
func readTar(t *testing.T, p string) map[string]tarEntry {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]tarEntry{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out[h.Name]; dup {
			t.Errorf("%s is in the tarball twice", h.Name)
		}
		if parent := parentOf(h.Name); h.Name != "./" && out[parent].hdr == nil {
			t.Errorf("%s comes before its directory %s", h.Name, parent)
		}
		out[h.Name] = tarEntry{hdr: h, body: string(body)}
	}
}

// parentOf names the directory entry above the entry "./NAME".
func parentOf(name string) string {
	if dir := path.Dir(strings.TrimSuffix(name, "/")); dir != "." {
		return "./" + dir + "/"
	}
	return "./"
}

func TestBusyboxTarBase(t *testing.T) {
	bb, bbBody := fakeBusybox(t)
	p, err := busyboxTar(bb, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got := readTar(t, p)
	want := map[string]struct {
		typ  byte
		mode os.FileMode
		body string
	}{
		"./":            {tar.TypeDir, 0o755, ""},
		"./bin/":        {tar.TypeDir, 0o755, ""},
		"./bin/busybox": {tar.TypeReg, 0o755, bbBody},
		"./bin/sh":      {tar.TypeSymlink, 0o777, ""},
		"./bin/ls":      {tar.TypeSymlink, 0o777, ""},
		"./etc/":        {tar.TypeDir, 0o755, ""},
		"./etc/passwd":  {tar.TypeReg, 0o644, "root:x:0:0:root:/root:/bin/sh\n"},
		"./etc/group":   {tar.TypeReg, 0o644, "root:x:0:\n"},
		"./root/":       {tar.TypeDir, 0o755, ""},
		"./home/":       {tar.TypeDir, 0o755, ""},
		"./tmp/":        {tar.TypeDir, 0o777 | fs.ModeSticky, ""},
	}
	for name, w := range want {
		e, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s is missing", name)
		case e.hdr.Typeflag != w.typ || e.hdr.FileInfo().Mode().Perm()|e.hdr.FileInfo().Mode()&fs.ModeSticky != w.mode:
			t.Errorf("%s: type %c mode %v, want %c %v", name, e.hdr.Typeflag, e.hdr.FileInfo().Mode(), w.typ, w.mode)
		case e.body != w.body:
			t.Errorf("%s holds %q, want %q", name, e.body, w.body)
		case e.hdr.Uid != 0 || e.hdr.Gid != 0:
			t.Errorf("%s is owned by %d:%d, want root", name, e.hdr.Uid, e.hdr.Gid)
		case e.hdr.Typeflag == tar.TypeSymlink && e.hdr.Linkname != "busybox":
			t.Errorf("%s links to %q, want busybox", name, e.hdr.Linkname)
		}
	}
	if len(got) != len(want) {
		t.Errorf("the tarball has %d entries, want %d", len(got), len(want))
	}
}

func TestBusyboxTarOptions(t *testing.T) {
	bb, _ := fakeBusybox(t)
	p, err := busyboxTar(bb, t.TempDir(),
		WithUser("app", 1000, 1001),
		WithFile("var/www/index.html", "hello\n"),
		WithDir("/srv/data/", 5, 6))
	if err != nil {
		t.Fatal(err)
	}
	got := readTar(t, p)
	files := map[string]string{
		"./etc/passwd":         "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n",
		"./etc/group":          "root:x:0:\napp:x:1001:\n",
		"./var/www/index.html": "hello\n",
	}
	for name, body := range files {
		if got[name].body != body {
			t.Errorf("%s holds %q, want %q", name, got[name].body, body)
		}
	}
	owners := map[string][2]int{"./home/app/": {1000, 1001}, "./srv/data/": {5, 6}, "./srv/": {0, 0}, "./var/www/": {0, 0}, "./home/": {0, 0}}
	for name, o := range owners {
		e := got[name]
		if e.hdr == nil || e.hdr.Typeflag != tar.TypeDir || e.hdr.Mode != 0o755 {
			t.Errorf("%s: %+v, want a 0755 directory", name, e.hdr)
		} else if e.hdr.Uid != o[0] || e.hdr.Gid != o[1] {
			t.Errorf("%s is owned by %d:%d, want %d:%d", name, e.hdr.Uid, e.hdr.Gid, o[0], o[1])
		}
	}
}

func TestBusyboxTarErrors(t *testing.T) {
	bb, _ := fakeBusybox(t)
	dir := t.TempDir()
	if p, err := busyboxTar(filepath.Join(dir, "missing"), dir); p != "" || err != nil {
		t.Errorf("without busybox: %q, %v; want \"\", nil", p, err)
	}
	if _, err := busyboxTar(bb, dir, WithDir("tmp", 1, 1)); err == nil || !strings.Contains(err.Error(), "tmp is in the tarball twice") {
		t.Errorf("a second tmp: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "busybox.tar")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed tarball was left behind: %v", err)
	}
	notBusybox := filepath.Join(dir, "false")
	if err := os.WriteFile(notBusybox, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := busyboxTar(notBusybox, dir); err == nil || !strings.Contains(err.Error(), "--list") {
		t.Errorf("busybox --list failing: %v", err)
	}
}

func TestBusyboxTarHost(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("/bin/busybox is missing")
	}
	p, err := BusyboxTar(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got := readTar(t, p)
	if got["./bin/sh"].hdr == nil || got["./bin/busybox"].hdr == nil || got["./bin/busybox"].hdr.Size == 0 {
		t.Errorf("no /bin/sh or /bin/busybox in the host's busybox tarball")
	}
}
