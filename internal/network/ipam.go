package network

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/flock"
)

// poolState is the persistent state of one bridge: its subnet, whether the
// NAT rules for that subnet are installed, and which container holds which
// address. It lives in ipam/<bridge>.json and changes only under the flock of
// ipam/<bridge>.lock.
type poolState struct {
	Subnet      string            `json:"subnet,omitempty"`
	Gateway     string            `json:"gateway,omitempty"`
	NAT         bool              `json:"nat,omitempty"`
	Last        string            `json:"last,omitempty"`
	Allocations map[string]string `json:"allocations,omitempty"` // address -> holder's netns path
}

// pool is the address pool of one bridge.
type pool struct {
	dir    string // Manager.PoolDir
	bridge string
}

func (p pool) statePath() string { return filepath.Join(p.dir, p.bridge+".json") }

// update runs fn on the state under an exclusive flock held across processes
// and saves the state if fn succeeds. The file is replaced by rename, so a
// crash leaves the old or the new state, never a torn one.
func (p pool) update(fn func(*poolState) error) error {
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return fmt.Errorf("create ipam directory: %w", err)
	}
	unlock, err := flock.Exclusive(filepath.Join(p.dir, p.bridge+".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	st, err := p.load()
	if err != nil {
		return err
	}
	if err := fn(st); err != nil {
		return err
	}
	return writeJSON(p.statePath(), st)
}

func (p pool) load() (*poolState, error) {
	st := &poolState{}
	data, err := os.ReadFile(p.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ipam state: %w", err)
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, errdefs.Newf(errdefs.ErrCorrupt, "ipam state %s: %v", p.statePath(), err)
	}
	return st, nil
}

// allocate hands id the next free address after the last one given out
// (round robin, so a released address is not reused at once), skipping the
// network, gateway and broadcast addresses. When the subnet is full it first
// reclaims addresses whose holder is gone (alive reports whether a container
// still holds its network namespace), as after a reboot.
func (st *poolState) allocate(id string, alive func(id string) bool) (netip.Addr, error) {
	prefix, err := netip.ParsePrefix(st.Subnet)
	if err != nil {
		return netip.Addr{}, errdefs.Newf(errdefs.ErrCorrupt, "ipam subnet %q: %v", st.Subnet, err)
	}
	if addr, ok := st.next(prefix); ok {
		st.take(addr, id)
		return addr, nil
	}
	for a, holder := range st.Allocations {
		if !alive(holder) {
			delete(st.Allocations, a)
		}
	}
	if addr, ok := st.next(prefix); ok {
		st.take(addr, id)
		return addr, nil
	}
	return netip.Addr{}, errdefs.Newf(errdefs.ErrLimitExceeded, "no free address left in subnet %s", st.Subnet)
}

func (st *poolState) take(addr netip.Addr, id string) {
	if st.Allocations == nil {
		st.Allocations = map[string]string{}
	}
	st.Allocations[addr.String()] = id
	st.Last = addr.String()
}

// next finds the first free address after Last, wrapping around once.
func (st *poolState) next(prefix netip.Prefix) (netip.Addr, bool) {
	first := prefix.Masked().Addr().Next()
	start := first
	if last, err := netip.ParseAddr(st.Last); err == nil && prefix.Contains(last) {
		start = last.Next()
	}
	if !prefix.Contains(start) {
		start = first
	}
	addr := start
	for {
		if !prefix.Contains(addr) {
			addr = first
		}
		if st.usable(prefix, addr) {
			return addr, true
		}
		addr = addr.Next()
		if addr == start {
			return netip.Addr{}, false
		}
	}
}

func (st *poolState) usable(prefix netip.Prefix, addr netip.Addr) bool {
	if !addr.IsValid() || addr == prefix.Masked().Addr() || addr.String() == st.Gateway || isBroadcast(prefix, addr) {
		return false
	}
	_, taken := st.Allocations[addr.String()]
	return !taken
}

// isBroadcast reports whether addr is the last address of an IPv4 prefix.
func isBroadcast(prefix netip.Prefix, addr netip.Addr) bool {
	if !addr.Is4() || prefix.Bits() >= 31 {
		return false
	}
	a, n := addr.As4(), prefix.Masked().Addr().As4()
	hostMask := uint32(1)<<(32-prefix.Bits()) - 1
	return binary.BigEndian.Uint32(a[:]) == binary.BigEndian.Uint32(n[:])|hostMask
}

// release frees every address held by id and reports how many there were.
func (st *poolState) release(id string) int {
	n := 0
	for a, holder := range st.Allocations {
		if holder == id {
			delete(st.Allocations, a)
			n++
		}
	}
	return n
}

// writeJSON replaces path atomically with v encoded as JSON.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(data, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
