package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/vishvananda/netlink"
)

// Network modes.
const (
	ModeBridge = "bridge"
	ModeHost   = "host"
	ModeNone   = "none"
)

// Defaults of the bridge network.
const (
	DefaultBridge = "strata0"
	DefaultSubnet = "10.88.0.0/16"
)

// Config asks for the network of one container.
type Config struct {
	ID       string
	Mode     string // ModeBridge (also ""), ModeHost or ModeNone
	Hostname string
	Ports    []PortMapping // published ports; bridge mode only (ignored otherwise, as Docker does in host mode)
	// Subnet overrides Manager.Subnet. The bridge has one subnet: a different
	// one is refused while other containers are attached to it.
	Subnet string
}

// Attachment is a container's network as set up.
type Attachment struct {
	Mode        string        `json:"mode"`
	NetNSPath   string        `json:"netnsPath,omitempty"` // "" in host mode
	IP          net.IP        `json:"ip,omitempty"`
	IPPrefixLen int           `json:"ipPrefixLen,omitempty"`
	Gateway     net.IP        `json:"gateway,omitempty"`
	MacAddress  string        `json:"macAddress,omitempty"`
	Bridge      string        `json:"bridge,omitempty"`
	Hostname    string        `json:"hostname,omitempty"`
	Ports       []PortMapping `json:"ports,omitempty"` // random host ports resolved
}

// Manager sets up and tears down container networks. It keeps no state in
// memory: everything lives under StateDir, so any process can tear down what
// another one set up, even after that one was killed.
type Manager struct {
	StateDir string // e.g. <root>/network
	Bridge   string // bridge interface name; "" means DefaultBridge
	Subnet   string // bridge subnet; "" means the bridge's current one, else DefaultSubnet
	PoolDir  string // where bridge address pools live; "" means DefaultPoolDir
}

// DefaultPoolDir holds the address pools of the host's bridges. It is on
// /run, like the bridges and namespaces, so it starts empty at boot with
// them.
const DefaultPoolDir = "/run/strata/ipam"

// record is what attachments/<id>.json holds.
type record struct {
	Attachment
	ID    string `json:"id"`
	Ready bool   `json:"ready"` // false while Setup is under way (or died half-way)
}

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

func checkID(id string) error {
	if !validID.MatchString(id) {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "invalid container id %q", id)
	}
	return nil
}

func normalizeMode(mode string) (string, error) {
	switch mode {
	case "", "default", ModeBridge:
		return ModeBridge, nil
	case ModeHost, ModeNone:
		return mode, nil
	}
	if len(mode) > 10 && mode[:10] == "container:" {
		return "", errdefs.Newf(errdefs.ErrUnsupported, "network mode %q is not supported", mode)
	}
	return "", errdefs.Newf(errdefs.ErrNotFound, "network %s not found", mode)
}

func (m *Manager) bridge() string {
	if m.Bridge == "" {
		return DefaultBridge
	}
	return m.Bridge
}

func (m *Manager) netnsPath(id string) string { return filepath.Join(m.StateDir, "netns", id) }
func (m *Manager) recordPath(id string) string {
	return filepath.Join(m.StateDir, "attachments", id+".json")
}

// pool is the bridge's address pool. The bridge is one per host however
// many strata roots use it, so its pool is too: it lives in PoolDir
// (default DefaultPoolDir), and a holder is named by its network namespace
// path, which is unique across roots.
func (m *Manager) pool(bridge string) pool {
	dir := m.PoolDir
	if dir == "" {
		dir = DefaultPoolDir
	}
	return pool{dir: dir, bridge: bridge}
}

