package run

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// gatewayScript prints the container's default gateway.
const gatewayScript = `ip route | awk '/^default/ {print $3}'`

// TestBridge: a bridge container reaches the host and other containers;
// published ports are reachable from the host on their address and from
// other containers through the gateway.
func TestBridge(t *testing.T) {
	e := newEnv(t)
	// The host: an HTTP server on every address.
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host saw %s", r.URL.Path)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	hostPort := ln.Addr().(*net.TCPAddr).Port

	gw := e.out("run", "--rm", "busybox", "sh", "-c", gatewayScript)
	if net.ParseIP(gw) == nil {
		t.Fatalf("gateway %q", gw)
	}
	wantEq(t, "container -> host", e.out("run", "--rm", "busybox", "wget", "-qO-", fmt.Sprintf("http://%s:%d/from-bridge", gw, hostPort)), "host saw /from-bridge")

	// A published port: the host reaches it on 127.0.0.1, another
	// container through the gateway.
	port := testbin.FreePort(t, "127.0.0.1")
	e.runD("--name", "web", "-p", fmt.Sprintf("%d:80", port), "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www")
	wantEq(t, "host -> published port", httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)), "hello from busybox httpd\n")
	wantEq(t, "container -> published port", e.out("run", "--rm", "busybox", "sh", "-c",
		fmt.Sprintf("wget -qO- http://$(%s):%d/", gatewayScript, port)), "hello from busybox httpd")
	wantEq(t, "ps PORTS", e.out("ps", "--format", "{{.Ports}}"), fmt.Sprintf("0.0.0.0:%d->80/tcp", port))
	// Containers reach each other directly.
	ip := e.out("exec", "web", "sh", "-c", `ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1`)
	wantEq(t, "container -> container", e.out("run", "--rm", "busybox", "wget", "-qO-", "http://"+ip+"/"), "hello from busybox httpd")

	// -p IP:HOST:CTR binds that address only.
	lport := testbin.FreePort(t, "127.0.0.1")
	e.runD("--name", "local", "-p", fmt.Sprintf("127.0.0.1:%d:80", lport), "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www")
	wantEq(t, "127.0.0.1 binding", httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", lport)), "hello from busybox httpd\n")
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", gw, lport), time.Second); err == nil {
		c.Close()
		t.Fatalf("a port published on 127.0.0.1 answers on %s", gw)
	}
	// A taken host port fails the start, like Docker.
	r := e.exec("run", "-d", "--name", "clash", "-p", fmt.Sprintf("%d:80", port), "busybox", "sleep", "1000")
	if r.Code != 125 {
		t.Fatalf("run with a taken port: %s", r)
	}

	// -P publishes the image's EXPOSEd ports on random host ports.
	e.importImage("exposing", "EXPOSE 80")
	e.runD("--name", "all", "-P", "exposing", "httpd", "-f", "-p", "80", "-h", "/var/www")
	mapped := e.out("port", "all", "80")
	if !strings.HasPrefix(mapped, "0.0.0.0:") || strings.HasSuffix(mapped, ":0") {
		t.Fatalf("port all 80: %q", mapped)
	}
	wantEq(t, "-P", httpGet(t, "http://127.0.0.1:"+strings.TrimPrefix(mapped, "0.0.0.0:")+"/"), "hello from busybox httpd\n")
	wantEq(t, "ps PORTS with -P", e.out("ps", "--filter", "name=all", "--format", "{{.Ports}}"), mapped+"->80/tcp")
	// Stopped, the ports are released.
	e.ok("stop", "-t", "0", "web")
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Fatal("a stopped container's port still answers")
	}
}

