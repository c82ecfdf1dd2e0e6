package run

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// TestCp copies files and directories both ways, to running and stopped
// containers, and as tar streams with "-".
func TestCp(t *testing.T) {
	e := newEnv(t)
	e.runD("--name", "c", "busybox", "sleep", "1000")
	src := e.write("in/file.txt", "host file\n")
	e.write("in/sub/deep.txt", "deep\n")

	// host -> container: a file into a directory, a file to a new name,
	// a directory into a directory, a directory to a new name.
	e.ok("cp", src, "c:/tmp")
	e.ok("cp", src, "c:/tmp/renamed.txt")
	e.ok("cp", filepath.Join(e.dir, "in"), "c:/tmp")
	e.ok("cp", filepath.Join(e.dir, "in"), "c:/newdir")
	wantEq(t, "copied in", e.out("exec", "c", "sh", "-c",
		"cat /tmp/file.txt /tmp/renamed.txt /tmp/in/file.txt /tmp/in/sub/deep.txt /newdir/sub/deep.txt"),
		"host file\nhost file\nhost file\ndeep\ndeep")

	// container -> host
	e.ok("exec", "c", "sh", "-c", "mkdir -p /out/d && echo out > /out/d/f && ln -s f /out/d/link && chmod 600 /out/d/f")
	dst := filepath.Join(e.dir, "got")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	e.ok("cp", "c:/out/d", dst)
	e.ok("cp", "c:/out/d/f", filepath.Join(dst, "single"))
	if b, _ := os.ReadFile(filepath.Join(dst, "d", "f")); string(b) != "out\n" {
		t.Fatalf("copied out: %q", b)
	}
	if l, _ := os.Readlink(filepath.Join(dst, "d", "link")); l != "f" {
		t.Fatalf("symlink copied as %q", l)
	}
	if fi, _ := os.Stat(filepath.Join(dst, "d", "f")); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode not kept: %v", fi)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "single")); string(b) != "out\n" {
		t.Fatalf("copied to a new name: %q", b)
	}
	r := e.exec("cp", "c:/no/such", dst)
	if r.Code == 0 {
		t.Fatal("cp of a missing path succeeded")
	}

	// docker cp's rules: SRC/. copies a directory's contents; a directory
	// onto a file and a file into a missing DEST/ are errors; -L follows a
	// source symlink; hard links stay links.
	e.ok("exec", "c", "sh", "-c", "ln /out/d/f /out/d/hard && ln -s /out/d /outlink")
	contents := filepath.Join(e.dir, "contents")
	if err := os.Mkdir(contents, 0o755); err != nil {
		t.Fatal(err)
	}
	e.ok("cp", "c:/out/d/.", contents)
	wantEq(t, "SRC/. into a directory", strings.Join(dirNames(t, contents), " "), "f hard link")
	if fi, err := os.Stat(filepath.Join(contents, "hard")); err != nil || fi.Sys().(*syscall.Stat_t).Nlink != 2 {
		t.Fatalf("hard link not kept: %v", err)
	}
	e.ok("cp", filepath.Join(e.dir, "in")+"/.", "c:/out/d")
	wantEq(t, "host SRC/. into a container directory", e.out("exec", "c", "ls", "/out/d"), "f\nfile.txt\nhard\nlink\nsub")
	r = e.fail(1, "cp", filepath.Join(e.dir, "in"), "c:/out/d/f")
	wantContains(t, "directory onto a file", r.Stderr, "it is a file")
	r = e.fail(1, "cp", src, "c:/nodir/")
	wantContains(t, "file into a missing DEST/", r.Stderr, "does not exist")
	e.ok("cp", "-L", "c:/outlink", filepath.Join(e.dir, "followed"))
	if fi, err := os.Lstat(filepath.Join(e.dir, "followed")); err != nil || !fi.IsDir() {
		t.Fatalf("cp -L of a link to a directory: %v %v", fi, err)
	}

	// "-": a tar stream out, and one in.
	stream := e.ok("cp", "c:/out/d", "-")
	names := tarNames(t, []byte(stream))
	wantEq(t, "tar out", strings.Join(names, " "), "d/ d/f d/file.txt d/hard d/link d/sub/ d/sub/deep.txt")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "streamed/", Typeflag: tar.TypeDir, Mode: 0o755})
	_ = tw.WriteHeader(&tar.Header{Name: "streamed/s.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
	_, _ = tw.Write([]byte("s!\n"))
	_ = tw.Close()
	e.okIn(&buf, "cp", "-", "c:/tmp")
	wantEq(t, "tar in", e.out("exec", "c", "cat", "/tmp/streamed/s.txt"), "s!")

	// Volumes and bind mounts are part of what cp sees in a running
	// container, as in Docker; so are its /etc/hosts and /etc/hostname.
	bind := filepath.Join(e.dir, "bind")
	if err := os.Mkdir(bind, 0o755); err != nil {
		t.Fatal(err)
	}
	vid := e.runD("--name", "v", "-v", "cpvol:/data", "-v", bind+":/bind", "busybox", "sleep", "1000")
	e.ok("cp", src, "v:/data/")
	e.ok("cp", src, "v:/bind/")
	wantEq(t, "cp into a volume", e.out("exec", "v", "cat", "/data/file.txt", "/bind/file.txt"), "host file\nhost file")
	if b, _ := os.ReadFile(filepath.Join(bind, "file.txt")); string(b) != "host file\n" {
		t.Fatalf("cp into a bind mount: host has %q", b)
	}
	e.ok("exec", "v", "sh", "-c", "echo in-volume > /data/made-inside")
	wantEq(t, "cp out of a volume", string(readTarEntry(t, e.ok("cp", "v:/data/made-inside", "-"), "made-inside")), "in-volume\n")
	wantEq(t, "cp of /etc/hostname", string(readTarEntry(t, e.ok("cp", "v:/etc/hostname", "-"), "hostname")), vid[:12]+"\n")

	// A stopped container works too; its changes stay in its layer.
	e.ok("stop", "-t", "0", "c")
	e.ok("cp", src, "c:/stopped.txt")
	e.ok("cp", "c:/stopped.txt", filepath.Join(dst, "back.txt"))
	if b, _ := os.ReadFile(filepath.Join(dst, "back.txt")); string(b) != "host file\n" {
		t.Fatalf("round trip through a stopped container: %q", b)
	}
	wantContains(t, "diff", e.out("diff", "c"), "A /stopped.txt")
	for _, m := range testbin.MountsUnder(e.base) {
		if !strings.Contains(m, vid) {
			t.Fatalf("cp left a mount: %s", m)
		}
	}
}

// TestExport writes the container's whole filesystem with export -o and to
// stdout.
func TestExport(t *testing.T) {
	e := newEnv(t)
	e.ok("run", "--name", "x", "busybox", "sh", "-c", "echo exported > /marker && rm /bin/vi")
	out := filepath.Join(e.dir, "x.tar")
	e.ok("export", "-o", out, "x")
	files := readTar(t, out)
	if string(files["marker"]) != "exported\n" {
		t.Fatalf("export: marker %q", files["marker"])
	}
	if _, ok := files["bin/vi"]; ok {
		t.Fatal("export has a file the container deleted")
	}
	if _, ok := files["bin/busybox"]; !ok {
		t.Fatal("export lacks the image's files")
	}
	stdout := e.ok("export", "x")
	if len(stdout) < 1<<20 || !strings.Contains(strings.Join(tarNames(t, []byte(stdout)), " "), "marker") {
		t.Fatalf("export to stdout: %d bytes", len(stdout))
	}
}

// TestAttachAndPort: attach streams a running container's output and ends
// with its exit code; port lists published ports.
func TestAttachAndPort(t *testing.T) {
	e := newEnv(t)
	p1, p2 := testbin.FreePort(t, "127.0.0.1"), testbin.FreePort(t, "127.0.0.1")
	e.runD("--name", "a", "-i", "-p", "127.0.0.1:"+itoa(p1)+":80", "-p", itoa(p2)+":81/udp",
		"busybox", "sh", "-c", "echo ready; read line; echo got $line; exit 6")
	waitLog(t, e, "a", "ready")
	r := e.execIn(strings.NewReader("hello\n"), "attach", "a")
	if r.Code != 6 || r.Stdout != "got hello\n" {
		t.Fatalf("attach: %s", r)
	}
	r = e.fail(1, "attach", "a")
	wantContains(t, "attach to a stopped container", r.Stderr, "You cannot attach to a stopped container, start it first")

	e.runD("--name", "pp", "-p", "127.0.0.1:"+itoa(p1)+":80", "-p", itoa(p2)+":81/udp", "busybox", "sleep", "1000")
	got := testbin.Lines(e.ok("port", "pp"))
	sort.Strings(got)
	wantEq(t, "port", strings.Join(got, "\n"), "80/tcp -> 127.0.0.1:"+itoa(p1)+"\n81/udp -> 0.0.0.0:"+itoa(p2))
	wantEq(t, "port 80", e.out("port", "pp", "80"), "127.0.0.1:"+itoa(p1))
	wantEq(t, "port 81/udp", e.out("port", "pp", "81/udp"), "0.0.0.0:"+itoa(p2))
	e.fail(1, "port", "pp", "82")
}

// readTarEntry returns the content of one entry of a tar stream.
func readTarEntry(t *testing.T, data, name string) []byte {
	t.Helper()
	tr := tar.NewReader(strings.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s in the tar stream: %v", name, err)
		}
		if strings.TrimPrefix(hdr.Name, "./") == name {
			b, _ := io.ReadAll(tr)
			return b
		}
	}
}

// dirNames lists a host directory.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range entries {
		out = append(out, d.Name())
	}
	return out
}

func tarNames(t *testing.T, data []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		names = append(names, strings.TrimPrefix(hdr.Name, "./"))
	}
}
