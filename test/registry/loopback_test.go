package registry

import (
	"net"
	"strings"
	"testing"
)

// TestLoopbackNames reaches loopback registries by the names a user may
// type: localhost and an IPv6 address. Both go over plain http without
// configuration.
func TestLoopbackNames(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "", registryOpts{})
	_, port, _ := net.SplitHostPort(reg.addr)
	s := newSandbox(t)
	ref := "localhost:" + port + "/names/app:v1"
	id := s.loadLayers(ref, randomLayers(t, 140, 1, 8192))
	push := parsePush(t, s.ok("push", ref))
	// The same registry under its IP address.
	p := s.withRoot("pulled")
	if pull := parsePull(t, p.ok("pull", reg.addr+"/names/app:v1")); pull.digest != push.digest {
		t.Errorf("pull by IP of what was pushed by localhost: %s, want %s", pull.digest, push.digest)
	}

	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback here")
	}
	ln.Close()
	reg6 := startRegistry(t, "", registryOpts{host: "::1"})
	ref6 := reg6.addr + "/names/app:v1"
	if !strings.HasPrefix(ref6, "[::1]:") {
		t.Fatalf("IPv6 registry address %q", ref6)
	}
	s.ok("tag", ref, ref6)
	push6 := parsePush(t, s.ok("push", ref6))
	p6 := s.withRoot("pulled6")
	pull6 := parsePull(t, p6.ok("pull", ref6))
	if pull6.digest != push6.digest || pull6.name != ref6 {
		t.Errorf("pull from [::1]: digest %s name %q", pull6.digest, pull6.name)
	}
	if got := p6.out("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"); got != ref6+" "+short(id) {
		t.Errorf("images after the IPv6 pull: %q", got)
	}
}
