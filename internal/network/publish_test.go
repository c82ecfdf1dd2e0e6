package network

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

func TestParsePublish(t *testing.T) {
	tcp := func(ip string, host, ctr uint16) PortMapping {
		return PortMapping{HostIP: ip, HostPort: host, ContainerPort: ctr, Proto: "tcp"}
	}
	tests := []struct {
		spec string
		want []PortMapping
	}{
		{"80", []PortMapping{tcp("", 0, 80)}},
		{"80/udp", []PortMapping{{ContainerPort: 80, Proto: "udp"}}},
		{"8080:80", []PortMapping{tcp("", 8080, 80)}},
		{"0:80", []PortMapping{tcp("", 0, 80)}},
		{"8080:80/udp", []PortMapping{{HostPort: 8080, ContainerPort: 80, Proto: "udp"}}},
		{"8080:80/TCP", []PortMapping{tcp("", 8080, 80)}},
		{"127.0.0.1:8080:80", []PortMapping{tcp("127.0.0.1", 8080, 80)}},
		{"127.0.0.1::80", []PortMapping{tcp("127.0.0.1", 0, 80)}},
		{"0.0.0.0:8080:80", []PortMapping{tcp("0.0.0.0", 8080, 80)}},
		{"[::1]:8080:80", []PortMapping{tcp("::1", 8080, 80)}},
		{"::1:8080:80", []PortMapping{tcp("::1", 8080, 80)}},
		{"[::]::53/udp", []PortMapping{{HostIP: "::", ContainerPort: 53, Proto: "udp"}}},
		{"8000-8002:80-82", []PortMapping{tcp("", 8000, 80), tcp("", 8001, 81), tcp("", 8002, 82)}},
		{"80-81", []PortMapping{tcp("", 0, 80), tcp("", 0, 81)}},
		{"127.0.0.1::80-81", []PortMapping{tcp("127.0.0.1", 0, 80), tcp("127.0.0.1", 0, 81)}},
		{"8000-8010:80", []PortMapping{{HostPort: 8000, HostPortEnd: 8010, ContainerPort: 80, Proto: "tcp"}}},
		{"published=8080,target=80", []PortMapping{tcp("", 8080, 80)}},
		{"target=53,protocol=udp,mode=host", []PortMapping{{ContainerPort: 53, Proto: "udp"}}},
		{"target=80,published=9000,host_ip=127.0.0.1", []PortMapping{tcp("127.0.0.1", 9000, 80)}},
	}
	for _, tc := range tests {
		got, err := ParsePublish(tc.spec)
		if err != nil {
			t.Errorf("ParsePublish(%q): %v", tc.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParsePublish(%q) = %+v, want %+v", tc.spec, got, tc.want)
		}
	}
}

func TestParsePublishErrors(t *testing.T) {
	tests := []struct {
		spec, msg string
		class     error
	}{
		{"", "no port specified: <empty>", errdefs.ErrInvalidArgument},
		{"8080:", "no port specified: 8080:<empty>", errdefs.ErrInvalidArgument},
		{"8080:/tcp", "no port specified: 8080:/tcp<empty>", errdefs.ErrInvalidArgument},
		{"80/icmp", "invalid proto: icmp", errdefs.ErrInvalidArgument},
		{"80/sctp", "sctp", errdefs.ErrUnsupported},
		{"abc", "invalid containerPort: abc", errdefs.ErrInvalidArgument},
		{"0", "invalid containerPort: 0", errdefs.ErrInvalidArgument},
		{"70000", "invalid containerPort: 70000", errdefs.ErrInvalidArgument},
		{"x:80", "invalid hostPort: x", errdefs.ErrInvalidArgument},
		{"90-80:80", "invalid hostPort: 90-80", errdefs.ErrInvalidArgument},
		{"0-5:80", "invalid hostPort: 0-5", errdefs.ErrInvalidArgument},
		{"8000-8001:80-82", "invalid ranges specified for container and host Ports: 80-82 and 8000-8001", errdefs.ErrInvalidArgument},
		{"1.2.3:8080:80", "invalid IP address: 1.2.3", errdefs.ErrInvalidArgument},
		{"[::1:8080:80", "invalid IP address: [::1", errdefs.ErrInvalidArgument},
		{"localhost:8080:80", "invalid IP address: localhost", errdefs.ErrInvalidArgument},
		{"published=8080", "missing mandatory field 'target'", errdefs.ErrInvalidArgument},
		{"target=80,mode=x", "invalid publish mode value (x)", errdefs.ErrInvalidArgument},
		{"target=80,foo=1", "invalid field key foo", errdefs.ErrInvalidArgument},
		{"target=80,bare", "invalid field bare must be a key=value pair", errdefs.ErrInvalidArgument},
	}
	for _, tc := range tests {
		_, err := ParsePublish(tc.spec)
		if err == nil {
			t.Errorf("ParsePublish(%q) succeeded, want error %q", tc.spec, tc.msg)
			continue
		}
		if !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParsePublish(%q) = %v, want %q (%v)", tc.spec, err, tc.msg, tc.class)
		}
	}
}