// TestHostAndNone: --network host shares the host's network; none has only
// a loopback interface.
func TestHostAndNone(t *testing.T) {
	e := newEnv(t)
	host, _ := os.Hostname()
	wantEq(t, "host: hostname", e.out("run", "--rm", "--network", "host", "busybox", "hostname"), host)
	port := testbin.FreePort(t, "127.0.0.1")
	e.runD("--name", "h", "--network", "host", "busybox", "httpd", "-f", "-p", fmt.Sprintf("127.0.0.1:%d", port), "-h", "/var/www")
	wantEq(t, "host network", httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)), "hello from busybox httpd\n")
	hostLinks, _ := net.Interfaces()
	if n := e.out("run", "--rm", "--network", "host", "busybox", "sh", "-c", "ip -o link | wc -l"); n != fmt.Sprint(len(hostLinks)) {
		t.Fatalf("host mode sees %s interfaces, the host has %d", n, len(hostLinks))
	}
	wantEq(t, "none: lo only", e.out("run", "--rm", "--network", "none", "busybox", "sh", "-c", "ip -o link | awk -F': ' '{print $2}'"), "lo")
	r := e.exec("run", "--rm", "--network", "none", "busybox", "wget", "-T", "2", "-qO-", "http://10.88.0.1/")
	if r.Code == 0 {
		t.Fatal("a none container reached the network")
	}
	e.fail(125, "run", "--rm", "--network", "nosuchnet", "busybox", "true")
}

// TestEtcFiles: /etc/hosts, /etc/hostname and /etc/resolv.conf as Docker
// writes them in each network mode.
func TestEtcFiles(t *testing.T) {
	e := newEnv(t)
	defaults := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n" +
		"ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
	id := e.runD("--add-host", "db:10.0.0.5", "busybox", "sleep", "1000")
	ip := e.out("exec", id, "sh", "-c", `ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1`)
	wantEq(t, "bridge hosts", e.ok("exec", id, "cat", "/etc/hosts"), defaults+"10.0.0.5\tdb\n"+ip+"\t"+id[:12]+"\n")
	wantEq(t, "bridge hostname", e.ok("exec", id, "cat", "/etc/hostname"), id[:12]+"\n")
	wantEq(t, "--hostname", e.ok("run", "--rm", "--hostname", "named", "busybox", "sh", "-c", "cat /etc/hostname; hostname"), "named\nnamed\n")
	wantEq(t, "none hosts", e.ok("run", "--rm", "--network", "none", "busybox", "cat", "/etc/hosts"), defaults)

	hostResolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Skip("the host has no /etc/resolv.conf")
	}
	got := e.ok("exec", id, "cat", "/etc/resolv.conf")
	wantEq(t, "bridge resolv.conf nameservers", nameservers(got), nameservers(string(hostResolv), "127.", "::1"))
	wantEq(t, "host resolv.conf", e.ok("run", "--rm", "--network", "host", "busybox", "cat", "/etc/resolv.conf"), string(hostResolv))
	if hostHosts, err := os.ReadFile("/etc/hosts"); err == nil {
		wantEq(t, "host mode hosts", e.ok("run", "--rm", "--network", "host", "busybox", "cat", "/etc/hosts"), string(hostHosts))
	}
	// The files are the container's own: a write does not reach the host.
	e.ok("exec", id, "sh", "-c", "echo '1.2.3.4 mine' >> /etc/hosts")
	if b, _ := os.ReadFile("/etc/hosts"); strings.Contains(string(b), "mine") {
		t.Fatal("a container's /etc/hosts write reached the host")
	}
}

// nameservers lists the nameserver lines of a resolv.conf, without those
// whose address starts with one of skip.
func nameservers(conf string, skip ...string) string {
	var out []string
	for _, l := range strings.Split(conf, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		keep := true
		for _, s := range skip {
			keep = keep && !strings.HasPrefix(f[1], s)
		}
		if keep {
			out = append(out, f[1])
		}
	}
	return strings.Join(out, " ")
}

// httpGet fetches url from the host, retrying for a few seconds while the
// server starts.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 3 * time.Second}
	var last error
	for i := 0; i < 50; i++ {
		resp, err := client.Get(url)
		if err == nil {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				return string(body)
			}
			last = fmt.Errorf("status %s, %w", resp.Status, err)
		} else {
			last = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}
