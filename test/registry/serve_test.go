package registry

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// serveFails runs `strata registry serve args...`, which must exit 1
// within 3 s (a server that starts is stopped and reported); it returns
// stderr.
func serveFails(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin, append([]string{"registry", "serve"}, args...)...)
	cmd.Env = testbin.Env("HOME=" + t.TempDir())
	r, err := testbin.Capture(cmd)
	if ctx.Err() != nil {
		t.Errorf("registry serve %s: still serving after 3 s, want an error\n%s", strings.Join(args, " "), r)
		return r.Stderr
	}
	if err != nil || r.Code != 1 {
		t.Errorf("registry serve %s: want exit 1, got %v\n%s", strings.Join(args, " "), err, r)
	}
	return r.Stderr
}

// TestServeFlags checks `registry serve`'s refusals and -q.
func TestServeFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t, "127.0.0.1"))
	root := filepath.Join(dir, "store")
	cert, key := writeCert(t, dir, net.IPv4(127, 0, 0, 1))

	bad := testbin.WriteFile(t, filepath.Join(dir, "bad.yml"), "storage:\n  filesystem:\n    root: "+root+"\nbogus: 1\n")
	testbin.WantContains(t, "config with an unknown key", serveFails(t, "--config", bad, "--addr", addr), "bogus")
	missing := filepath.Join(dir, "missing-htpasswd")
	testbin.WantContains(t, "missing htpasswd", serveFails(t, "--root", root, "--addr", addr, "--htpasswd", missing), missing)
	halfTLS := testbin.WriteFile(t, filepath.Join(dir, "half.yml"), "storage:\n  filesystem:\n    root: "+root+"\ntls:\n  cert: "+cert+"\n")
	testbin.WantContains(t, "config with a certificate and no key", serveFails(t, "--config", halfTLS, "--addr", addr), "key")
	// The flags are held to what the file is.
	testbin.WantContains(t, "--tls-cert without --tls-key", serveFails(t, "--root", root, "--addr", addr, "--tls-cert", cert), "key")
	testbin.WantContains(t, "--tls-key without --tls-cert", serveFails(t, "--root", root, "--addr", addr, "--tls-key", key), "cert")

	// -q: no access log.
	reg := startRegistry(t, dir, registryOpts{args: []string{"-q"}})
	if _, code := getBlob(t, reg.url(), "quiet/app", "sha256:"+strings.Repeat("a", 64)); code != 404 {
		t.Errorf("GET of an unknown blob: %d", code)
	}
	time.Sleep(100 * time.Millisecond)
	if log := reg.log.String(); strings.Contains(log, `"msg":"request"`) {
		t.Errorf("registry serve -q logged requests:\n%s", log)
	}
	// A second server on the same address fails at once.
	testbin.WantContains(t, "address in use", serveFails(t, "--root", root, "--addr", reg.addr), "address already in use")
}
