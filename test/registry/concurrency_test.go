package registry

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// inflightProxy forwards to a registry, holds every layer transfer (blob
// GET or upload PATCH) for a moment, and records how many ran at once.
type inflightProxy struct {
	rp *httputil.ReverseProxy

	mu        sync.Mutex
	now, peak map[string]int // by "GET" and "PATCH"
}

func newInflightProxy(t *testing.T, target string) string {
	t.Helper()
	u, _ := url.Parse("http://" + target)
	p := &inflightProxy{rp: httputil.NewSingleHostReverseProxy(u), now: map[string]int{}, peak: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	proxies.Store(ln.Addr().String(), p)
	return ln.Addr().String()
}

// proxies maps a proxy's address to it, for the test to read its peaks.
var proxies sync.Map

func (p *inflightProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A layer upload is a PATCH of unknown length (the layer is compressed
	// on the way); the config's has a length, and is not a layer.
	transfer := (r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:")) ||
		(r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.ContentLength < 0)
	if transfer {
		p.mu.Lock()
		p.now[r.Method]++
		p.peak[r.Method] = max(p.peak[r.Method], p.now[r.Method])
		p.mu.Unlock()
		time.Sleep(150 * time.Millisecond)
		defer func() {
			p.mu.Lock()
			p.now[r.Method]--
			p.mu.Unlock()
		}()
	}
	p.rp.ServeHTTP(w, r)
}

func peak(t *testing.T, addr, method string) int {
	v, _ := proxies.Load(addr)
	p := v.(*inflightProxy)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak[method]
}

// TestTransferConcurrency: daemon.json's max-concurrent-uploads and
// max-concurrent-downloads bound the layers a push and a pull move at
// once; without them several move together.
func TestTransferConcurrency(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	layers := randomLayers(t, 170, 4, 16<<10)
	limited := s.withRoot("limited")
	limited.conf = filepath.Join(s.base, "limited.json")
	conf, _ := json.Marshal(map[string]int{"max-concurrent-uploads": 1, "max-concurrent-downloads": 1})
	testbin.WriteFile(t, limited.conf, string(conf))

	for _, c := range []struct {
		name string
		s    *sandbox
		one  bool
	}{{"default", s, false}, {"limited", limited, true}} {
		// A registry of its own each, so nothing is mounted or skipped.
		addr := newInflightProxy(t, startRegistry(t, "", registryOpts{}).addr)
		ref := addr + "/conc:v1"
		c.s.loadLayers(ref, layers)
		c.s.ok("push", ref)
		c.s.ok("rmi", ref)
		c.s.ok("pull", ref)
		for _, m := range []string{"PATCH", "GET"} {
			got := peak(t, addr, m)
			if c.one && got != 1 || !c.one && got < 2 {
				t.Errorf("%s: %d layer %ss at once", c.name, got, m)
			}
		}
	}
}
