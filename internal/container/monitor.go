package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/runtime/oci"
)

// monitor is the process that owns one running container.
type monitor struct {
	m       *Manager
	c       metadata.Container
	cfg     Config
	dir     string
	ln      net.Listener
	logs    *LogWriter
	att     network.Attachment
	started chan struct{} // closed when the first client attaches (waitAttach)
	stopped atomic.Bool   // stopped or killed by a user: no restart
	stopCh  chan struct{} // closed with stopped: ends a restart delay
	stopOne sync.Once

	mu      sync.Mutex
	clients map[*client]struct{}
	stdin   io.WriteCloser // container stdin (pipe or pty master); nil when closed
	pty     *os.File
	final   chan struct{} // closed when the container ended for good
	code    int
}

type client struct {
	conn  net.Conn
	mu    sync.Mutex
	stdin bool
}

func (cl *client) send(typ byte, p []byte) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	_ = cl.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if writeFrame(cl.conn, typ, p) != nil {
		cl.conn.Close()
	}
}

// RunMonitor is the body of `strata container-monitor ID`. It reports
// "ok" or "error: ..." on ready once the container runs (or is created and
// waits for its first client), then stays until the container has ended
// for good.
func (m *Manager) RunMonitor(ctx context.Context, id string, ready *os.File, waitAttach bool) error {
	mon := &monitor{m: m, dir: m.dir(id), clients: map[*client]struct{}{}, final: make(chan struct{}), started: make(chan struct{}),
		stopCh: make(chan struct{})}
	if !waitAttach {
		close(mon.started)
	}
	err := mon.setup(ctx, id)
	if err == nil {
		err = mon.run(ctx, ready)
	}
	// Tear down before reporting a failed start: the caller may start the
	// container again at once, and must not race with this cleanup.
	mon.teardown(ctx)
	if err != nil && ready != nil {
		fmt.Fprintf(ready, "error: %s\n", err) // fails harmlessly if "ok" was sent
		ready.Close()
	}
	return err
}

func (mon *monitor) setup(ctx context.Context, id string) error {
	m := mon.m
	c, err := m.Meta.UpdateContainer(ctx, id, func(c *metadata.Container) error {
		c.MonitorPid = os.Getpid()
		c.MonitorStart = processStart(os.Getpid())
		c.Error = ""
		return nil
	})
	if err != nil {
		return err
	}
	mon.c = c
	if mon.cfg, err = decodeConfig(c.Config); err != nil {
		return err
	}
	if err := oci.SetSubreaper(); err != nil {
		return err
	}
	if mon.logs, err = OpenLog(filepath.Join(mon.dir, "container.log")); err != nil {
		return err
	}
	sock := m.sockPath(id)
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		return err
	}
	os.Remove(sock)
	if mon.ln, err = net.Listen("unix", sock); err != nil {
		return fmt.Errorf("monitor socket: %w", err)
	}
	go mon.serve()
	return nil
}

// run starts the container, waits for it, and applies the restart policy.
func (mon *monitor) run(ctx context.Context, ready *os.File) error {
	env, err := mon.m.prepareRun(ctx, mon.c, mon.cfg)
	if err != nil {
		return err
	}
	mon.att = env.att
	stopProxy, err := mon.publish(ctx)
	if err != nil {
		return err
	}
	defer stopProxy()
	for restarts := mon.c.Restarts; ; restarts++ {
		began := time.Now()
		code, err := mon.runOnce(ctx, env, ready)
		ready = nil // reported once
		if err != nil {
			return err
		}
		delay, again := mon.restartDelay(code, restarts, time.Since(began))
		if !again {
			mon.finish(ctx, code)
			return nil
		}
		mon.setState(ctx, func(c *metadata.Container) {
			c.State, c.ExitCode, c.FinishedAt, c.Pid, c.Restarts = metadata.StateRestarting, code, time.Now().UTC(), 0, restarts+1
		})
		select {
		case <-time.After(delay):
		case <-mon.stopCh:
		case <-mon.final:
			return nil
		}
		if mon.stopped.Load() {
			mon.finish(ctx, code)
			return nil
		}
	}
}

// runOnce creates, starts and waits for one run of the container process.
func (mon *monitor) runOnce(ctx context.Context, env *runEnv, ready *os.File) (int, error) {
	rt := mon.m.Runtime
	id := mon.c.ID
	_ = rt.Delete(ctx, id, true)
	stdio, err := mon.openStdio()
	if err != nil {
		return 0, err
	}
	pidFile := filepath.Join(mon.dir, "init.pid")
	opts := oci.CreateOpts{PidFile: pidFile, Stdin: stdio.in, Stdout: stdio.out, Stderr: stdio.err}
	var cs *oci.ConsoleSocket
	if mon.cfg.Tty {
		if cs, err = oci.NewConsoleSocket(mon.m.consolePath(id)); err != nil {
			return 0, err
		}
		defer cs.Close()
		opts = oci.CreateOpts{PidFile: pidFile, ConsoleSocket: cs.Path()}
	}
	created := make(chan error, 1)
	go func() { created <- rt.Create(ctx, id, env.bundle, opts) }()
	if cs != nil {
		if err := mon.acceptPty(cs, created); err != nil {
			stdio.closeChild()
			return 0, err
		}
	}
	err = <-created
	stdio.closeChild()
	if err != nil {
		stdio.closeParent()
		return 0, err
	}
	copies := mon.copyOutput(stdio)
	// A client that attaches before the start hears "ok" now; otherwise
	// "ok" means the container runs, so `ps` right after `run -d` shows it.
	waiting := !closed(mon.started)
	if waiting {
		signalReady(ready)
	}
	select {
	case <-mon.started:
	case <-time.After(2 * time.Minute):
	}
	if mon.stopped.Load() { // stopped or removed before its first client came
		_ = rt.Delete(ctx, id, true)
		stdio.closeParent()
		return 0, nil
	}
	pid, err := oci.ReadPidFile(pidFile)
	if err == nil {
		err = rt.Start(ctx, id)
	}
	if err != nil {
		_ = rt.Delete(ctx, id, true)
		stdio.closeParent()
		return 0, err
	}
	mon.setState(ctx, func(c *metadata.Container) {
		c.State, c.Pid, c.StartedAt, c.ExitCode = metadata.StateRunning, pid, time.Now().UTC(), 0
	})
	if !waiting {
		signalReady(ready)
	}
	code, werr := oci.Wait(pid)
	if werr != nil {
		code = 255
	}
	waitTimeout(copies, 3*time.Second)
	stdio.closeParent()
	_ = rt.Delete(ctx, id, true)
	return code, nil
}

func (mon *monitor) acceptPty(cs *oci.ConsoleSocket, created chan error) error {
	got := make(chan *os.File, 1)
	go func() {
		f, err := cs.Accept()
		if err == nil {
			got <- f
		}
		close(got)
	}()
	select {
	case f := <-got:
		if f == nil {
			return errors.New("no terminal received from the runtime")
		}
		mon.mu.Lock()
		mon.pty, mon.stdin = f, f
		mon.mu.Unlock()
		return nil
	case err := <-created:
		created <- err // runc ended first: report its error
		cs.Close()
		if err == nil {
			err = errors.New("runtime created the container without a terminal")
		}
		return err
	}
}

func (mon *monitor) restartDelay(code, restarts int, ran time.Duration) (time.Duration, bool) {
	if mon.stopped.Load() {
		return 0, false
	}
	p := mon.m.restartPolicy(context.Background(), mon.c.ID, mon.cfg.Restart)
	switch p.Name {
	case "always", "unless-stopped":
	case "on-failure":
		if code == 0 || (p.MaximumRetryCount > 0 && restarts >= p.MaximumRetryCount) {
			return 0, false
		}
	default:
		return 0, false
	}
	if ran > 10*time.Second {
		restarts = 0
	}
	delay := 100 * time.Millisecond << min(restarts, 9)
	return min(delay, time.Minute), true
}

