package network

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
)

// udpIdleTimeout ends a UDP flow nobody has used for this long (Docker's
// userland proxy uses the same 90 s).
const udpIdleTimeout = 90 * time.Second

// dialTimeout bounds connecting to the container for one TCP connection.
const dialTimeout = 10 * time.Second

// Proxy publishes ports: it listens on each mapping's HostIP:HostPort (all
// addresses when HostIP is "") and forwards TCP connections and UDP datagrams
// to target:ContainerPort until ctx ends. It fails at once, with Docker's
// "Bind for 0.0.0.0:8080 failed: port is already allocated", if a port
// cannot be bound. The container's monitor process runs it for the
// container's lifetime; no iptables DNAT is involved.
func Proxy(ctx context.Context, ports []PortMapping, target net.IP) error {
	p, err := ListenPorts(ports, target)
	if err != nil {
		return err
	}
	return p.Serve(ctx)
}

// PortProxy is a set of bound published ports not yet, or being, served.
// ListenPorts then Serve lets a caller report readiness between the two.
type PortProxy struct {
	forwarders []forwarder
}

type forwarder interface {
	serve(ctx context.Context)
	addr() net.Addr
	io.Closer
}

// ListenPorts binds every mapping's host port; on any failure it releases
// those already bound. HostPort 0 binds a kernel-chosen port (see Addrs).
func ListenPorts(ports []PortMapping, target net.IP) (*PortProxy, error) {
	t, ok := netip.AddrFromSlice(target)
	if !ok {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "proxy target %q is not an IP address", target)
	}
	t = t.Unmap()
	p := &PortProxy{}
	for _, m := range ports {
		if m.HostPortEnd != 0 {
			_ = p.Close() // the ports just bound; the mapping error is the one to report
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "publish %s: host port range not resolved", m)
		}
		c, _, err := listen(m)
		if err != nil {
			_ = p.Close() // the ports just bound; the bind error is the one to report
			return nil, err
		}
		dst := netip.AddrPortFrom(t, m.ContainerPort)
		switch c := c.(type) {
		case net.Listener:
			p.forwarders = append(p.forwarders, &tcpForwarder{ln: c, target: dst.String()})
		case *net.UDPConn:
			p.forwarders = append(p.forwarders, &udpForwarder{conn: c, target: net.UDPAddrFromAddrPort(dst)})
		}
	}
	return p, nil
}

// Addrs returns the bound host addresses, in the order of the mappings.
func (p *PortProxy) Addrs() []net.Addr {
	out := make([]net.Addr, len(p.forwarders))
	for i, f := range p.forwarders {
		out[i] = f.addr()
	}
	return out
}

// Serve forwards traffic until ctx ends, then closes the listeners and every
// connection and returns nil.
func (p *PortProxy) Serve(ctx context.Context) error {
	// Closing ends the forwarders; Serve returns nil whatever it reports.
	stop := context.AfterFunc(ctx, func() { _ = p.Close() })
	defer stop()
	var wg sync.WaitGroup
	for _, f := range p.forwarders {
		wg.Go(func() { f.serve(ctx) })
	}
	wg.Wait()
	return nil
}

// Close releases the host ports.
func (p *PortProxy) Close() error {
	var errs []error
	for _, f := range p.forwarders {
		if err := f.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type tcpForwarder struct {
	ln     net.Listener
	target string
}

func (f *tcpForwarder) addr() net.Addr { return f.ln.Addr() }
func (f *tcpForwarder) Close() error   { return f.ln.Close() }

func (f *tcpForwarder) serve(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	backoff := 5 * time.Millisecond
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(backoff) // e.g. EMFILE: let connections finish
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		wg.Go(func() { f.handle(ctx, c) })
	}
}

// handle pipes one client connection to the container, passing half-closes
// through so that request/response protocols that shut down writing work.
func (f *tcpForwarder) handle(ctx context.Context, client net.Conn) {
	defer closeConn(client)
	d := net.Dialer{Timeout: dialTimeout}
	backend, err := d.DialContext(ctx, "tcp", f.target)
	if err != nil {
		return
	}
	defer closeConn(backend)
	stop := context.AfterFunc(ctx, func() { closeConn(client); closeConn(backend) })
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pipe(backend, client)
	}()
	pipe(client, backend)
	<-done
}

// pipe copies src to dst (splice(2) between two TCP sockets), then
// half-closes dst; on an error it closes both so the other direction ends.
func pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if err != nil {
		closeConn(dst)
		closeConn(src)
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		// This fails only when the connection is already gone, which the
		// copy in the other direction then sees too.
		_ = cw.CloseWrite()
	}
}

// closeConn closes a proxied socket and drops the error: the copies using it
// have ended or are being cut short, and close(2) on a socket reports nothing
// the client or the container could act on.
func closeConn(c io.Closer) { _ = c.Close() }

type udpForwarder struct {
	conn   *net.UDPConn
	target *net.UDPAddr
}

func (f *udpForwarder) addr() net.Addr { return f.conn.LocalAddr() }
func (f *udpForwarder) Close() error   { return f.conn.Close() }

// serve keeps one connected socket to the container per client address, so
// replies find their way back, and drops it after udpIdleTimeout.
func (f *udpForwarder) serve(ctx context.Context) {
	var (
		mu    sync.Mutex
		flows = map[netip.AddrPort]*net.UDPConn{}
		wg    sync.WaitGroup
	)
	defer func() {
		mu.Lock()
		for _, up := range flows {
			closeConn(up)
		}
		mu.Unlock()
		wg.Wait()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, client, err := f.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		mu.Lock()
		up := flows[client]
		if up == nil {
			if up, err = net.DialUDP("udp", nil, f.target); err != nil {
				mu.Unlock()
				continue
			}
			flows[client] = up
			wg.Go(func() {
				f.replies(up, client)
				mu.Lock()
				delete(flows, client)
				mu.Unlock()
				closeConn(up)
			})
		}
		mu.Unlock()
		// A datagram the container's socket refuses is lost, as UDP allows.
		_, _ = up.Write(buf[:n])
	}
}

// replies relays the container's answers on one flow back to its client.
func (f *udpForwarder) replies(up *net.UDPConn, client netip.AddrPort) {
	buf := make([]byte, 64<<10)
	for {
		// This fails only on a closed socket, which the Read below reports.
		_ = up.SetReadDeadline(time.Now().Add(udpIdleTimeout))
		n, err := up.Read(buf)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue // an ICMP error for an earlier datagram: the flow stays
			}
			return
		}
		if _, err := f.conn.WriteToUDPAddrPort(buf[:n], client); err != nil && errors.Is(err, net.ErrClosed) {
			return
		}
	}
}
