package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestSystemDfSharedLayerOnce(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	empty := table(
		[]string{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"},
		[]string{"Images", "0", "0", "0B", "0B"},
		[]string{"Containers", "0", "0", "0B", "0B"},
		[]string{"Local Volumes", "0", "0", "0B", "0B"},
		[]string{"Build Cache", "0", "0", "0B", "0B"})
	wantLines(t, "empty df", s.ok("system", "df"), lines(empty)...)

	_, _, shared := twoImages(t, s)
	onDisk := s.blobBytes()
	if onDisk >= 2*int64(len(shared)) {
		t.Fatalf("%d bytes of blobs for two images on one %d-byte layer", onDisk, len(shared))
	}
	size := humanSize(onDisk, 4)
	want := table(
		[]string{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"},
		[]string{"Images", "2", "0", size, size + " (100%)"},
		[]string{"Containers", "0", "0", "0B", "0B"},
		[]string{"Local Volumes", "0", "0", "0B", "0B"},
		[]string{"Build Cache", "0", "0", "0B", "0B"})
	wantLines(t, "df", s.ok("system", "df"), lines(want)...)
	wantLines(t, "df --format", s.ok("system", "df", "--format", "{{.Type}}={{.TotalCount}}"),
		"Images=2", "Containers=0", "Local Volumes=0", "Build Cache=0")
	js := lines(s.ok("system", "df", "--format", "json"))
	if len(js) != 4 {
		t.Fatalf("df json: %q", js)
	}
	if keys := objectKeys(t, js[0]); !slices.Equal(keys, []string{"Active", "Reclaimable", "Size", "TotalCount", "Type"}) {
		t.Fatalf("df json keys %q", keys)
	}
	wantLines(t, "df json", js[0]+"\n", `{"Active":"0","Reclaimable":"`+size+` (100%)","Size":"`+size+`","TotalCount":"2","Type":"Images"}`)
}

func TestInfoAndVersion(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	// version never opens the store.
	out := s.ok("version")
	wantContains(t, "version", out, "Version:", "Go version:", "OS/Arch:", runtime.GOOS+"/"+runtime.GOARCH)
	v := strings.TrimSpace(s.ok("version", "--format", "{{.Version}}"))
	if v == "" || !strings.Contains(out, " Version:     "+v+"\n") {
		t.Fatalf("version --format gave %q", v)
	}
	// Docker scripts ask for the client's or the server's version.
	wantLines(t, "docker-style version", s.ok("version", "-f", "{{.Client.Version}} {{.Server.Version}} {{.Server.Os}}"),
		v+" "+v+" "+runtime.GOOS)
	if _, err := os.Stat(s.root); !os.IsNotExist(err) {
		t.Fatalf("version created the root: %v", err)
	}

	twoImages(t, s)
	s.importTar(rootfs(t, "dangling", 10), "")
	out = s.ok("info")
	wantContains(t, "info", out, "Strata Root Dir: "+s.root+"\n", "Images: 3\n", " Tags: 3\n", " Dangling: 1\n", "Storage Driver: ")
	if !strings.Contains(out, "Storage Driver: overlay\n") && !strings.Contains(out, "Storage Driver: vfs\n") {
		t.Fatalf("info storage driver: %s", out)
	}
	wantLines(t, "info --format", s.ok("info", "--format", "{{.Images}} {{.Tags}} {{.Dangling}} {{.Root}}"), "3 3 1 "+s.root)
	wantLines(t, "system info", s.ok("system", "info", "-f", "{{.BlobBytes}}"), strconv.FormatInt(s.blobBytes(), 10))
	s.fail(1, "info", "--format", "{{.NoSuchField}}")
}

func TestSystemCheckCorruptBlob(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	a, b, shared := twoImages(t, s)
	keep := s.importTar(rootfs(t, "keep", 100), "keep:1")
	out := s.ok("system", "check")
	wantLines(t, "clean", out, "checked 8 blobs and 3 images: 0 problems, 0 repaired")

	layer := sha(shared)
	path := filepath.Join(s.root, "content", "blobs", "sha256", strings.TrimPrefix(layer, "sha256:"))
	corrupt := []byte(strings.Repeat("x", len(shared)))
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	r := s.fail(1, "system", "check")
	wantContains(t, "check", r.Stdout, "corrupt-blob "+layer, "bad-image "+a, "bad-image "+b, "3 problems, 0 repaired",
		"run 'strata system check --repair' to fix them")
	if strings.Contains(r.Stdout, keep) {
		t.Fatalf("check blames the intact image: %s", r.Stdout)
	}

	out = s.ok("system", "check", "--repair")
	wantContains(t, "repair", out, "corrupt-blob "+layer+": content does not match its digest (repaired)",
		"bad-image "+a, "bad-image "+b, "image removed (repaired)")
	// The removed images' configs and manifests go too: every problem found is repaired.
	if m := regexp.MustCompile(`(?m)^checked 8 blobs and 3 images: (\d+) problems, (\d+) repaired$`).FindStringSubmatch(out); m == nil || m[1] != m[2] {
		t.Fatalf("repair summary: %s", out)
	}
	s.checkClean()
	wantLines(t, "images", s.ok("images", "--format", "{{.Repository}}:{{.Tag}}"), "keep:1")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("corrupt blob still on disk: %v", err)
	}
	// The same layer can come back.
	s.importTar(shared, "a:1")
	s.checkClean()
	s.fail(1, "system", "check", "extra")
}

func TestSystemCheckMissingAndStrayBlobs(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	layer := rootfs(t, "gone", 1000)
	a := s.importTar(layer, "gone:1")
	keep := s.importTar(rootfs(t, "stay", 1000), "stay:1")
	blobs := filepath.Join(s.root, "content", "blobs", "sha256")
	stray := []byte("a blob nobody references\n")
	strayDigest := sha(stray)
	if err := os.WriteFile(filepath.Join(blobs, strings.TrimPrefix(strayDigest, "sha256:")), stray, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(blobs, strings.TrimPrefix(sha(layer), "sha256:"))); err != nil {
		t.Fatal(err)
	}
	r := s.fail(1, "system", "check")
	wantContains(t, "check", r.Stdout, "bad-image "+a+": layer blob "+sha(layer)+" is missing",
		"unreferenced-blob "+strayDigest)
	if strings.Contains(r.Stdout, keep) {
		t.Fatalf("check blames the intact image: %s", r.Stdout)
	}
	s.ok("system", "check", "--repair")
	s.checkClean()
	wantLines(t, "images", s.ok("images", "-q", "--no-trunc"), keep)
	s.ok("save", "stay:1")
}

// TestPruneCollectsStrayBlobs: prune also removes blobs no image uses
// (left by an interrupted command) and counts them.
func TestPruneCollectsStrayBlobs(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.importTar(rootfs(t, "p", 100), "p:1")
	stray := []byte(strings.Repeat("stray", 1000))
	p := filepath.Join(s.root, "content", "blobs", "sha256", strings.TrimPrefix(sha(stray), "sha256:"))
	if err := os.WriteFile(p, stray, 0o444); err != nil {
		t.Fatal(err)
	}
	wantLines(t, "prune", s.ok("image", "prune", "-f"), "Total reclaimed space: "+humanSize(int64(len(stray)), 4))
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("stray blob still there: %v", err)
	}
	s.checkClean()
}
