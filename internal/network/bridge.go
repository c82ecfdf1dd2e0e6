package network

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// subnetConfig is a bridge subnet and its gateway.
type subnetConfig struct {
	prefix  netip.Prefix // masked
	gateway netip.Addr
}

// parseSubnet reads "10.88.0.0/16" (gateway = first address) or
// "10.88.0.254/16" (gateway = that address).
func parseSubnet(s string) (subnetConfig, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return subnetConfig{}, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid subnet %q: want an IPv4 CIDR such as 10.88.0.0/16", s)
	}
	if p.Bits() < 8 || p.Bits() > 30 {
		return subnetConfig{}, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid subnet %q: prefix length must be between 8 and 30", s)
	}
	sc := subnetConfig{prefix: p.Masked(), gateway: p.Addr()}
	if sc.gateway == sc.prefix.Addr() {
		sc.gateway = sc.gateway.Next()
	}
	if isBroadcast(sc.prefix, sc.gateway) {
		return subnetConfig{}, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid subnet %q: gateway is the broadcast address", s)
	}
	return sc, nil
}

func (sc subnetConfig) gatewayCIDR() *net.IPNet {
	return &net.IPNet{IP: sc.gateway.AsSlice(), Mask: net.CIDRMask(sc.prefix.Bits(), 32)}
}

// hostVethName is the host end of a container's veth pair. It is derived from
// the container ID so that Teardown finds it without any record.
func hostVethName(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "veth" + hex.EncodeToString(sum[:])[:11] // 15 bytes, the kernel's limit
}

// ensureBridge creates the bridge if needed, gives it the gateway address
// (dropping other IPv4 addresses) and brings it up. It reports whether the
// bridge was created.
func ensureBridge(name string, sc subnetConfig) (netlink.Link, bool, error) {
	created := false
	br, err := netlink.LinkByName(name)
	if isLinkNotFound(err) {
		if err := checkOverlap(name, sc.prefix); err != nil {
			return nil, false, err
		}
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		attrs.HardwareAddr = randomMAC() // a fixed MAC: otherwise the bridge takes its lowest port's and changes as containers come and go
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, false, fmt.Errorf("create bridge %s: %w", name, err)
		}
		created = true
		br, err = netlink.LinkByName(name)
	}
	if err != nil {
		return nil, false, fmt.Errorf("find bridge %s: %w", name, err)
	}
	if _, ok := br.(*netlink.Bridge); !ok {
		return nil, false, errdefs.Newf(errdefs.ErrConflict, "interface %s exists and is not a bridge (%s)", name, br.Type())
	}
	if err := setBridgeAddr(br, sc); err != nil {
		return nil, false, err
	}
	if br.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(br); err != nil {
			return nil, false, fmt.Errorf("bring up bridge %s: %w", name, err)
		}
	}
	return br, created, nil
}

func setBridgeAddr(br netlink.Link, sc subnetConfig) error {
	want := sc.gatewayCIDR()
	addrs, err := netlink.AddrList(br, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", br.Attrs().Name, err)
	}
	have := false
	for _, a := range addrs {
		if a.IPNet.String() == want.String() {
			have = true
			continue
		}
		if err := netlink.AddrDel(br, &a); err != nil {
			return fmt.Errorf("remove address %s from %s: %w", a.IPNet, br.Attrs().Name, err)
		}
	}
	if have {
		return nil
	}
	if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: want}); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add address %s to %s: %w", want, br.Attrs().Name, err)
	}
	return nil
}

// checkOverlap refuses a subnet that overlaps a route the host already has
// (other than through the bridge itself), which would cut the host off.
func checkOverlap(bridge string, subnet netip.Prefix) error {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list host routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue // default route
		}
		dst, ok := netipPrefix(r.Dst)
		if !ok || dst.Bits() == 0 || !dst.Overlaps(subnet) {
			continue
		}
		dev := fmt.Sprintf("index %d", r.LinkIndex)
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
			if l.Attrs().Name == bridge {
				continue
			}
			dev = l.Attrs().Name
		}
		return errdefs.Newf(errdefs.ErrConflict, "subnet %s overlaps the host route %s on %s", subnet, dst, dev)
	}
	return nil
}

