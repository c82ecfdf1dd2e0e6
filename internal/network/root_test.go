package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Root tests create namespaces, veths, test bridges (stratatest*) in
// 10.251.0.0/16 and iptables rules tagged "strata:stratatest*"; every one is
// removed in t.Cleanup, failure or not. No traffic leaves this machine.

// TestMain puts net.ipv4.ip_forward back as it found it, unless some other
// strata bridge appeared meanwhile (another package's tests may rely on it).
func TestMain(m *testing.M) {
	if os.Getenv(crashHelperEnv) != "" {
		crashHelper()
		return
	}
	orig, err := os.ReadFile(ipForwardPath)
	code := m.Run()
	if cur, _ := os.ReadFile(ipForwardPath); err == nil && string(cur) != string(orig) && !otherStrataBridge() {
		os.WriteFile(ipForwardPath, orig, 0o644)
	}
	os.Exit(code)
}

func otherStrataBridge() bool {
	links, _ := netlink.LinkList()
	for _, l := range links {
		name := l.Attrs().Name
		if l.Type() == "bridge" && strings.HasPrefix(name, "strata") && !strings.HasPrefix(name, "stratatest") {
			return true
		}
	}
	return false
}

// requireNetAdmin skips unless this process can make network namespaces.
func requireNetAdmin(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, netlink, iptables)")
	}
	probe := filepath.Join(t.TempDir(), "probe")
	if err := createNetNS(probe); err != nil {
		t.Skipf("cannot create network namespaces: %v", err)
	}
	if err := setupLoopback(probe); err != nil {
		removeNetNS(probe)
		t.Skipf("netlink unusable in a new namespace: %v", err)
	}
	if err := removeNetNS(probe); err != nil {
		t.Fatal(err)
	}
}

// requireBridge also needs a working iptables.
func requireBridge(t *testing.T) {
	t.Helper()
	requireNetAdmin(t)
	ipt, err := findIPTables(context.Background())
	if err != nil {
		t.Skipf("iptables unusable: %v", err)
	}
	t.Logf("iptables: %s (%s)", ipt.bin, ipt.variant(context.Background()))
}

// testManager returns a Manager on a private state dir and a test bridge, and
// removes everything it may leave: attachments, bridge, rules, mounts.
func testManager(t *testing.T, bridge, subnet string) *Manager {
	t.Helper()
	m := &Manager{StateDir: t.TempDir(), Bridge: bridge, Subnet: subnet}
	scrub(t, m) // a crashed earlier run may have left the bridge behind
	t.Cleanup(func() { scrub(t, m) })
	return m
}

func scrub(t *testing.T, m *Manager) {
	ctx := context.Background()
	entries, _ := os.ReadDir(filepath.Join(m.StateDir, "attachments"))
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			if err := m.Teardown(ctx, id); err != nil {
				t.Errorf("cleanup teardown %s: %v", id, err)
			}
		}
	}
	if err := m.RemoveBridge(ctx); err != nil {
		t.Errorf("cleanup RemoveBridge: %v", err)
	}
	deleteLink(m.Bridge)
	if ipt, err := findIPTables(ctx); err == nil {
		ipt.remove(ctx, m.Bridge, natRules(m.Bridge, m.Subnet))
	}
	netnsFiles, _ := filepath.Glob(filepath.Join(m.StateDir, "netns", "*"))
	for _, p := range netnsFiles {
		removeNetNS(p)
	}
}

