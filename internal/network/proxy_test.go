package network

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
)

// tcpEcho serves an echo on ln until it is closed.
func tcpEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}

func startProxy(t *testing.T, ports []PortMapping, target net.IP) *PortProxy {
	t.Helper()
	p, err := ListenPorts(ports, target)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return p
}

func TestProxyTCP(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go tcpEcho(backend)
	bport := uint16(backend.Addr().(*net.TCPAddr).Port)

	p := startProxy(t, []PortMapping{{HostIP: "127.0.0.1", ContainerPort: bport, Proto: "tcp"}}, net.ParseIP("127.0.0.1"))
	front := p.Addrs()[0].String()

	payload := bytes.Repeat([]byte("strata-proxy "), 100_000) // 1.3 MB, both ways
	c, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		c.Write(payload)
		c.(*net.TCPConn).CloseWrite() // the half-close must reach the echo server
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echo through proxy returned %d bytes, want %d identical", len(got), len(payload))
	}

	// The host port is now taken: a second proxy on it fails like Docker.
	port := uint16(p.Addrs()[0].(*net.TCPAddr).Port)
	_, err = ListenPorts([]PortMapping{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: bport, Proto: "tcp"}}, net.ParseIP("127.0.0.1"))
	want := "Bind for 127.0.0.1:" + itoa(port) + " failed: port is already allocated"
	if !errors.Is(err, errdefs.ErrConflict) || err.Error() != want {
		t.Fatalf("second bind: %v, want %q", err, want)
	}
	err = Proxy(context.Background(), []PortMapping{{HostPort: port, ContainerPort: 1, Proto: "tcp"}}, net.ParseIP("127.0.0.1"))
	if want := "Bind for 0.0.0.0:" + itoa(port) + " failed: port is already allocated"; err == nil || err.Error() != want {
		t.Fatalf("Proxy on all addresses: %v, want %q", err, want)
	}
}

func TestProxyReleasesPortsOnError(t *testing.T) {
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	first, err := ListenPorts([]PortMapping{{HostIP: "127.0.0.1", ContainerPort: 1, Proto: "tcp"}}, net.ParseIP("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	freePort := first.Addrs()[0].(*net.TCPAddr).Port
	first.Close()
	ports := []PortMapping{
		{HostIP: "127.0.0.1", HostPort: uint16(freePort), ContainerPort: 1, Proto: "tcp"},
		{HostIP: "127.0.0.1", HostPort: uint16(busy.Addr().(*net.TCPAddr).Port), ContainerPort: 2, Proto: "tcp"},
	}
	if _, err := ListenPorts(ports, net.ParseIP("127.0.0.1")); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("ListenPorts with a busy port: %v", err)
	}
	ln, err := net.Listen("tcp4", hostPortString(ports[0]))
	if err != nil {
		t.Fatalf("port %d still held after a failed ListenPorts: %v", freePort, err)
	}
	ln.Close()
}

func TestProxyUDP(t *testing.T) {
	backend, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := backend.ReadFromUDP(buf)
			if err != nil {
				return
			}
			backend.WriteToUDP(bytes.ToUpper(buf[:n]), from)
		}
	}()
	p := startProxy(t, []PortMapping{{HostIP: "127.0.0.1", ContainerPort: uint16(backend.LocalAddr().(*net.UDPAddr).Port), Proto: "udp"}},
		net.ParseIP("127.0.0.1"))

	// Two clients: each gets its own answers back.
	for _, msg := range []string{"hello", "world"} {
		c, err := net.Dial("udp", p.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:n]); got != strings.ToUpper(msg) {
			t.Fatalf("udp reply %q, want %q", got, strings.ToUpper(msg))
		}
	}
}

func TestProxyStopsOnCancel(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go tcpEcho(backend)
	p, err := ListenPorts([]PortMapping{{HostIP: "127.0.0.1", ContainerPort: uint16(backend.Addr().(*net.TCPAddr).Port), Proto: "tcp"}},
		net.ParseIP("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	c, err := net.Dial("tcp", p.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	// The open connection was closed and the port released.
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after the proxy stopped")
	}
	ln, err := net.Listen("tcp", p.Addrs()[0].String())
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	ln.Close()
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }
