package registry

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// buildImage builds a Dockerfile in a fresh context holding files (name ->
// content) and tags it; it returns the image ID.
func (s *sandbox) buildImage(tag, dockerfile string, files map[string][]byte) string {
	s.t.Helper()
	ctx, err := os.MkdirTemp(s.base, "ctx-")
	if err != nil {
		s.t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(ctx, name), data, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	testbin.WriteFile(s.t, filepath.Join(ctx, "Dockerfile"), dockerfile)
	id := strings.TrimSpace(s.ok("build", "-q", "-t", tag, ctx))
	if !strings.HasPrefix(id, "sha256:") {
		s.t.Fatalf("build -q printed %q, want an image ID", id)
	}
	return id
}

// TestBuildPushPull pushes a multi-layer image strata built, builds
// another image FROM it through the registry, and pushes that too.
func TestBuildPushPull(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "", registryOpts{})
	host := reg.addr
	s := newSandbox(t)
	files := map[string][]byte{}
	for i := range 3 {
		files[fmt.Sprintf("f%d", i)] = randomBytes(uint64(100+i), 200<<10)
	}
	base := host + "/built/base:v1"
	id := s.buildImage(base, "FROM scratch\nCOPY f0 /f0\nCOPY f1 /f1\nCOPY f2 /f2\n", files)
	push := parsePush(t, s.ok("push", base))
	if n := push.statuses(); n["Pushed"] < 3 {
		t.Errorf("push of a built image: %v", push.status)
	}
	p := s.withRoot("pulled")
	p.ok("pull", base)
	if got := p.out("inspect", "-f", "{{.Id}} {{len .RootFS.Layers}}", base); got != id+" 3" {
		t.Errorf("pulled built image: %q, want %s 3", got, id)
	}

	// A fresh store builds FROM the image in the registry, which pulls it.
	b := s.withRoot("builder")
	child := host + "/built/child:v1"
	b.buildImage(child, "FROM "+base+"\nCOPY extra /extra\n", map[string][]byte{"extra": randomBytes(110, 64<<10)})
	if got := b.out("inspect", "-f", "{{.Id}}", base); got != id {
		t.Errorf("the build pulled the base as %s, want %s", got, id)
	}
	m := reg.mark()
	cp := parsePush(t, b.ok("push", child))
	n := cp.statuses()
	if n["Pushed"] < 1 || n["Mounted from built/base"] < 3 {
		t.Errorf("push of a child image: %v, want 3 layers mounted from built/base and the new one pushed", cp.status)
	}
	puts := 0
	for _, e := range reg.since(m) {
		if e.Route == "upload" && e.Method == "PUT" {
			puts++
		}
	}
	if puts > 2 {
		t.Errorf("push of a child image completed %d uploads, want the new layer and the config only", puts)
	}
	c := s.withRoot("child")
	c.ok("pull", child)
	if got := c.out("inspect", "-f", "{{len .RootFS.Layers}}", child); got != "4" {
		t.Errorf("pulled child has %s layers, want 4", got)
	}
	c.checkClean()
}

// TestPullSharedLayers pulls an image whose first layers a pulled image
// already brought.
func TestPullSharedLayers(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "", registryOpts{})
	s := newSandbox(t)
	layers := randomLayers(t, 120, 3, 64<<10)
	more := append(append([][]byte{}, layers[:2]...), randomLayers(t, 121, 1, 64<<10)...)
	s.loadLayers(reg.addr+"/shared/one:v1", layers)
	s.loadLayers(reg.addr+"/shared/two:v1", more)
	s.ok("push", reg.addr+"/shared/one:v1")
	s.ok("push", reg.addr+"/shared/two:v1")
	p := s.withRoot("pulled")
	p.ok("pull", reg.addr+"/shared/one:v1")
	m := reg.mark()
	pull := parsePull(t, p.ok("pull", reg.addr+"/shared/two:v1"))
	if n := pull.statuses(); n["Already exists"] != 2 || n["Pull complete"] != 1 {
		t.Errorf("pull with two shared layers: %v", pull.status)
	}
	gets := 0
	for _, e := range reg.since(m) {
		if e.Route == "blob" && e.Method == "GET" {
			gets++
		}
	}
	if gets != 2 {
		t.Errorf("pull with two shared layers fetched %d blobs, want 2 (config and the new layer)", gets)
	}
	// Removing one image keeps the other whole.
	p.ok("rmi", reg.addr+"/shared/one:v1")
	p.checkClean()
	if got := p.out("inspect", "-f", "{{len .RootFS.Layers}}", reg.addr+"/shared/two:v1"); got != "3" {
		t.Errorf("shared/two after rmi of shared/one: %s layers", got)
	}
}
