package fetch

import (
	"errors"
	"net/netip"
	"testing"
)

func TestIsPrivate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ip      string
		private bool
	}{
		{"127.0.0.1", true},
		{"127.255.0.9", true},
		{"::1", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"172.32.0.1", false},
		{"192.168.1.1", true},
		{"169.254.169.254", true}, // cloud metadata
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"fc00::1", true},
		{"fd12:3456::1", true},
		{"fec0::1", true},
		{"100.64.0.1", true},
		{"100.127.255.254", true},
		{"100.128.0.1", false},
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"::", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"ff02::1", true},
		{"255.255.255.255", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:10.0.0.1", true},
		{"::ffff:169.254.169.254", true},
		{"::ffff:100.64.0.1", true},
		{"::ffff:0.1.2.3", true},
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"2001:4860::8888", false},
		{"2606:4700:4700::1111", false},
		{"::ffff:8.8.8.8", false},
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		if got := isPrivate(ip); got != tt.private {
			t.Errorf("isPrivate(%s) = %v, want %v", tt.ip, got, tt.private)
		}
	}
	if !isPrivate(netip.Addr{}) {
		t.Error("the zero address must count as private (fail closed)")
	}
}

func TestDialControl(t *testing.T) {
	t.Parallel()
	ctl := dialControl(refusePrivate)
	tests := []struct {
		addr    string
		refused bool
		shown   string
	}{
		{"127.0.0.1:80", true, "127.0.0.1"},
		{"[::1]:443", true, "::1"},
		{"[::ffff:127.0.0.1]:80", true, "127.0.0.1"},
		{"[fe80::1%eth0]:80", true, "fe80::1"},
		{"8.8.8.8:443", false, ""},
		{"[2001:4860::8888]:443", false, ""},
		{"not-an-address", true, `"not-an-address"`},
	}
	for _, tt := range tests {
		err := ctl("tcp", tt.addr, nil)
		if (err != nil) != tt.refused {
			t.Errorf("dial %s: err = %v, want refused %v", tt.addr, err, tt.refused)
			continue
		}
		var pe *privateAddrError
		if tt.refused && (!errors.As(err, &pe) || pe.describe() != tt.shown) {
			t.Errorf("dial %s: err = %v, want a refusal naming %s", tt.addr, err, tt.shown)
		}
	}
}
