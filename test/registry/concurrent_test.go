package registry

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// TestConcurrentPushPull pushes one image from several stores at once to
// one tag, then pulls it into several stores at once.
func TestConcurrentPushPull(t *testing.T) {
	t.Parallel()
	const n = 4
	reg := startRegistry(t, "", registryOpts{})
	ref := reg.addr + "/race/app:v1"
	layers := randomLayers(t, 80, 3, 512<<10)
	base := newSandbox(t)
	stores := make([]*sandbox, n)
	var id string
	for i := range stores {
		stores[i] = base.withRoot(fmt.Sprintf("push%d", i))
		id = stores[i].loadLayers(ref, layers)
	}
	results := make([]testbin.Result, n)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { results[i] = s.run("push", ref) })
	}
	wg.Wait()
	var digest string
	for i, r := range results {
		if r.Code != 0 {
			t.Fatalf("concurrent push %d: %s", i, r)
		}
		d := parsePush(t, r.Stdout).digest
		if digest == "" {
			digest = d
		} else if d != digest {
			t.Errorf("concurrent pushes printed digests %s and %s", digest, d)
		}
	}
	if raw, _, code := manifestOf(t, reg.url(), "race/app", "v1"); code != http.StatusOK || digestOf(raw) != digest {
		t.Errorf("after concurrent pushes the registry serves %d %s, want %s", code, digestOf(raw), digest)
	}

	for i := range stores {
		stores[i] = base.withRoot(fmt.Sprintf("pull%d", i))
	}
	for i, s := range stores {
		wg.Go(func() { results[i] = s.run("pull", ref) })
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != 0 {
			t.Fatalf("concurrent pull %d: %s", i, r)
		}
		if got := stores[i].out("inspect", "-f", "{{.Id}}", ref); got != id {
			t.Errorf("concurrent pull %d: ID %s, want %s", i, got, id)
		}
		stores[i].checkClean()
	}
}