func (mon *monitor) finish(ctx context.Context, code int) {
	mon.setState(ctx, func(c *metadata.Container) {
		c.State, c.ExitCode, c.FinishedAt, c.Pid = metadata.StateExited, code, time.Now().UTC(), 0
	})
	mon.mu.Lock()
	mon.code = code
	for cl := range mon.clients {
		cl.send(frameExit, exitPayload(code))
	}
	mon.mu.Unlock()
	close(mon.final)
}

func (mon *monitor) setState(ctx context.Context, fn func(*metadata.Container)) {
	_, err := mon.m.Meta.UpdateContainer(ctx, mon.c.ID, func(c *metadata.Container) error { fn(c); return nil })
	if err != nil {
		fmt.Fprintf(os.Stderr, "monitor %s: record state: %v\n", mon.c.ID[:12], err)
	}
}

func (mon *monitor) teardown(ctx context.Context) {
	select {
	case <-mon.final:
	default:
		close(mon.final)
	}
	if mon.ln != nil {
		mon.ln.Close()
		os.Remove(mon.m.sockPath(mon.c.ID))
	}
	if mon.c.ID == "" {
		return
	}
	mon.m.cleanupRun(ctx, mon.c.ID)
	c, _ := mon.m.Meta.UpdateContainer(ctx, mon.c.ID, func(c *metadata.Container) error {
		if c.State == metadata.StateRunning || c.State == metadata.StateRestarting || c.State == metadata.StatePaused ||
			c.State == metadata.StateCreated && c.Pid != 0 {
			c.State = metadata.StateExited
		}
		if c.MonitorPid == os.Getpid() {
			c.MonitorPid, c.MonitorStart = 0, 0
		}
		c.Pid = 0
		return nil
	})
	if mon.logs != nil {
		mon.logs.Close()
	}
	// --rm: removed while this process still runs, so that commands
	// waiting for it to exit (run, stop, wait) find the container gone.
	if mon.cfg.AutoRemove && c.ID != "" {
		if err := mon.m.removeStopped(ctx, c, RemoveOptions{Force: true, Volumes: true}); err != nil {
			fmt.Fprintf(os.Stderr, "monitor %s: --rm: %v\n", mon.c.ID[:12], err)
		}
	}
}

// signalReady tells the starting command that the container is up; the
// pipe is closed, so later calls write nothing.
func signalReady(ready *os.File) {
	if ready != nil {
		fmt.Fprintln(ready, "ok")
		ready.Close()
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func waitTimeout(ch <-chan struct{}, d time.Duration) {
	select {
	case <-ch:
	case <-time.After(d):
	}
}

// processStart reads a process's start time (clock ticks since boot) from
// /proc: with the pid it identifies a process even after pid reuse.
func processStart(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 || fields[0] == "Z" || fields[0] == "X" {
		return 0 // gone, or a zombie: where nothing reaps orphans, a killed monitor stays one
	}
	v, _ := strconv.ParseUint(fields[19], 10, 64)
	return v
}

// alive reports whether the monitor recorded for c still runs.
func alive(c metadata.Container) bool {
	if c.MonitorPid <= 0 {
		return false
	}
	if err := syscall.Kill(c.MonitorPid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	start := processStart(c.MonitorPid)
	return start != 0 && start == c.MonitorStart
}

// waitExit waits (up to 30 s) until the monitor recorded in c has exited:
// after the container stopped for good it still unmounts, releases the
// network and, with --rm, removes the container. Commands that stop or
// wait for a container return only then, so the next command (start, rm,
// ps) never races with that teardown.
func waitExit(ctx context.Context, c metadata.Container) {
	deadline := time.Now().Add(30 * time.Second)
	for alive(c) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
}
