package registry

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// TestPullPushErrors checks what pull and push say when there is nothing
// to pull or push, or no registry.
func TestPullPushErrors(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "", registryOpts{})
	host := reg.addr
	s := newSandbox(t)
	s.loadLayers(host+"/app:v1", randomLayers(t, 70, 1, 4096))
	s.ok("push", host+"/app:v1")
	p := s.withRoot("pulled")

	// A tag the repository lacks: Docker says "manifest for ... not found".
	r := p.fail(1, "pull", host+"/app:nope")
	testbin.WantContains(t, "pull of a missing tag", r.Stderr, "manifest for "+host+"/app:nope not found")
	testbin.WantNotContains(t, "pull of a missing tag", r.Stderr, "pull access denied")
	testbin.WantNotContains(t, "pull of a missing tag (stdout)", r.Stdout, "Pulling from")
	// A repository the registry lacks.
	r = p.fail(1, "pull", host+"/nothere:v1")
	testbin.WantContains(t, "pull of a missing repository", strings.ToLower(r.Stderr), "not found")
	if got := p.out("images", "-q"); got != "" {
		t.Errorf("failed pulls left images: %q", got)
	}

	// Pushing what the store lacks.
	r = s.fail(1, "push", host+"/nothere:v1")
	testbin.WantContains(t, "push of a missing image", strings.ToLower(r.Stderr), "an image does not exist locally with the tag: "+host+"/nothere")

	// No registry on the port: a prompt failure naming the cause.
	closed := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t, "127.0.0.1"))
	start := time.Now()
	r = p.fail(1, "pull", closed+"/app:v1")
	testbin.WantContains(t, "pull from a closed port", r.Stderr, "connection refused")
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("pull from a closed port took %v", d)
	}
	s.ok("tag", host+"/app:v1", closed+"/app:v1")
	r = s.fail(1, "push", closed+"/app:v1")
	testbin.WantContains(t, "push to a closed port", r.Stderr, "connection refused")
}