func netipPrefix(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), bits).Masked(), true
}

// attachVeth creates the container's veth pair: hostName on the bridge, up,
// and its peer created directly inside the namespace at nsPath as eth0 with
// addr and a default route via the gateway. It returns eth0's MAC address.
func attachVeth(br netlink.Link, hostName, nsPath string, addr netip.Addr, sc subnetConfig) (string, error) {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return "", fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer ns.Close()

	attrs := netlink.NewLinkAttrs()
	attrs.Name = hostName
	attrs.MasterIndex = br.Attrs().Index
	attrs.MTU = br.Attrs().MTU
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: "eth0", PeerNamespace: netlink.NsFd(ns)}
	if err := netlink.LinkAdd(veth); err != nil {
		return "", fmt.Errorf("create veth %s: %w", hostName, err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		return "", fmt.Errorf("bring up veth %s: %w", hostName, err)
	}

	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return "", fmt.Errorf("netlink in namespace %s: %w", nsPath, err)
	}
	defer h.Close()
	if err := loUp(h); err != nil {
		return "", err
	}
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		return "", fmt.Errorf("find eth0 in namespace: %w", err)
	}
	ipnet := &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(sc.prefix.Bits(), 32)}
	if err := h.AddrAdd(eth0, &netlink.Addr{IPNet: ipnet}); err != nil {
		return "", fmt.Errorf("add address %s to eth0: %w", ipnet, err)
	}
	if err := h.LinkSetUp(eth0); err != nil {
		return "", fmt.Errorf("bring up eth0: %w", err)
	}
	route := &netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: sc.gateway.AsSlice()}
	if err := h.RouteAdd(route); err != nil {
		return "", fmt.Errorf("add default route via %s: %w", sc.gateway, err)
	}
	waitOperUp(nil, hostName)
	waitOperUp(h, "eth0")
	waitOperUp(nil, br.Attrs().Name) // a new bridge gets its carrier with its first port
	return eth0.Attrs().HardwareAddr.String(), nil
}

// linkReadyTimeout bounds waitOperUp.
const linkReadyTimeout = 2 * time.Second

// waitOperUp waits until the kernel reports the link operationally up. A
// new veth gets its carrier from the kernel's link watcher a little after
// "ip link set up" returns; until then it drops packets (its qdisc is still
// the no-op one) and the bridge port is disabled, so a container that sends
// at once loses its first ARP request and waits a second for the retry. A
// new bridge is worse: its carrier event is not urgent for the link watcher
// and may wait up to a second. Waiting here usually costs well under a
// millisecond. h nil means the host.
func waitOperUp(h *netlink.Handle, name string) {
	if h == nil {
		h = &netlink.Handle{}
	}
	deadline := time.Now().Add(linkReadyTimeout)
	for pause := 50 * time.Microsecond; time.Now().Before(deadline); pause = min(2*pause, 10*time.Millisecond) {
		l, err := h.LinkByName(name)
		if err != nil || l.Attrs().OperState == netlink.OperUp {
			return
		}
		time.Sleep(pause)
	}
}

// setupLoopback brings lo up in the namespace at nsPath.
func setupLoopback(nsPath string) error {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in namespace %s: %w", nsPath, err)
	}
	defer h.Close()
	return loUp(h)
}

func loUp(h *netlink.Handle) error {
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	return nil
}

// deleteLink removes the named link; a missing one is fine.
func deleteLink(name string) error {
	l, err := netlink.LinkByName(name)
	if isLinkNotFound(err) {
		return nil
	}
	if err == nil {
		err = netlink.LinkDel(l)
	}
	if err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete interface %s: %w", name, err)
	}
	return nil
}

func isLinkNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

// randomMAC returns a random, locally administered unicast MAC address.
func randomMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	rand.Read(mac)
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}
