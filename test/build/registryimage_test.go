package build

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// TestRegistryImage builds the "registry" image from deploy/registry (what
// `make registry-image` does) and runs the seeds' command verbatim, but for
// the published port: a private registry that takes a push.
func TestRegistryImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root, err := testbin.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	df, err := os.ReadFile(filepath.Join(root, "deploy/registry/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(strataBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "strata"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	e.buildOK(string(df), "-t", "registry")
	wantJSON(t, "Entrypoint", e.config("registry", "Entrypoint"), `["/bin/strata","registry","serve"]`)

	port := itoa(testbin.FreePort(t, "127.0.0.1"))
	data := filepath.Join(e.base, "xx")
	e.ok("run", "-d", "-p", "127.0.0.1:"+port+":5000", "--restart=always", "-v", data+":/var/lib/registry", "--name", "registry", "registry")
	t.Cleanup(func() { e.exec("rm", "-f", "registry") })
	if !testbin.WaitFor(20*time.Second, func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("the registry container does not answer; logs:\n%s", e.exec("logs", "registry"))
	}
	target := "127.0.0.1:" + port + "/seed/busybox:1"
	e.ok("tag", "busybox", target)
	testbin.WantContains(t, "push to the registry container", e.ok("push", target), "1: digest: sha256:")
	if _, err := os.Stat(filepath.Join(data, "content", "blobs", "sha256")); err != nil {
		t.Fatalf("the registry did not store under the volume: %v", err)
	}
}
