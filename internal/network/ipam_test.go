package network

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

func alwaysAlive(string) bool { return true }

func TestPoolAllocateRoundRobin(t *testing.T) {
	st := &poolState{Subnet: "10.9.0.0/29", Gateway: "10.9.0.1"}
	var got []string
	for i := range 5 {
		a, err := st.allocate(fmt.Sprint("c", i), alwaysAlive)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	want := []string{"10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"} // not .0, .1 (gateway) or .7 (broadcast)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("allocated %v, want %v", got, want)
	}
	if _, err := st.allocate("full", alwaysAlive); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("allocate in a full subnet: %v", err)
	}
	// A released address is not reused at once: the pool moves on, wrapping.
	if n := st.release("c1"); n != 1 {
		t.Fatalf("release freed %d addresses", n)
	}
	st.release("c3")
	a, _ := st.allocate("x", alwaysAlive)
	b, _ := st.allocate("y", alwaysAlive)
	if a.String() != "10.9.0.3" || b.String() != "10.9.0.5" {
		t.Fatalf("after release got %s, %s; want 10.9.0.3, 10.9.0.5", a, b)
	}
	// When full, addresses of containers whose namespace is gone are reclaimed.
	a, err := st.allocate("z", func(id string) bool { return id != "c4" })
	if err != nil || a.String() != "10.9.0.6" {
		t.Fatalf("reclaiming allocation: %s, %v", a, err)
	}
}

func TestPoolGatewayNotFirst(t *testing.T) {
	sc, err := parseSubnet("10.9.0.254/24")
	if err != nil {
		t.Fatal(err)
	}
	if sc.gateway.String() != "10.9.0.254" || sc.prefix.String() != "10.9.0.0/24" {
		t.Fatalf("parseSubnet = %v %v", sc.prefix, sc.gateway)
	}
	st := &poolState{Subnet: sc.prefix.String(), Gateway: sc.gateway.String(), Last: "10.9.0.253"}
	a, err := st.allocate("c", alwaysAlive)
	if err != nil || a.String() != "10.9.0.1" { // skips .254 (gateway) and .255 (broadcast), wraps
		t.Fatalf("allocate = %s, %v; want 10.9.0.1", a, err)
	}
	for _, bad := range []string{"10.9.0.0", "10.9.0.0/31", "10.9.0.0/4", "fd00::/64", "10.9.0.255/24", "x"} {
		if _, err := parseSubnet(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("parseSubnet(%q) = %v, want invalid argument", bad, err)
		}
	}
}

func TestIsBroadcast(t *testing.T) {
	p := netip.MustParsePrefix("10.1.0.0/16")
	for addr, want := range map[string]bool{"10.1.255.255": true, "10.1.255.254": false, "10.1.0.255": false} {
		if got := isBroadcast(p, netip.MustParseAddr(addr)); got != want {
			t.Errorf("isBroadcast(%s) = %v", addr, got)
		}
	}
}

// TestPoolConcurrent hammers one pool file from many goroutines, each with its
// own pool value and file descriptor, as separate processes would.
func TestPoolConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 40
	var wg sync.WaitGroup
	addrs := make([]netip.Addr, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			p := pool{dir: dir, bridge: "br"}
			errs[i] = p.update(func(st *poolState) error {
				st.Subnet, st.Gateway = "10.9.0.0/24", "10.9.0.1"
				var err error
				addrs[i], err = st.allocate(fmt.Sprint("c", i), alwaysAlive)
				return err
			})
		})
	}
	wg.Wait()
	seen := map[netip.Addr]int{}
	for i, a := range addrs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if j, dup := seen[a]; dup {
			t.Fatalf("address %s given to c%d and c%d", a, j, i)
		}
		seen[a] = i
	}
	st, err := pool{dir: dir, bridge: "br"}.load()
	if err != nil || len(st.Allocations) != n {
		t.Fatalf("state has %d allocations (%v), want %d", len(st.Allocations), err, n)
	}
}
