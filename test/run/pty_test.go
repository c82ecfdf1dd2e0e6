package run

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/test/testbin"
)

// terminal is a strata command running on a pseudo-terminal, as in an
// interactive shell.
type terminal struct {
	t      *testing.T
	master *os.File
	slave  *os.File
	cmd    *exec.Cmd
	cancel context.CancelFunc

	mu   sync.Mutex
	out  []byte
	seen int // output before this offset was matched already
	done chan struct{}
}

// openPty opens a pseudo-terminal pair with /dev/ptmx.
func openPty() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// startTerminal runs strata args on a new pty of rows x cols, as the
// session leader with the pty as its controlling terminal.
func (e *env) startTerminal(rows, cols uint16, args ...string) *terminal {
	e.t.Helper()
	master, slave, err := openPty()
	if err != nil {
		e.t.Skipf("no pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := e.command(ctx, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		cancel()
		e.t.Fatal(err)
	}
	term := &terminal{t: e.t, master: master, slave: slave, cmd: cmd, cancel: cancel, done: make(chan struct{})}
	go term.read()
	e.t.Cleanup(term.close)
	return term
}

func (term *terminal) read() {
	defer close(term.done)
	buf := make([]byte, 4096)
	for {
		n, err := term.master.Read(buf)
		term.mu.Lock()
		term.out = append(term.out, buf[:n]...)
		term.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// send types s on the terminal.
func (term *terminal) send(s string) {
	term.t.Helper()
	if _, err := term.master.Write([]byte(s)); err != nil {
		term.t.Fatalf("write to the terminal: %v", err)
	}
}

// expect waits until output not matched before contains want.
func (term *terminal) expect(want string, d time.Duration) {
	term.t.Helper()
	deadline := time.Now().Add(d)
	for {
		term.mu.Lock()
		out := string(term.out)
		i := strings.Index(out[term.seen:], want)
		if i >= 0 {
			term.seen += i + len(want)
		}
		term.mu.Unlock()
		if i >= 0 {
			return
		}
		if time.Now().After(deadline) {
			term.t.Fatalf("terminal: no %q after %s; output:\n%q", want, d, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait waits for strata to exit and returns its exit code.
func (term *terminal) wait(d time.Duration) int {
	term.t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- term.cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			term.t.Fatal(err)
		}
		return 0
	case <-time.After(d):
		term.mu.Lock()
		defer term.mu.Unlock()
		term.t.Fatalf("strata still runs after %s; output:\n%q", d, term.out)
		return -1
	}
}

// resize changes the terminal's size and tells strata, as a terminal
// emulator does.
func (term *terminal) resize(rows, cols uint16) {
	term.t.Helper()
	if err := unix.IoctlSetWinsize(int(term.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		term.t.Fatal(err)
	}
	_ = term.cmd.Process.Signal(syscall.SIGWINCH)
}

// lflag reads the terminal's local modes (ECHO, ICANON, ISIG).
func (term *terminal) lflag() uint32 {
	term.t.Helper()
	tio, err := unix.IoctlGetTermios(int(term.slave.Fd()), unix.TCGETS)
	if err != nil {
		term.t.Fatal(err)
	}
	return tio.Lflag
}

func (term *terminal) close() {
	if term.cmd.ProcessState == nil {
		_ = term.cmd.Process.Kill()
		_ = term.cmd.Wait()
	}
	term.cancel()
	term.master.Close()
	term.slave.Close()
}

// TestInteractive drives `run -it IMAGE sh` through a real pty: raw mode,
// window size and resize, Ctrl-C reaching the container, the detach keys,
// and attach again.
func TestInteractive(t *testing.T) {
	e := newEnv(t)
	term := e.startTerminal(33, 101, "run", "-it", "--name", "it", "busybox", "sh")
	term.expect("# ", 10*time.Second)
	if lf := term.lflag(); lf&(unix.ECHO|unix.ICANON|unix.ISIG) != 0 {
		t.Fatalf("strata did not put the terminal in raw mode: lflag %#x", lf)
	}
	term.send("stty size\r")
	term.expect("33 101\r\n", 5*time.Second)

	term.resize(40, 120)
	for i := 0; ; i++ { // the new size travels through the monitor
		term.send("stty size\r")
		if testbin.WaitFor(time.Second, func() bool {
			term.mu.Lock()
			defer term.mu.Unlock()
			return strings.Contains(string(term.out[term.seen:]), "40 120\r\n")
		}) {
			break
		}
		if i == 5 {
			term.expect("40 120\r\n", time.Second)
		}
	}
	term.expect("40 120\r\n", time.Second)

	// Ctrl-C interrupts the foreground command, not the shell.
	began := time.Now()
	term.send("sleep 100\r")
	time.Sleep(300 * time.Millisecond)
	term.send("\x03")
	term.send("echo alive-$((40+2))\r")
	term.expect("alive-42", 10*time.Second)
	if d := time.Since(began); d > 20*time.Second {
		t.Fatalf("Ctrl-C did not interrupt sleep (%s)", d)
	}

	// ctrl-p ctrl-q detaches and leaves the container running.
	term.send("\x10\x11")
	if code := term.wait(10 * time.Second); code != 0 {
		t.Fatalf("detach: strata exited %d", code)
	}
	wantEq(t, "state after detach", e.status("it"), "running")

	// attach picks the shell up again; its exit ends attach with its code.
	again := e.startTerminal(25, 80, "attach", "it")
	again.send("echo back-$((2+3))\r")
	again.expect("back-5", 10*time.Second)
	again.send("stty size\r")
	again.expect("25 80\r\n", 5*time.Second) // attach sends its own size
	again.send("exit 3\r")
	if code := again.wait(10 * time.Second); code != 3 {
		t.Fatalf("attach ended with %d, want the container's 3", code)
	}
	wantEq(t, "state", e.status("it"), "exited")
	if lf := again.lflag(); lf&unix.ECHO == 0 || lf&unix.ICANON == 0 {
		t.Fatalf("strata did not restore the terminal: lflag %#x", lf)
	}
}

// TestInteractiveExec runs exec -it in a running container through a pty.
func TestInteractiveExec(t *testing.T) {
	e := newEnv(t)
	e.runD("--name", "x", "busybox", "sleep", "1000")
	term := e.startTerminal(30, 90, "exec", "-it", "x", "sh")
	term.expect("# ", 10*time.Second)
	term.send("stty size; tty\r")
	term.expect("30 90\r\n/dev/pts/", 5*time.Second)
	term.resize(31, 91)
	time.Sleep(200 * time.Millisecond)
	term.send("stty size\r")
	term.expect("31 91\r\n", 5*time.Second)
	term.send("sleep 100\r")
	time.Sleep(300 * time.Millisecond)
	term.send("\x03")
	term.send("echo ok-$((1+1)); exit 4\r")
	term.expect("ok-2", 10*time.Second)
	if code := term.wait(10 * time.Second); code != 4 {
		t.Fatalf("exec -it exited %d, want 4", code)
	}
	wantEq(t, "container still runs", e.status("x"), "running")
}
