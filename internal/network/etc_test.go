package network

import (
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fakeHost builds a host root with the given files (path -> content).
func fakeHost(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const (
	hostHosts      = "127.0.0.1\tlocalhost\n127.0.1.1\tbuildhost\n"
	stubResolv     = "# managed by systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example\n"
	upstreamResolv = "nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch corp.example\n"
	mixedResolv    = "nameserver 127.0.0.1\nnameserver 198.51.100.1\nnameserver ::1\noptions ndots:2\n"
	plainResolv    = "nameserver 198.51.100.1\nsearch example.org\n"
)

func TestWriteEtcFilesGolden(t *testing.T) {
	gw := net.ParseIP("10.88.0.1")
	tests := []struct {
		name  string
		host  map[string]string
		files EtcFiles
	}{
		{"bridge", map[string]string{"etc/resolv.conf": plainResolv}, EtcFiles{
			Hostname: "c0ffee123456", IP: net.ParseIP("10.88.0.2"), Mode: ModeBridge, Gateway: gw,
			ExtraHosts: []string{"db:192.0.2.10", "host.docker.internal:host-gateway", "v6=[2001:db8::1]", "v6b:2001:db8::2"},
		}},
		{"bridge-domain-systemd", map[string]string{
			"etc/resolv.conf": stubResolv, "run/systemd/resolve/resolv.conf": upstreamResolv,
		}, EtcFiles{Hostname: "web", Domainname: "example.com", IP: net.ParseIP("10.88.0.3"), Mode: ""}},
		{"bridge-loopback-fallback", map[string]string{"etc/resolv.conf": stubResolv},
			EtcFiles{Hostname: "web", IP: net.ParseIP("10.88.0.4"), Mode: ModeBridge}},
		{"bridge-mixed", map[string]string{"etc/resolv.conf": mixedResolv},
			EtcFiles{Hostname: "web", IP: net.ParseIP("10.88.0.5"), Mode: ModeBridge}},
		{"none-no-resolv", nil, EtcFiles{Hostname: "isolated", Mode: ModeNone}},
		{"host", map[string]string{"etc/resolv.conf": stubResolv, "etc/hosts": hostHosts,
			"run/systemd/resolve/resolv.conf": upstreamResolv},
			EtcFiles{Hostname: "buildhost", Mode: ModeHost, ExtraHosts: []string{"gw:host-gateway"}, Gateway: gw}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.files.HostRoot = fakeHost(t, tc.host)
			dir := t.TempDir()
			if err := WriteEtcFiles(dir, tc.files); err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, name := range []string{"hosts", "hostname", "resolv.conf"} {
				data, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				got.WriteString("== " + name + " ==\n")
				got.Write(data)
			}
			golden := filepath.Join("testdata", "etc-"+tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != string(want) {
				t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", golden, got.String(), want)
			}
		})
	}
}

func TestWriteEtcFilesHostResolvUntouched(t *testing.T) {
	root := fakeHost(t, map[string]string{"etc/resolv.conf": stubResolv})
	dir := t.TempDir()
	if err := WriteEtcFiles(dir, EtcFiles{Hostname: "h", Mode: ModeHost, HostRoot: root}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "resolv.conf"))
	if string(got) != stubResolv {
		t.Fatalf("host mode resolv.conf = %q, want the host's file unchanged", got)
	}
	// A bridge container with a plain host file also gets it byte for byte.
	root = fakeHost(t, map[string]string{"etc/resolv.conf": plainResolv})
	if err := WriteEtcFiles(dir, EtcFiles{Hostname: "h", HostRoot: root}); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(filepath.Join(dir, "resolv.conf"))
	if string(got) != plainResolv {
		t.Fatalf("bridge resolv.conf = %q, want %q", got, plainResolv)
	}
}

func TestWriteEtcFilesErrors(t *testing.T) {
	root := fakeHost(t, nil)
	tests := []struct {
		files EtcFiles
		class error
		msg   string
	}{
		{EtcFiles{Mode: ModeBridge}, errdefs.ErrInvalidArgument, "hostname is empty"},
		{EtcFiles{Hostname: "h", Mode: "weird"}, errdefs.ErrNotFound, "network weird not found"},
		{EtcFiles{Hostname: "h", ExtraHosts: []string{"nocolon"}}, errdefs.ErrInvalidArgument, `bad format for add-host: "nocolon"`},
		{EtcFiles{Hostname: "h", ExtraHosts: []string{"a:notanip"}}, errdefs.ErrInvalidArgument, `invalid IP address in add-host: "notanip"`},
		{EtcFiles{Hostname: "h", ExtraHosts: []string{"a:host-gateway"}}, errdefs.ErrInvalidArgument, "host-gateway is unknown"},
	}
	for _, tc := range tests {
		tc.files.HostRoot = root
		err := WriteEtcFiles(t.TempDir(), tc.files)
		if !errors.Is(err, tc.class) || err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("WriteEtcFiles(%+v) = %v, want %q (%v)", tc.files, err, tc.msg, tc.class)
		}
	}
}

func FuzzParseExtraHost(f *testing.F) {
	for _, s := range []string{"db:1.2.3.4", "h=::1", "h:[::1]", "h:host-gateway", ":1.2.3.4", "h:", "a b:1.1.1.1", "h:2001:db8::1"} {
		f.Add(s)
	}
	gw := net.ParseIP("10.0.0.1")
	f.Fuzz(func(t *testing.T, entry string) {
		name, ip, err := ParseExtraHost(entry, gw)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if name == "" || ip == nil || strings.ContainsAny(name, " \t\n#") {
			t.Fatalf("ParseExtraHost(%q) = %q, %v", entry, name, ip)
		}
		// The hosts line it yields parses back to the same entry.
		n2, ip2, err := ParseExtraHost(name+"="+ip.String(), nil)
		if err != nil || n2 != name || !ip2.Equal(ip) {
			t.Fatalf("round trip of %q: %q %v %v", entry, n2, ip2, err)
		}
	})
}
