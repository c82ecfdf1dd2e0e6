package run

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// TestCopyOnWrite: a container writes to its own layer only; the image's
// unpacked layers stay as they were and containers of one image do not see
// each other's files; diff lists the changes like Docker.
func TestCopyOnWrite(t *testing.T) {
	e := newEnv(t)
	e.create("busybox") // unpacks the image
	before := hashTree(t, filepath.Join(e.root, "snapshots"))
	if len(before) == 0 {
		t.Fatal("no unpacked image files under snapshots/")
	}
	a := e.runD("--name", "a", "busybox", "sleep", "1000")
	b := e.runD("--name", "b", "busybox", "sleep", "1000")
	e.ok("exec", "a", "sh", "-c", `echo a > /only-a && echo "evil:x:0:0::/:/bin/sh" >> /etc/passwd && rm /bin/vi && mkdir /newdir && touch /newdir/f`)
	e.ok("exec", "b", "sh", "-c", "echo b > /only-b")

	wantEq(t, "a sees", e.out("exec", a, "sh", "-c", "cat /only-a; test -e /only-b || echo no-b; grep -c evil /etc/passwd; test -e /bin/vi || echo no-vi"), "a\nno-b\n1\nno-vi")
	wantEq(t, "b sees", e.out("exec", b, "sh", "-c", "cat /only-b; test -e /only-a || echo no-a; grep -c evil /etc/passwd; test -e /bin/vi && echo vi"), "b\nno-a\n0\nvi")
	wantEq(t, "a new container sees", e.out("run", "--rm", "busybox", "sh", "-c", "ls /only-a /only-b 2>&1 | wc -l; grep -c evil /etc/passwd; test -e /bin/vi && echo vi"), "2\n0\nvi")

	after := hashTree(t, filepath.Join(e.root, "snapshots"))
	for p, h := range before {
		if after[p] != h {
			t.Errorf("image file %s changed (or vanished) when a container wrote to it", p)
		}
	}
	wantEq(t, "diff a", e.out("diff", "a"), "C /bin\nD /bin/vi\nC /etc\nC /etc/passwd\nA /newdir\nA /newdir/f\nA /only-a")
	wantEq(t, "diff b", e.out("diff", "b"), "A /only-b")

	// The deletion is a whiteout in the container's layer, as commit shows.
	e.ok("commit", "a", "cow:a")
	names, _ := e.lastLayer("cow:a")
	wantEq(t, "committed layer", strings.Join(names, " "), "bin/ bin/.wh.vi etc/ etc/passwd newdir/ newdir/f only-a")
	if out := e.out("run", "--rm", "cow:a", "sh", "-c", "test -e /bin/vi || echo gone; cat /only-a"); out != "gone\na" {
		t.Fatalf("image committed from a: %q", out)
	}
}

// TestDiffKinds checks diff's A/C/D for a stopped container and nested
// changes, the way `docker diff` prints them (sorted, parents as C).
func TestDiffKinds(t *testing.T) {
	e := newEnv(t)
	e.ok("run", "--name", "d", "busybox", "sh", "-c",
		"mkdir -p /var/www/sub && echo x > /var/www/sub/new && rm /var/www/index.html && echo y >> /etc/group && rm -r /home/app")
	wantEq(t, "diff", e.out("diff", "d"), strings.Join([]string{
		"C /etc", "C /etc/group", "C /home", "D /home/app", "C /var", "C /var/www", "D /var/www/index.html",
		"A /var/www/sub", "A /var/www/sub/new"}, "\n"))
	wantEq(t, "diff of an unchanged container", e.out("diff", e.create("busybox")), "")
}

