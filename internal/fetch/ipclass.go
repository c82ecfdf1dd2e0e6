package fetch

import (
	"fmt"
	"net/netip"
	"syscall"
)

// cgnat is the shared address space of RFC 6598, used by carrier-grade NAT
// and by some cloud providers for internal services.
var (
	cgnat      = netip.MustParsePrefix("100.64.0.0/10")
	thisNet    = netip.MustParsePrefix("0.0.0.0/8")
	siteLocal  = netip.MustParsePrefix("fec0::/10")
	broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})
)

// isPrivate reports whether ip is a destination a build may not reach without
// --allow-private-network: loopback, link-local, private, CGNAT, ULA,
// unspecified, broadcast or multicast. An IPv4-mapped IPv6 address is judged
// by the IPv4 address it carries, and an invalid address counts as private
// (fail closed).
func isPrivate(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	ip = ip.WithZone("").Unmap()
	switch {
	case ip.IsLoopback(),
		ip.IsPrivate(),
		ip.IsUnspecified(),
		ip.IsLinkLocalUnicast(),
		ip.IsLinkLocalMulticast(),
		ip.IsInterfaceLocalMulticast(),
		ip.IsMulticast(),
		ip == broadcast4,
		cgnat.Contains(ip),
		thisNet.Contains(ip),
		siteLocal.Contains(ip):
		return true
	}
	return false
}

// privateAddrError is what the dial guard returns; Download turns it into
// an errdefs.ErrPermission error naming the URL.
type privateAddrError struct {
	addr netip.Addr
	raw  string // the dialled address when it did not parse
}

func (e *privateAddrError) Error() string {
	return "refusing to connect to private address " + e.describe()
}

// describe names the refused address.
func (e *privateAddrError) describe() string {
	if e.addr.IsValid() {
		return e.addr.String()
	}
	return fmt.Sprintf("%q", e.raw)
}

// refusePrivate is the dial guard used unless private destinations are
// allowed.
func refusePrivate(ap netip.AddrPort) error {
	if isPrivate(ap.Addr()) {
		return &privateAddrError{addr: ap.Addr().WithZone("").Unmap()}
	}
	return nil
}

// dialControl adapts a guard to net.Dialer.Control, which sees the resolved
// "ip:port" the socket is about to connect to. An address that does not
// parse is refused.
func dialControl(guard func(netip.AddrPort) error) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &privateAddrError{raw: address}
		}
		return guard(ap)
	}
}
