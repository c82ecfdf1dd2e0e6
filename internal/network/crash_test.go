package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// crashHelperEnv makes the test binary set up one container and kill -9
// itself: "stateDir|bridge|subnet|id".
const crashHelperEnv = "STRATA_NETWORK_CRASH_HELPER"

func crashHelper() {
	f := strings.Split(os.Getenv(crashHelperEnv), "|")
	m := &Manager{StateDir: f[0], Bridge: f[1], Subnet: f[2]}
	if _, err := m.Setup(context.Background(), Config{ID: f[3]}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func TestTeardownAfterCrash(t *testing.T) {
	t.Parallel()
	requireBridge(t)
	const bridge, subnet = "stratatest3", "10.251.4.0/24"
	m := testManager(t, bridge, subnet)
	ctx := context.Background()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+strings.Join([]string{m.StateDir, bridge, subnet, "crashed"}, "|"))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper did not die by SIGKILL: %v\n%s", err, out)
	}

	// A fresh Manager (another process, in effect) sees what the dead one set up.
	fresh := &Manager{StateDir: m.StateDir, Bridge: bridge}
	att, err := fresh.Attachment("crashed")
	if err != nil {
		t.Fatal(err)
	}
	if !isNetNS(att.NetNSPath) {
		t.Fatal("namespace did not outlive the process that made it")
	}
	if _, err := netlink.LinkByName(hostVethName("crashed")); err != nil {
		t.Fatalf("veth gone with its creator: %v", err)
	}
	if err := fresh.Teardown(ctx, "crashed"); err != nil {
		t.Fatal(err)
	}
	checkGone(t, fresh, "crashed")

	// Half set up: the namespace and veth already vanished by hand.
	att, err = m.Setup(ctx, Config{ID: "half"})
	if err != nil {
		t.Fatal(err)
	}
	if err := deleteLink(hostVethName("half")); err != nil {
		t.Fatal(err)
	}
	if err := removeNetNS(att.NetNSPath); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Teardown(ctx, "half"); err != nil {
		t.Fatalf("Teardown of a half-gone network: %v", err)
	}
	checkGone(t, m, "half")

	// Killed right after the record was written, before anything else.
	rec := &record{ID: "early", Attachment: Attachment{Mode: ModeBridge, Bridge: bridge, NetNSPath: m.netnsPath("early")}}
	if err := m.reserve(rec); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Attachment("early"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("Attachment of an unfinished setup: %v", err)
	}
	if err := fresh.Teardown(ctx, "early"); err != nil {
		t.Fatal(err)
	}
	checkGone(t, m, "early")
	if err := fresh.Teardown(ctx, "never-existed"); err != nil {
		t.Fatalf("Teardown of an unknown id: %v", err)
	}
}

// TestConcurrentSetup runs Setups at once through separate Managers (as
// separate strata processes would) and checks no address is handed out twice.
func TestConcurrentSetup(t *testing.T) {
	t.Parallel()
	requireBridge(t)
	const bridge, subnet, n = "stratatest1", "10.251.2.0/24", 8
	m := testManager(t, bridge, subnet)
	ctx := context.Background()
	atts := make([]Attachment, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			mi := &Manager{StateDir: m.StateDir, Bridge: bridge, Subnet: subnet}
			atts[i], errs[i] = mi.Setup(ctx, Config{ID: fmt.Sprint("conc", i), Ports: []PortMapping{{HostIP: "127.0.0.1", ContainerPort: 80, Proto: "tcp"}}})
		})
	}
	wg.Wait()
	ips := map[string]int{}
	ports := map[uint16]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Setup conc%d: %v", i, errs[i])
		}
		ip := atts[i].IP.String()
		if j, dup := ips[ip]; dup {
			t.Fatalf("conc%d and conc%d both got %s", j, i, ip)
		}
		ips[ip] = i
		port := atts[i].Ports[0].HostPort
		if j, dup := ports[port]; dup {
			t.Fatalf("conc%d and conc%d both got host port %d", j, i, port)
		}
		ports[port] = i
		// The address really is on the container's eth0.
		h := nsHandle(t, atts[i].NetNSPath)
		eth0, err := h.LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		if addrs, _ := h.AddrList(eth0, netlink.FAMILY_V4); len(addrs) != 1 || !addrs[0].IP.Equal(atts[i].IP) {
			t.Fatalf("conc%d eth0 has %v, want %s", i, addrs, ip)
		}
	}
	for i := range n {
		if err := m.Teardown(ctx, fmt.Sprint("conc", i)); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := m.pool(bridge).load()
	if len(st.Allocations) != 0 {
		t.Fatalf("allocations left: %v", st.Allocations)
	}
}

// TestBridgeNAT checks that a container reaches a network only the host
// reaches, masqueraded as the host. The "outside" is another namespace on
// this machine, joined to the host by a veth pair in 10.252.3.0/24.
func TestBridgeNAT(t *testing.T) {
	t.Parallel()
	requireBridge(t)
	const bridge, subnet = "stratatest2", "10.251.3.0/24"
	m := testManager(t, bridge, subnet)
	ctx := context.Background()
	outside := makeOutside(t, "stxhost", "10.252.3.1/24", "10.252.3.2/24")

	att, err := m.Setup(ctx, Config{ID: "natc"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Teardown(ctx, "natc")

	// The outside server answers with the address it sees the client at.
	var ln net.Listener
	if err := inNetNS(outside, func() (err error) { ln, err = net.Listen("tcp4", "10.252.3.2:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			c.Write([]byte(host))
			c.Close()
		}
	}()
	c, err := dialFrom(att.NetNSPath, ln.Addr().String())
	if err != nil {
		t.Fatalf("container cannot reach the outside: %v", err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	if got := string(buf[:n]); got != "10.252.3.1" {
		t.Fatalf("outside saw the container as %q, want the host's 10.252.3.1 (masquerade)", got)
	}
}

// makeOutside creates a namespace joined to the host by a veth pair (hostName
// on the host with hostAddr, eth0 inside with nsAddr) and removes both on
// cleanup.
func makeOutside(t *testing.T, hostName, hostAddr, nsAddr string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "outside")
	deleteLink(hostName)
	if err := createNetNS(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		deleteLink(hostName)
		removeNetNS(path)
	})
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = hostName
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: "eth0", PeerNamespace: netlink.NsFd(ns)}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	ha, _ := netlink.ParseAddr(hostAddr)
	if err := netlink.AddrAdd(veth, ha); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		t.Fatal(err)
	}
	h := nsHandle(t, path)
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	na, _ := netlink.ParseAddr(nsAddr)
	if err := h.AddrAdd(eth0, na); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(eth0); err != nil {
		t.Fatal(err)
	}
	waitOperUp(nil, hostName)
	waitOperUp(h, "eth0")
	return path
}