// inNetNS runs fn on a thread inside the namespace at path. The thread is
// never unlocked, so it ends with its goroutine and nothing else runs there.
func inNetNS(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := netns.GetFromPath(path)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// nsHandle opens netlink inside a namespace.
func nsHandle(t *testing.T, path string) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// echoIn starts a TCP echo server inside a namespace and returns its address.
func echoIn(t *testing.T, nsPath, ip string) string {
	t.Helper()
	var ln net.Listener
	err := inNetNS(nsPath, func() (err error) {
		ln, err = net.Listen("tcp4", ip+":0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go tcpEcho(ln)
	return ln.Addr().String()
}

// dialFrom connects to addr from inside a namespace.
func dialFrom(nsPath, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetNS(nsPath, func() (err error) {
		c, err = net.DialTimeout("tcp4", addr, 3*time.Second)
		return err
	})
	return c, err
}

// roundTrip sends msg over c and expects it echoed.
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo: %q, %v; want %q", buf, err, msg)
	}
}

// checkGone asserts that nothing of a torn-down container is left.
func checkGone(t *testing.T, m *Manager, id string) {
	t.Helper()
	if _, err := os.Lstat(m.netnsPath(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns file of %s still there: %v", id, err)
	}
	if _, err := netlink.LinkByName(hostVethName(id)); !isLinkNotFound(err) {
		t.Errorf("veth of %s still there: %v", id, err)
	}
	if _, err := os.Lstat(m.recordPath(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record of %s still there", id)
	}
	st, err := m.pool(m.bridge()).load()
	if err != nil {
		t.Fatal(err)
	}
	for a, holder := range st.Allocations {
		if holder == id {
			t.Errorf("address %s still allocated to %s", a, id)
		}
	}
}

func TestSetupNone(t *testing.T) {
	t.Parallel()
	requireNetAdmin(t)
	m := testManager(t, "stratatest9", "10.251.9.0/24")
	ctx := context.Background()
	att, err := m.Setup(ctx, Config{ID: "none1", Mode: ModeNone, Ports: []PortMapping{{ContainerPort: 80, Proto: "tcp"}}})
	if err != nil {
		t.Fatal(err)
	}
	if att.Mode != ModeNone || att.NetNSPath != m.netnsPath("none1") || att.IP != nil || len(att.Ports) != 0 {
		t.Fatalf("attachment %+v", att)
	}
	if !isNetNS(att.NetNSPath) {
		t.Fatal("namespace not pinned")
	}
	links, err := nsHandle(t, att.NetNSPath).LinkList()
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[0].Attrs().Name != "lo" || links[0].Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("none namespace links: %v", links)
	}
	if got, err := m.Attachment("none1"); err != nil || got.NetNSPath != att.NetNSPath {
		t.Fatalf("Attachment = %+v, %v", got, err)
	}
	for range 2 { // idempotent
		if err := m.Teardown(ctx, "none1"); err != nil {
			t.Fatal(err)
		}
	}
	checkGone(t, m, "none1")
	if _, err := m.Attachment("none1"); err == nil {
		t.Fatal("Attachment after Teardown succeeded")
	}
}

func TestSetupHost(t *testing.T) {
	t.Parallel()
	m := &Manager{StateDir: t.TempDir(), Bridge: "stratatest8"}
	ctx := context.Background()
	att, err := m.Setup(ctx, Config{ID: "host1", Mode: ModeHost, Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if att.Mode != ModeHost || att.NetNSPath != "" || att.IP != nil || att.Hostname != "h" {
		t.Fatalf("attachment %+v", att)
	}
	if _, err := m.Setup(ctx, Config{ID: "host1", Mode: ModeHost}); err == nil || !strings.Contains(err.Error(), "already set up") {
		t.Fatalf("second Setup: %v", err)
	}
	if err := m.Teardown(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Attachment("host1"); err == nil {
		t.Fatal("Attachment after Teardown succeeded")
	}
	for _, cfg := range []Config{{ID: "../x"}, {ID: "ok", Mode: "container:abc"}, {ID: "ok", Mode: "mynet"}} {
		if _, err := m.Setup(ctx, cfg); err == nil {
			t.Errorf("Setup(%+v) succeeded", cfg)
		}
	}
}

func TestSetupBridge(t *testing.T) {
	t.Parallel()
	requireBridge(t)
	const bridge, subnet = "stratatest0", "10.251.1.0/24"
	m := testManager(t, bridge, subnet)
	ctx := context.Background()

	a, err := m.Setup(ctx, Config{ID: "ctr-a", Hostname: "a", Ports: []PortMapping{{HostIP: "127.0.0.1", ContainerPort: 80, Proto: "tcp"}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Setup(ctx, Config{ID: "ctr-b", Mode: ModeBridge})
	if err != nil {
		t.Fatal(err)
	}
	_, ipnet, _ := net.ParseCIDR(subnet)
	gw := net.ParseIP("10.251.1.1")
	for _, att := range []Attachment{a, b} {
		if !ipnet.Contains(att.IP) || att.IP.Equal(gw) || !att.Gateway.Equal(gw) || att.IPPrefixLen != 24 || att.Bridge != bridge || att.MacAddress == "" {
			t.Fatalf("attachment %+v", att)
		}
	}
	if a.IP.Equal(b.IP) {
		t.Fatalf("both containers got %s", a.IP)
	}
	if len(a.Ports) != 1 || a.Ports[0].HostPort == 0 || a.Ports[0].ContainerPort != 80 {
		t.Fatalf("random host port not resolved: %+v", a.Ports)
	}

	// Inside a: eth0 with its address, lo up, default route via the gateway.
	h := nsHandle(t, a.NetNSPath)
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := h.AddrList(eth0, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != fmt.Sprintf("%s/24", a.IP) {
		t.Fatalf("eth0 addresses %v, want %s/24", addrs, a.IP)
	}
	routes, _ := h.RouteList(eth0, netlink.FAMILY_V4)
	hasDefault := false
	for _, r := range routes {
		if (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw.Equal(gw) {
			hasDefault = true
		}
	}
	if !hasDefault {
		t.Fatalf("no default route via %s in %v", gw, routes)
	}
	if lo, err := h.LinkByName("lo"); err != nil || lo.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("lo not up: %v", err)
	}

	// Host side: the veth is on the bridge, the bridge has the gateway.
	veth, err := netlink.LinkByName(hostVethName("ctr-a"))
	if err != nil {
		t.Fatal(err)
	}
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		t.Fatal(err)
	}
	if veth.Attrs().MasterIndex != br.Attrs().Index {
		t.Fatal("veth is not on the bridge")
	}

	// Container to container over the bridge, and container to host.
	c, err := dialFrom(b.NetNSPath, echoIn(t, a.NetNSPath, a.IP.String()))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "b to a")
	hostLn, err := net.Listen("tcp4", gw.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer hostLn.Close()
	go tcpEcho(hostLn)
	c, err = dialFrom(a.NetNSPath, hostLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "a to host")

	// NAT rules and forwarding are in place.
	ipt, _ := findIPTables(ctx)
	for _, r := range natRules(bridge, subnet) {
		if ok, err := ipt.exists(ctx, r, bridge); !ok {
			t.Errorf("rule %v missing: %v", r.spec, err)
		}
	}
	if fwd, _ := os.ReadFile(ipForwardPath); strings.TrimSpace(string(fwd)) != "1" {
		t.Error("ip_forward is not on")
	}

	// A second Setup of an ID is refused and leaves the first intact; a
	// different subnet is refused while containers are attached.
	if _, err := m.Setup(ctx, Config{ID: "ctr-a"}); err == nil {
		t.Fatal("second Setup of ctr-a succeeded")
	}
	if !isNetNS(a.NetNSPath) {
		t.Fatal("refused Setup damaged the existing namespace")
	}
	if _, err := m.Setup(ctx, Config{ID: "ctr-c", Subnet: "10.251.7.0/24"}); err == nil || !strings.Contains(err.Error(), "uses subnet") {
		t.Fatalf("Setup with another subnet: %v", err)
	}
	checkGone(t, m, "ctr-c")
	if err := m.RemoveBridge(ctx); err == nil {
		t.Fatal("RemoveBridge with attached containers succeeded")
	}

	for _, id := range []string{"ctr-a", "ctr-b"} {
		if err := m.Teardown(ctx, id); err != nil {
			t.Fatal(err)
		}
		checkGone(t, m, id)
	}
	if err := m.RemoveBridge(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(bridge); !isLinkNotFound(err) {
		t.Fatalf("bridge still there: %v", err)
	}
	for _, r := range natRules(bridge, subnet) {
		if ok, _ := ipt.exists(ctx, r, bridge); ok {
			t.Errorf("rule %v left behind", r.spec)
		}
	}
}