// Setup creates the network of a container: nothing for host mode, a
// namespace with only lo up for none, and for bridge a namespace joined to the
// bridge by a veth pair with an address from the pool. The namespace is
// pinned at <StateDir>/netns/<id>; point the runtime spec's network namespace
// path there. A failed Setup undoes itself; after a crash, call Teardown.
func (m *Manager) Setup(ctx context.Context, cfg Config) (_ Attachment, err error) {
	if err := checkID(cfg.ID); err != nil {
		return Attachment{}, err
	}
	mode, err := normalizeMode(cfg.Mode)
	if err != nil {
		return Attachment{}, err
	}
	rec := record{ID: cfg.ID, Attachment: Attachment{Mode: mode, Hostname: cfg.Hostname}}
	if mode == ModeBridge {
		rec.Bridge = m.bridge()
		rec.Ports = cfg.Ports
	}
	if mode != ModeHost {
		rec.NetNSPath = m.netnsPath(cfg.ID)
	}
	// The record is written first, with the resolved host ports, so that a
	// concurrent Setup sees them and a Teardown after a crash finds them.
	if err := m.reserve(&rec); err != nil {
		return Attachment{}, err
	}
	defer func() {
		if err != nil {
			if terr := m.Teardown(context.WithoutCancel(ctx), cfg.ID); terr != nil {
				err = errors.Join(err, fmt.Errorf("undo network setup of %s: %w", cfg.ID, terr))
			}
		}
	}()
	switch mode {
	case ModeNone:
		if err := m.createNetNS(rec.NetNSPath); err != nil {
			return Attachment{}, err
		}
		if err := setupLoopback(rec.NetNSPath); err != nil {
			return Attachment{}, err
		}
	case ModeBridge:
		if err := m.createNetNS(rec.NetNSPath); err != nil {
			return Attachment{}, err
		}
		if err := m.setupBridge(ctx, cfg, &rec.Attachment); err != nil {
			return Attachment{}, err
		}
	}
	rec.Ready = true
	if err := writeJSON(m.recordPath(cfg.ID), rec); err != nil {
		return Attachment{}, err
	}
	return rec.Attachment, nil
}

func (m *Manager) createNetNS(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create netns directory: %w", err)
	}
	return createNetNS(path)
}

// setupBridge makes sure the bridge, its address and NAT exist, takes an
// address from the pool and plugs the namespace into the bridge.
func (m *Manager) setupBridge(ctx context.Context, cfg Config, a *Attachment) error {
	var (
		sc   subnetConfig
		br   netlink.Link
		addr netip.Addr
	)
	err := m.pool(a.Bridge).update(func(st *poolState) error {
		var err error
		if sc, br, err = m.prepareBridge(ctx, cfg.Subnet, a.Bridge, st); err != nil {
			return err
		}
		addr, err = st.allocate(m.netnsPath(cfg.ID), isNetNS)
		return err
	})
	if err != nil {
		return err
	}
	mac, err := attachVeth(br, hostVethName(cfg.ID), a.NetNSPath, addr, sc)
	if err != nil {
		return err
	}
	a.IP = addr.AsSlice()
	a.IPPrefixLen = sc.prefix.Bits()
	a.Gateway = sc.gateway.AsSlice()
	a.MacAddress = mac
	return nil
}

// prepareBridge runs under the pool lock. It settles the subnet, creates or
// re-addresses the bridge and installs the NAT rules when they are not known
// to be in place.
func (m *Manager) prepareBridge(ctx context.Context, override, bridge string, st *poolState) (subnetConfig, netlink.Link, error) {
	want := override
	if want == "" {
		want = m.Subnet
	}
	if want == "" {
		want = st.Subnet
	}
	if want == "" {
		want = DefaultSubnet
	}
	sc, err := parseSubnet(want)
	if err != nil {
		return subnetConfig{}, nil, err
	}
	changed := st.Subnet != "" && (st.Subnet != sc.prefix.String() || st.Gateway != sc.gateway.String())
	if changed {
		if err := m.retireSubnet(ctx, bridge, st); err != nil {
			return subnetConfig{}, nil, err
		}
	}
	st.Subnet, st.Gateway = sc.prefix.String(), sc.gateway.String()
	br, created, err := ensureBridge(bridge, sc)
	if err != nil {
		return subnetConfig{}, nil, err
	}
	if created || !st.NAT {
		ipt, err := findIPTables(ctx)
		if err != nil {
			return subnetConfig{}, nil, err
		}
		if err := ipt.ensure(ctx, bridge, natRules(bridge, st.Subnet)); err != nil {
			return subnetConfig{}, nil, err
		}
		st.NAT = true
	}
	return sc, br, enableIPForward()
}

