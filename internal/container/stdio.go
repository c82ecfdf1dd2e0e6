package container

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/runtime/spec"
)

// stdio holds both ends of the container's standard streams when it has
// no terminal: the child ends go to the runtime, the monitor keeps the rest.
type stdio struct {
	in, out, err    *os.File // child ends
	inW, outR, errR *os.File // monitor ends
}

func (mon *monitor) openStdio() (*stdio, error) {
	s := &stdio{}
	if mon.cfg.Tty {
		return s, nil
	}
	var err error
	if s.outR, s.out, err = os.Pipe(); err != nil {
		return nil, err
	}
	if s.errR, s.err, err = os.Pipe(); err != nil {
		return nil, err
	}
	if mon.cfg.OpenStdin {
		if s.in, s.inW, err = os.Pipe(); err != nil {
			return nil, err
		}
		mon.mu.Lock()
		mon.stdin = s.inW
		mon.mu.Unlock()
	} else if s.in, err = os.Open(os.DevNull); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *stdio) closeChild() {
	for _, f := range []*os.File{s.in, s.out, s.err} {
		if f != nil {
			f.Close()
		}
	}
	s.in, s.out, s.err = nil, nil, nil
}

func (s *stdio) closeParent() {
	for _, f := range []*os.File{s.inW, s.outR, s.errR} {
		if f != nil {
			f.Close()
		}
	}
}

// copyOutput copies the container's output to the log and to attached
// clients; the channel closes when the streams reach EOF.
func (mon *monitor) copyOutput(s *stdio) <-chan struct{} {
	done := make(chan struct{})
	streams := []struct {
		r    io.Reader
		name string
		typ  byte
	}{{s.outR, "stdout", frameStdout}, {s.errR, "stderr", frameStderr}}
	if mon.cfg.Tty {
		mon.mu.Lock()
		pty := mon.pty
		mon.mu.Unlock()
		streams = streams[:1]
		streams[0].r = pty
	}
	left := len(streams)
	finished := make(chan struct{}, left)
	for _, st := range streams {
		go func() {
			log := mon.logs.Stream(st.name)
			buf := make([]byte, 32<<10)
			for {
				n, err := st.r.Read(buf)
				if n > 0 {
					_, _ = log.Write(buf[:n])
					mon.broadcast(st.typ, buf[:n])
				}
				if err != nil {
					break
				}
			}
			_ = log.Flush()
			finished <- struct{}{}
		}()
	}
	go func() {
		for range left {
			<-finished
		}
		close(done)
	}()
	return done
}

func (mon *monitor) broadcast(typ byte, p []byte) {
	mon.mu.Lock()
	defer mon.mu.Unlock()
	for cl := range mon.clients {
		cl.send(typ, p)
	}
}

// serve answers clients on the monitor socket.
func (mon *monitor) serve() {
	for {
		conn, err := mon.ln.Accept()
		if err != nil {
			return
		}
		go mon.handle(conn)
	}
}

func (mon *monitor) handle(conn net.Conn) {
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	if err != nil {
		conn.Close()
		return
	}
	var req request
	if json.Unmarshal(line, &req) != nil {
		conn.Close()
		return
	}
	switch req.Op {
	case opAttach:
		mon.attach(conn, br, req)
		return
	case opStart:
		mon.release()
		_ = json.NewEncoder(conn).Encode(reply{})
	case opStop, opKill:
		rep := mon.signal(req)
		_ = json.NewEncoder(conn).Encode(rep)
	case opWait:
		<-mon.final
		_ = json.NewEncoder(conn).Encode(reply{ExitCode: mon.code})
	case opResize:
		mon.resize(req.Rows, req.Cols)
		_ = json.NewEncoder(conn).Encode(reply{})
	}
	conn.Close()
}

func (mon *monitor) release() {
	select {
	case <-mon.started:
	default:
		close(mon.started)
	}
}

func (mon *monitor) attach(conn net.Conn, br *bufio.Reader, req request) {
	cl := &client{conn: conn, stdin: req.Stdin}
	mon.mu.Lock()
	select {
	case <-mon.final:
		mon.mu.Unlock()
		cl.send(frameExit, exitPayload(mon.code))
		conn.Close()
		return
	default:
	}
	mon.clients[cl] = struct{}{}
	mon.mu.Unlock()
	mon.release()
	defer func() {
		mon.mu.Lock()
		delete(mon.clients, cl)
		mon.mu.Unlock()
		conn.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		typ, p, err := readFrame(br, buf)
		if err != nil {
			return
		}
		switch typ {
		case frameStdin:
			if cl.stdin {
				mon.writeStdin(p)
			}
		case frameCloseIn:
			if cl.stdin && !mon.cfg.Tty {
				mon.closeStdin()
			}
		case frameResize:
			if len(p) == 4 {
				mon.resize(uint16(p[0])<<8|uint16(p[1]), uint16(p[2])<<8|uint16(p[3]))
			}
		}
	}
}

func (mon *monitor) writeStdin(p []byte) {
	mon.mu.Lock()
	w := mon.stdin
	mon.mu.Unlock()
	if w != nil {
		_, _ = w.Write(p)
	}
}

func (mon *monitor) closeStdin() {
	mon.mu.Lock()
	defer mon.mu.Unlock()
	if mon.stdin != nil && mon.stdin != mon.pty {
		mon.stdin.Close()
		mon.stdin = nil
	}
}

func (mon *monitor) resize(rows, cols uint16) {
	mon.mu.Lock()
	pty := mon.pty
	mon.mu.Unlock()
	if pty != nil && rows > 0 && cols > 0 {
		_ = unix.IoctlSetWinsize(int(pty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}
}

// signal handles stop (signal, grace period, SIGKILL, wait) and kill.
func (mon *monitor) signal(req request) reply {
	mon.stopped.Store(true)
	mon.stopOne.Do(func() { close(mon.stopCh) })
	mon.release() // a container still waiting for its first client ends now
	ctx := context.Background()
	sig := req.Signal
	if req.Op == opStop && sig == "" {
		sig = mon.cfg.StopSignal
	}
	if sig == "" {
		sig = "SIGTERM"
		if req.Op == opKill {
			sig = "SIGKILL"
		}
	}
	s, err := spec.ParseSignal(sig)
	if err != nil {
		return reply{Error: err.Error()}
	}
	if err := mon.m.Runtime.Kill(ctx, mon.c.ID, s, false); err != nil && req.Op == opKill {
		return reply{Error: err.Error()}
	}
	if req.Op == opKill {
		return reply{}
	}
	select {
	case <-mon.final:
	case <-time.After(time.Duration(max(req.Timeout, 0)) * time.Second):
		_ = mon.m.Runtime.Kill(ctx, mon.c.ID, unix.SIGKILL, true)
		<-mon.final
	}
	return reply{ExitCode: mon.code}
}

// publish binds the published ports of a bridge container (failing the
// start when one is taken, like Docker) and serves them for the monitor's
// lifetime.
func (mon *monitor) publish(ctx context.Context) (func(), error) {
	if len(mon.att.Ports) == 0 || mon.att.IP == nil {
		return func() {}, nil
	}
	proxy, err := network.ListenPorts(mon.att.Ports, mon.att.IP)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithCancel(ctx)
	go func() { _ = proxy.Serve(pctx) }()
	return cancel, nil
}
