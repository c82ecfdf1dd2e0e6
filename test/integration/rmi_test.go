package integration

import (
	"strings"
	"testing"
)

func TestRmiUntagsFirst(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	id := s.importTar(rootfs(t, "rmi", 500), "app:1")
	s.ok("tag", "app:1", "app:2")
	s.ok("tag", "app:1", "app")
	wantLines(t, "rmi one name", s.ok("rmi", "app:1"), "Untagged: app:1")
	wantLines(t, "rest", s.ok("images", "--format", "{{.Repository}}:{{.Tag}}"), "app:2", "app:latest")
	// "app" means app:latest.
	wantLines(t, "rmi app", s.ok("image", "rm", "app"), "Untagged: app:latest")
	wantLines(t, "rmi last name", s.ok("image", "remove", "app:2"), "Untagged: app:2", "Deleted: "+id)
	wantLines(t, "images", s.ok("images", "-q"))
	if n := s.blobBytes(); n != 0 {
		t.Fatalf("%d bytes of blobs left", n)
	}
	s.checkClean()
}

func TestRmiByID(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	a := s.importTar(rootfs(t, "a", 10), "one:1")
	s.ok("tag", "one:1", "one:2") // one repository: no -f needed
	b := s.importTar(rootfs(t, "b", 10), "two:1")
	c := s.importTar(rootfs(t, "c", 10), "")
	wantLines(t, "short ID", s.ok("rmi", short(a)), "Untagged: one:1", "Untagged: one:2", "Deleted: "+a)
	wantLines(t, "full ID", s.ok("rmi", b), "Untagged: two:1", "Deleted: "+b)
	wantLines(t, "hex prefix, dangling", s.ok("rmi", strings.TrimPrefix(c, "sha256:")[:5]), "Deleted: "+c)
	r := s.fail(1, "rmi", a)
	wantLines(t, "gone", r.Stderr, "Error: No such image: "+a)
	wantLines(t, "images", s.ok("images", "-a", "-q"))
	s.checkClean()
}

func TestRmiMultipleRepositories(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	id := s.importTar(rootfs(t, "multi", 10), "first:1")
	s.ok("tag", "first:1", "second:1")
	s.ok("tag", "first:1", "example.com/third:1")
	r := s.fail(1, "rmi", short(id))
	wantLines(t, "conflict", r.Stderr, "Error: conflict: unable to delete "+short(id)+" (must be forced) - image is referenced in multiple repositories")
	wantLines(t, "nothing removed", r.Stdout)
	wantLines(t, "still named", s.ok("images", "--format", "{{.Repository}}"), "example.com/third", "first", "second")
	wantLines(t, "rmi -f", s.ok("rmi", "-f", id),
		"Untagged: first:1", "Untagged: second:1", "Untagged: example.com/third:1", "Deleted: "+id)
	wantLines(t, "images", s.ok("images", "-q"))
	s.checkClean()
}

func TestRmiByDigest(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.load(dockerArchive(t, imgSpec{layers: [][]byte{rootfs(t, "dig", 100)}, tags: []string{"dig:1"}}))
	id := strings.TrimSpace(s.ok("inspect", "-f", "{{.Id}}", "dig:1"))
	dg := s.manifestDigest("dig:1")
	wantLines(t, "inspect by digest", s.ok("inspect", "-f", "{{.Id}}", "dig@"+dg), id)
	out := s.ok("rmi", "dig@"+dg)
	if !strings.HasSuffix(out, "Deleted: "+id+"\n") {
		t.Fatalf("rmi by digest: %q", out)
	}
	wantLines(t, "images", s.ok("images", "-q"))
	s.fail(1, "rmi", "dig@"+dg)
	s.checkClean()
}