// retireSubnet drops the bridge's old subnet (its NAT rules) so that a new one
// can be used; it refuses while containers hold addresses in it.
func (m *Manager) retireSubnet(ctx context.Context, bridge string, st *poolState) error {
	for a, holder := range st.Allocations {
		if isNetNS(holder) {
			return errdefs.Newf(errdefs.ErrConflict, "bridge %s uses subnet %s and container %s is attached (%s); remove it first", bridge, st.Subnet, filepath.Base(holder), a)
		}
		delete(st.Allocations, a)
	}
	if st.NAT {
		ipt, err := findIPTables(ctx)
		if err != nil {
			return err
		}
		if err := ipt.remove(ctx, bridge, natRules(bridge, st.Subnet)); err != nil {
			return err
		}
		st.NAT = false
	}
	st.Last = ""
	return nil
}

// Teardown removes a container's network: the host veth, the pinned
// namespace and its address. It works from any process, after a crash and on
// a half set-up network, and is a no-op for an unknown id.
func (m *Manager) Teardown(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	rec, err := m.readRecord(id)
	if errdefs.IsNotFound(err) {
		rec = &record{ID: id, Attachment: Attachment{Bridge: m.bridge()}} // clean whatever the names point at
	} else if err != nil {
		return err
	}
	var errs []error
	if rec.Mode != ModeHost && rec.Mode != ModeNone {
		errs = append(errs, deleteLink(hostVethName(id)))
	}
	errs = append(errs, removeNetNS(m.netnsPath(id)))
	if rec.Bridge != "" {
		errs = append(errs, m.release(rec.Bridge, id))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tear down network of container %s: %w", id, err)
	}
	if err := os.Remove(m.recordPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove network record of container %s: %w", id, err)
	}
	return nil
}

func (m *Manager) release(bridge, id string) error {
	p := m.pool(bridge)
	if _, err := os.Stat(p.statePath()); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return p.update(func(st *poolState) error {
		st.release(m.netnsPath(id))
		return nil
	})
}

// Attachment returns the network of a container as Setup left it.
func (m *Manager) Attachment(id string) (Attachment, error) {
	if err := checkID(id); err != nil {
		return Attachment{}, err
	}
	rec, err := m.readRecord(id)
	if err != nil {
		return Attachment{}, err
	}
	if !rec.Ready {
		return rec.Attachment, errdefs.Newf(errdefs.ErrUnavailable, "network of container %s is not fully set up", id)
	}
	return rec.Attachment, nil
}

func (m *Manager) readRecord(id string) (*record, error) {
	data, err := os.ReadFile(m.recordPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "network of container %s: not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read network record of container %s: %w", id, err)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, errdefs.Newf(errdefs.ErrCorrupt, "network record of container %s: %v", id, err)
	}
	return &rec, nil
}

// RemoveBridge deletes the bridge, its NAT rules and its pool state. It
// refuses while a container is attached. Like Docker's docker0, the bridge
// otherwise stays after its last container goes; this is for tests and
// pruning.
func (m *Manager) RemoveBridge(ctx context.Context) error {
	bridge := m.bridge()
	p := m.pool(bridge)
	if _, err := os.Stat(p.statePath()); errors.Is(err, fs.ErrNotExist) {
		return deleteLink(bridge)
	}
	return p.update(func(st *poolState) error {
		if st.Subnet != "" {
			if err := m.retireSubnet(ctx, bridge, st); err != nil {
				return err
			}
		}
		if err := deleteLink(bridge); err != nil {
			return err
		}
		*st = poolState{}
		return nil
	})
}
