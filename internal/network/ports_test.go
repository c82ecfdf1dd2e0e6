package network

import (
	"errors"
	"net"
	"reflect"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

// fakeBind pretends the kernel hands out ports from next and that busy
// ports cannot be bound.
type fakeBind struct {
	next []uint16
	busy map[uint16]bool
}

func (f *fakeBind) bind(p PortMapping) (uint16, error) {
	if p.HostPort == 0 {
		port := f.next[0]
		f.next = f.next[1:]
		return port, nil
	}
	if f.busy[p.HostPort] {
		return 0, portAllocated(p)
	}
	return p.HostPort, nil
}

func TestResolvePorts(t *testing.T) {
	used := []PortMapping{
		{HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		{HostIP: "127.0.0.1", HostPort: 9000, ContainerPort: 80, Proto: "tcp"},
		{HostPort: 40000, ContainerPort: 53, Proto: "udp"},
	}
	f := &fakeBind{next: []uint16{40000, 40001, 40002}, busy: map[uint16]bool{7001: true}}
	got, err := resolvePorts([]PortMapping{
		{ContainerPort: 53, Proto: "udp"},                                     // 40000 is used for udp: next
		{ContainerPort: 80, Proto: "tcp"},                                     // 40002: udp's 40000 doesn't matter
		{HostIP: "127.0.0.2", HostPort: 9000, ContainerPort: 1, Proto: "tcp"}, // other IP than the used 9000
		{HostPort: 7000, HostPortEnd: 7005, ContainerPort: 2, Proto: "tcp"},   // 7000 ok
		{HostPort: 7000, HostPortEnd: 7005, ContainerPort: 3, Proto: "tcp"},   // 7000 taken just above, 7001 busy
		{HostPort: 8080, ContainerPort: 80, Proto: "udp"},                     // udp differs from tcp
	}, used, f.bind)
	if err != nil {
		t.Fatal(err)
	}
	want := []PortMapping{
		{HostPort: 40001, ContainerPort: 53, Proto: "udp"},
		{HostPort: 40002, ContainerPort: 80, Proto: "tcp"},
		{HostIP: "127.0.0.2", HostPort: 9000, ContainerPort: 1, Proto: "tcp"},
		{HostPort: 7000, ContainerPort: 2, Proto: "tcp"},
		{HostPort: 7002, ContainerPort: 3, Proto: "tcp"},
		{HostPort: 8080, ContainerPort: 80, Proto: "udp"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("resolvePorts =\n%+v\nwant\n%+v", got, want)
	}
}

func TestResolvePortsConflicts(t *testing.T) {
	used := []PortMapping{{HostIP: "127.0.0.1", HostPort: 9000, ContainerPort: 80, Proto: "tcp"}}
	tests := []struct {
		ports []PortMapping
		msg   string
	}{
		{[]PortMapping{{HostPort: 9000, ContainerPort: 1, Proto: "tcp"}}, "Bind for 0.0.0.0:9000 failed: port is already allocated"},
		{[]PortMapping{{HostIP: "127.0.0.1", HostPort: 9000, ContainerPort: 1, Proto: "tcp"}}, "Bind for 127.0.0.1:9000 failed: port is already allocated"},
		{[]PortMapping{{HostPort: 5000, ContainerPort: 1, Proto: "tcp"}, {HostPort: 5000, ContainerPort: 2, Proto: "tcp"}},
			"Bind for 0.0.0.0:5000 failed: port is already allocated"},
		{[]PortMapping{{HostPort: 7001, ContainerPort: 1, Proto: "tcp"}}, "Bind for 0.0.0.0:7001 failed: port is already allocated"},
		{[]PortMapping{{HostPort: 7001, HostPortEnd: 7001, ContainerPort: 1, Proto: "tcp"}}, "Bind for 0.0.0.0:7001 failed: no free port in range 7001-7001"},
	}
	for _, tc := range tests {
		f := &fakeBind{busy: map[uint16]bool{7001: true}}
		_, err := resolvePorts(tc.ports, used, f.bind)
		if !errors.Is(err, errdefs.ErrConflict) || err.Error() != tc.msg {
			t.Errorf("resolvePorts(%+v) = %v, want %q", tc.ports, err, tc.msg)
		}
	}
}

func TestCanBind(t *testing.T) {
	port, err := canBind(PortMapping{HostIP: "127.0.0.1", Proto: "tcp"})
	if err != nil || port == 0 {
		t.Fatalf("canBind random = %d, %v", port, err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := uint16(ln.Addr().(*net.TCPAddr).Port)
	if _, err := canBind(PortMapping{HostIP: "127.0.0.1", HostPort: busy, Proto: "tcp"}); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("canBind on a busy port: %v", err)
	}
	// UDP on the same number is free.
	if _, err := canBind(PortMapping{HostIP: "127.0.0.1", HostPort: busy, Proto: "udp"}); err != nil {
		t.Fatalf("canBind udp: %v", err)
	}
}