func TestPortMappingString(t *testing.T) {
	tests := map[string]PortMapping{
		"0.0.0.0:8080->80/tcp":    {HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		"127.0.0.1:53->53/udp":    {HostIP: "127.0.0.1", HostPort: 53, ContainerPort: 53, Proto: "udp"},
		"[::1]:8000-8010->80/tcp": {HostIP: "::1", HostPort: 8000, HostPortEnd: 8010, ContainerPort: 80, Proto: "tcp"},
	}
	for want, m := range tests {
		if got := m.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", m, got, want)
		}
	}
}

func TestPublishAll(t *testing.T) {
	got := PublishAll(map[string]struct{}{
		"80/tcp": {}, "53/udp": {}, "443": {}, "8000-8001/tcp": {},
		"bogus/tcp": {}, "9/sctp": {}, "0/tcp": {},
	})
	want := []PortMapping{
		{ContainerPort: 80, Proto: "tcp"}, {ContainerPort: 443, Proto: "tcp"},
		{ContainerPort: 8000, Proto: "tcp"}, {ContainerPort: 8001, Proto: "tcp"},
		{ContainerPort: 53, Proto: "udp"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("PublishAll = %+v, want %+v", got, want)
	}
	if got := PublishAll(nil); len(got) != 0 {
		t.Fatalf("PublishAll(nil) = %+v", got)
	}
}

func FuzzParsePublish(f *testing.F) {
	for _, s := range []string{"80", "8080:80/udp", "127.0.0.1::80", "[::1]:8080:80", "8000-8002:80-82",
		"8000-8010:80", "target=80,published=8080", "a:b:c:d", "-1", "65535:65535", "1-2000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		got, err := ParsePublish(spec)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) && !errors.Is(err, errdefs.ErrUnsupported) {
				t.Fatalf("ParsePublish(%q): unclassified error %v", spec, err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("ParsePublish(%q) returned no mappings and no error", spec)
		}
		for _, m := range got {
			if m.ContainerPort == 0 || (m.Proto != "tcp" && m.Proto != "udp") {
				t.Fatalf("ParsePublish(%q) gave invalid mapping %+v", spec, m)
			}
			if m.HostPortEnd != 0 && (m.HostPortEnd < m.HostPort || m.HostPort == 0) {
				t.Fatalf("ParsePublish(%q) gave bad range %+v", spec, m)
			}
			// The rendered form parses back to the same mapping.
			if m.HostPortEnd == 0 && !strings.Contains(spec, "=") {
				back, err := ParsePublish(strings.Replace(m.String(), "->", ":", 1))
				if err != nil || len(back) != 1 || back[0].ContainerPort != m.ContainerPort || back[0].HostPort != m.HostPort {
					t.Fatalf("round trip of %+v via %q: %+v, %v", m, m.String(), back, err)
				}
			}
		}
	})
}