func TestRmiNoPrune(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	base := rootfs(t, "base", 100)
	parent := imgSpec{layers: [][]byte{base}}
	child := imgSpec{layers: [][]byte{base, rootfs(t, "top", 100)}, tags: []string{"child:1"}}
	files, items := dockerArchiveFiles(parent, child)
	pid, cid := sha(parent.config()), sha(child.config())
	items[1].Parent = pid
	s.load(archiveTar(t, append(files, archiveFile{"manifest.json", []byte(mustJSON(items))})...))
	wantLines(t, "rmi --no-prune", s.ok("rmi", "--no-prune", "child:1"), "Untagged: child:1", "Deleted: "+cid)
	// The parent stays, now a plain dangling image.
	wantLines(t, "images", s.ok("images", "-q", "--no-trunc"), pid)
	wantLines(t, "dangling", s.ok("images", "-q", "--no-trunc", "-f", "dangling=true"), pid)
	s.checkClean()
}

// TestRmiSharedLayer: two images on one layer; removing one leaves the
// other whole.
func TestRmiSharedLayer(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	layer := rootfs(t, "shared", 20000)
	a := s.importTar(layer, "a:1")
	b := s.importTar(layer, "b:1", "-c", "ENV WHO=b")
	if a == b {
		t.Fatal("two imports gave one image")
	}
	before := s.blobBytes()
	wantLines(t, "rmi a", s.ok("rmi", "a:1"), "Untagged: a:1", "Deleted: "+a)
	freed := before - s.blobBytes()
	if freed <= 0 || freed >= int64(len(layer)) {
		t.Fatalf("removing a freed %d bytes; the %d-byte layer must stay for b", freed, len(layer))
	}
	s.checkClean()
	wantLines(t, "b layer", s.ok("inspect", "-f", "{{index .RootFS.Layers 0}}", "b:1"), sha(layer))
	archive := s.ok("save", "b:1")
	files := untar(t, []byte(archive))
	if got := files["blobs/sha256/"+strings.TrimPrefix(sha(layer), "sha256:")]; string(got) != string(layer) {
		t.Fatalf("saved archive lacks the shared layer (%d bytes)", len(got))
	}
	other := newSandbox(t)
	wantLines(t, "load b", other.okIn(strings.NewReader(archive), "load"), "Loaded image: b:1")
	wantLines(t, "same ID", other.ok("images", "-q", "--no-trunc"), b)
}

func TestRmiSeveralOneMissing(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	a := s.importTar(rootfs(t, "a", 10), "a:1")
	b := s.importTar(rootfs(t, "b", 10), "b:1")
	r := s.fail(1, "rmi", "a:1", "nosuch", "b:1")
	wantLines(t, "stdout", r.Stdout, "Untagged: a:1", "Deleted: "+a, "Untagged: b:1", "Deleted: "+b)
	wantLines(t, "stderr", r.Stderr, "Error: No such image: nosuch:latest")
	wantLines(t, "images", s.ok("images", "-q"))
	s.checkClean()

	r = s.fail(1, "rmi")
	wantContains(t, "no argument", r.Stderr, `"strata rmi" requires at least 1 argument.`)
}

// TestDigestReferenceOtherRepository: NAME@DIGEST names an image only when
// NAME is one of its repositories (Docker: "busybox@sha256:abc... shouldn't
// match asdf@sha256:abc..."). rmi with a stranger's name must not delete it.
func TestDigestReferenceOtherRepository(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.load(dockerArchive(t, imgSpec{layers: [][]byte{rootfs(t, "dig", 100)}, tags: []string{"dig:1"}}))
	dg := s.manifestDigest("dig:1")
	r := s.fail(1, "image", "inspect", "-f", "{{.Id}}", "other@"+dg)
	wantLines(t, "inspect", r.Stderr, "Error: No such image: other@"+dg)
	r = s.fail(1, "rmi", "other@"+dg)
	wantLines(t, "rmi", r.Stderr, "Error: No such image: other@"+dg)
	wantLines(t, "still there", s.ok("images", "--format", "{{.Repository}}:{{.Tag}}"), "dig:1")
}
