package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/flock"
)

// reserve writes the first record of a Setup under the manager lock: it
// refuses an ID that already has a network, resolves random host ports and
// checks published ports against those of every other container.
func (m *Manager) reserve(rec *record) error {
	dir := filepath.Join(m.StateDir, "attachments")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create attachments directory: %w", err)
	}
	unlock, err := flock.Exclusive(filepath.Join(m.StateDir, "lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(m.recordPath(rec.ID)); err == nil {
		return errdefs.Newf(errdefs.ErrAlreadyExists, "network of container %s is already set up", rec.ID)
	}
	if len(rec.Ports) > 0 {
		used, err := m.usedPorts()
		if err != nil {
			return err
		}
		if rec.Ports, err = resolvePorts(rec.Ports, used, canBind); err != nil {
			return err
		}
	}
	return writeJSON(m.recordPath(rec.ID), rec)
}

// usedPorts collects the host ports published by every recorded container.
func (m *Manager) usedPorts() ([]PortMapping, error) {
	entries, err := os.ReadDir(filepath.Join(m.StateDir, "attachments"))
	if err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	var used []PortMapping
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || checkID(id) != nil {
			continue
		}
		rec, err := m.readRecord(id)
		if err != nil {
			continue // vanished meanwhile, or unreadable: it publishes nothing we can honour
		}
		used = append(used, rec.Ports...)
	}
	return used, nil
}

// resolvePorts gives every mapping a concrete host port: random ones (0) get
// a free port from the kernel, ranges their first free port; explicit ones
// are checked. used are the ports other containers hold; bind tests whether
// the host can bind a port now.
func resolvePorts(ports, used []PortMapping, bind func(PortMapping) (uint16, error)) ([]PortMapping, error) {
	out := make([]PortMapping, 0, len(ports))
	for _, p := range ports {
		taken := slices.Concat(used, out)
		var err error
		switch {
		case p.HostPortEnd != 0:
			p, err = pickFromRange(p, taken, bind)
		case p.HostPort == 0:
			p, err = pickRandom(p, taken, bind)
		default:
			if conflicts(p, taken) {
				return nil, portAllocated(p)
			}
			_, err = bind(p)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func pickFromRange(p PortMapping, taken []PortMapping, bind func(PortMapping) (uint16, error)) (PortMapping, error) {
	lo, hi := p.HostPort, p.HostPortEnd
	p.HostPortEnd = 0
	for port := int(lo); port <= int(hi); port++ {
		p.HostPort = uint16(port)
		if conflicts(p, taken) {
			continue
		}
		if _, err := bind(p); err == nil {
			return p, nil
		}
	}
	return p, errdefs.Newf(errdefs.ErrConflict, "Bind for %s failed: no free port in range %d-%d", net.JoinHostPort(displayIP(p.HostIP), strconv.Itoa(int(lo))), lo, hi)
}

func pickRandom(p PortMapping, taken []PortMapping, bind func(PortMapping) (uint16, error)) (PortMapping, error) {
	for range 32 {
		p.HostPort = 0
		port, err := bind(p) // port 0: the kernel picks a free ephemeral port
		if err != nil {
			return p, err
		}
		p.HostPort = port
		if !conflicts(p, taken) {
			return p, nil
		}
	}
	return p, errdefs.Newf(errdefs.ErrLimitExceeded, "no free host port for %d/%s", p.ContainerPort, p.Proto)
}

// conflicts reports whether p's host port is already published by taken.
func conflicts(p PortMapping, taken []PortMapping) bool {
	for _, t := range taken {
		if t.Proto == p.Proto && t.HostPort == p.HostPort && ipsOverlap(t.HostIP, p.HostIP) {
			return true
		}
	}
	return false
}

func ipsOverlap(a, b string) bool {
	if a == "" || b == "" || a == b {
		return true
	}
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	return ia == nil || ib == nil || ia.IsUnspecified() || ib.IsUnspecified() || ia.Equal(ib)
}

// canBind binds p's host address and port briefly and reports the port
// bound (the kernel's choice when p.HostPort is 0).
func canBind(p PortMapping) (uint16, error) {
	c, addr, err := listen(p)
	if err != nil {
		return 0, err
	}
	c.Close()
	return addrPort(addr), nil
}

// listen opens a listener for p's host side: TCP or UDP, on HostIP or on all
// addresses (IPv4 and IPv6) when HostIP is "".
func listen(p PortMapping) (io.Closer, net.Addr, error) {
	network := p.Proto
	if ip := net.ParseIP(p.HostIP); ip != nil {
		if ip.To4() != nil {
			network += "4"
		} else {
			network += "6"
		}
	}
	addr := net.JoinHostPort(p.HostIP, strconv.Itoa(int(p.HostPort)))
	var c io.Closer
	var local net.Addr
	var err error
	if p.Proto == "udp" {
		var pc net.PacketConn
		if pc, err = net.ListenPacket(network, addr); err == nil {
			c, local = pc, pc.LocalAddr()
		}
	} else {
		var ln net.Listener
		if ln, err = net.Listen(network, addr); err == nil {
			c, local = ln, ln.Addr()
		}
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, nil, portAllocated(p)
	}
	if err != nil {
		return nil, nil, errdefs.Classed(errdefs.ErrUnavailable, fmt.Errorf("publish %s: %w", p, err))
	}
	return c, local, nil
}

func addrPort(a net.Addr) uint16 {
	switch a := a.(type) {
	case *net.TCPAddr:
		return uint16(a.Port)
	case *net.UDPAddr:
		return uint16(a.Port)
	}
	return 0
}

// portAllocated is Docker's error for a host port in use.
func portAllocated(p PortMapping) error {
	return errdefs.Newf(errdefs.ErrConflict, "Bind for %s failed: port is already allocated", hostPortString(p))
}

// hostPortString is the host side of p as Docker prints it: 0.0.0.0:8080.
func hostPortString(p PortMapping) string {
	return net.JoinHostPort(displayIP(p.HostIP), strconv.Itoa(int(p.HostPort)))
}