// TestCommit: commit -m -a -c -p makes an image with the change, a history
// row with the comment, and a layer that holds only the change.
func TestCommit(t *testing.T) {
	e := newEnv(t)
	e.runD("--name", "c", "busybox", "sleep", "1000")
	e.ok("exec", "c", "sh", "-c", "echo hello > /hello")
	id := e.out("commit", "-m", "add hello", "-a", "Tester <t@example.com>", "-c", "ENV COMMITTED=yes",
		"-c", `CMD ["cat", "/hello"]`, "-p", "c", "committed:v1")
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("commit printed %q, want an image ID", id)
	}
	wantEq(t, "container after a pausing commit", e.status("c"), "running")
	wantEq(t, "new image runs its CMD", e.out("run", "--rm", "committed:v1"), "hello")
	wantEq(t, "ENV change", e.out("run", "--rm", "committed:v1", "sh", "-c", "echo $COMMITTED"), "yes")
	wantEq(t, "author", e.out("image", "inspect", "--format", "{{.Author}}|{{.Comment}}", "committed:v1"), "Tester <t@example.com>|add hello")
	hist := testbin.Lines(e.ok("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Comment}}", "committed:v1"))
	if len(hist) != 2 || hist[0] != id+"|sleep 1000|add hello" || !strings.HasSuffix(hist[1], "|Imported from -") {
		t.Fatalf("history:\n%s", strings.Join(hist, "\n"))
	}
	names, _ := e.lastLayer("committed:v1")
	wantEq(t, "committed layer", strings.Join(names, " "), "hello")

	// A commit of a stopped container works too, with its changes only.
	e.ok("run", "--name", "s", "busybox", "sh", "-c", "echo bye > /bye")
	e.ok("commit", "s", "committed:v2")
	names, _ = e.lastLayer("committed:v2")
	wantEq(t, "stopped container's layer", strings.Join(names, " "), "bye")
}

// TestCommitSmallLayer: a small change on a big image commits a layer of a
// few kB, read from the container's own layer, not from the image.
func TestCommitSmallLayer(t *testing.T) {
	e := newEnv(t)
	big := filepath.Join(e.dir, "big.tar")
	data, err := os.ReadFile(busyboxTar)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	payload := filepath.Join(e.dir, "payload")
	if err := os.MkdirAll(payload, 0o755); err != nil {
		t.Fatal(err)
	}
	blob := bytes.Repeat([]byte("0123456789abcdef"), 50<<20/16)
	if err := os.WriteFile(filepath.Join(payload, "big.bin"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-C", payload, "-rf", big, "./big.bin").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	e.ok("import", "-c", `CMD ["/bin/sh"]`, big, "bigimg")
	e.ok("run", "--name", "small", "bigimg", "sh", "-c", "echo tiny > /etc/tiny")
	e.ok("commit", "-m", "tiny", "small", "bigimg:tiny")
	names, size := e.lastLayer("bigimg:tiny")
	wantEq(t, "layer", strings.Join(names, " "), "etc/ etc/tiny")
	if size > 16<<10 {
		t.Fatalf("commit of a 5-byte change on a 50 MB image wrote a %d-byte layer", size)
	}
	row := testbin.Lines(e.ok("history", "--format", "{{.Size}}|{{.Comment}}", "bigimg:tiny"))[0]
	if !strings.HasSuffix(row, "kB|tiny") && !strings.HasSuffix(row, "B|tiny") || strings.Contains(row, "MB") {
		t.Fatalf("history row of the commit: %q", row)
	}
	wantEq(t, "big file still there", e.out("run", "--rm", "bigimg:tiny", "sh", "-c", "wc -c < /big.bin; cat /etc/tiny"), "52428800\ntiny")
}

// hashTree maps every regular file and symlink under dir to a hash of its
// mode and content.
func hashTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h := sha256.New()
		h.Write([]byte(info.Mode().String()))
		switch {
		case info.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			h.Write([]byte(target))
		default:
			return nil
		}
		out[p] = string(h.Sum(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lastLayer saves image and returns the entry names of its top layer
// (sorted as stored) and the layer blob's size.
func (e *env) lastLayer(image string) ([]string, int64) {
	e.t.Helper()
	path := filepath.Join(e.dir, "save-"+strconv.Itoa(len(e.ids))+".tar")
	e.ok("save", "-o", path, image)
	defer os.Remove(path)
	files := readTar(e.t, path)
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 || len(manifest[0].Layers) == 0 {
		e.t.Fatalf("saved manifest.json: %s", files["manifest.json"])
	}
	blob := files[manifest[0].Layers[len(manifest[0].Layers)-1]]
	var r io.Reader = bytes.NewReader(blob)
	if len(blob) > 2 && blob[0] == 0x1f && blob[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			e.t.Fatal(err)
		}
		r = zr
	}
	var names []string
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			e.t.Fatalf("layer of %s: %v", image, err)
		}
		names = append(names, strings.TrimPrefix(hdr.Name, "./"))
	}
	return names, int64(len(blob))
}

// readTar reads a whole (small) tar file into memory by entry name.
func readTar(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(hdr.Name, "./")] = b
	}
}
