package run

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// TestKillCLIDuringRun kills `strata run` with SIGKILL at several moments
// (creating, starting, attached); whatever it leaves, rm -f and container
// prune clean up: the leak checks at the end find no monitor, mount,
// network namespace or cgroup.
func TestKillCLIDuringRun(t *testing.T) {
	e := newEnv(t)
	// Let the root pick its storage driver first: a kill during overlay's
	// one-time test mount leaks that mount (internal/snapshot/overlay, not
	// covered here).
	e.ok("ps", "-a")
	port := testbin.FreePort(t, "127.0.0.1")
	for i, delay := range []time.Duration{0, 20 * time.Millisecond, 60 * time.Millisecond, 120 * time.Millisecond,
		250 * time.Millisecond, 500 * time.Millisecond, -1} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		args := []string{"run", "--name", "k" + strconv.Itoa(i), "busybox", "sleep", "1000"}
		if i%2 == 1 { // with a published port and a volume too
			args = []string{"run", "--name", "k" + strconv.Itoa(i), "-p", fmt.Sprintf("%d:80", port+i), "-v", "/vol", "busybox", "sleep", "1000"}
		}
		cmd := e.command(ctx, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if delay >= 0 {
			time.Sleep(delay)
		} else { // once the container runs, attached
			e.waitFor("k6 running", 20*time.Second, func() bool {
				r := e.exec("ps", "--filter", "name=k6", "--format", "{{.State}}")
				return r.Stdout == "running\n"
			})
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		cancel()
	}
	// The last one ran: the container outlives its CLI.
	if st := e.status("k6"); st != "running" {
		t.Fatalf("a container whose run was killed after the start: %s", st)
	}
	for _, id := range testbin.Lines(e.ok("ps", "-aq", "--no-trunc")) {
		e.ids[id] = true // for the cgroup check
	}
	// Stop what runs, then prune; rm -f the rest.
	for _, id := range testbin.Lines(e.ok("ps", "-q", "--no-trunc")) {
		e.ids[id] = true
		e.ok("stop", "-t", "0", id)
	}
	e.ok("container", "prune", "-f")
	if left := testbin.Lines(e.ok("ps", "-aq", "--no-trunc")); len(left) > 0 {
		e.ok(append([]string{"rm", "-f", "-v"}, left...)...)
	}
	wantEq(t, "containers left", e.out("ps", "-aq"), "")
	checkNoLeaks(t, e)
}

// TestKillMonitor kills a container's monitor with SIGKILL: the next
// command notices, kills the container and releases its mounts, network
// and ports; the container can start again, and rm -f and prune clean up.
func TestKillMonitor(t *testing.T) {
	e := newEnv(t)
	port := testbin.FreePort(t, "127.0.0.1")
	id := e.runD("--name", "m", "-p", fmt.Sprintf("%d:80", port), "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www")
	httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	pid := e.initPid("m")
	killMonitor(t, e, id)

	if st := e.status("m"); st != "exited" {
		t.Fatalf("state after the monitor died: %s", st)
	}
	wantEq(t, "exit code", e.inspect("m", "{{.State.ExitCode}}"), "255")
	if !testbin.WaitFor(5*time.Second, func() bool { return syscall.Kill(pid, 0) != nil || isZombie(pid) }) {
		t.Fatalf("the container's process %d outlived its monitor's cleanup", pid)
	}
	if m := testbin.MountsUnder(filepath.Join(e.root, "containers")); len(m) > 0 {
		t.Fatalf("mounts left: %v", m)
	}
	if ns, _ := os.ReadDir(filepath.Join(e.root, "network", "netns")); len(ns) > 0 {
		t.Fatalf("network namespaces left: %d", len(ns))
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Fatal("the published port still answers")
	}
	for _, cg := range cgroupsOf(id) {
		t.Errorf("cgroup left: %s", cg)
	}
	// It starts again, on the same port.
	e.ok("start", "m")
	wantEq(t, "restarted", httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)), "hello from busybox httpd\n")

	// Killed monitors of a --rm and of a --restart always container: stop,
	// wait and rm -f / prune handle them.
	rm := e.runD("--rm", "--name", "autorm", "busybox", "sleep", "1000")
	always := e.runD("--restart", "always", "--name", "always", "busybox", "sleep", "1000")
	killMonitor(t, e, rm)
	killMonitor(t, e, always)
	e.ok("stop", "always")
	wantEq(t, "wait", e.out("wait", "always"), "255")
	e.ok("container", "prune", "-f")
	wantEq(t, "left", e.out("ps", "-a", "--format", "{{.Names}}"), "m")
	e.ok("rm", "-f", "m")
	checkNoLeaks(t, e)
}

// killMonitor finds the monitor process of a container and kills it.
func killMonitor(t *testing.T, e *env, id string) {
	t.Helper()
	var pids []int
	for _, p := range testbin.LiveProcesses() {
		if strings.Contains(p.Args, "container-monitor "+id) && strings.Contains(p.Args, e.root) {
			pids = append(pids, p.PID)
		}
	}
	if len(pids) != 1 {
		t.Fatalf("monitors of %s: %v", id[:12], pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !testbin.WaitFor(5*time.Second, func() bool { return syscall.Kill(pids[0], 0) != nil || isZombie(pids[0]) }) {
		t.Fatalf("monitor %d did not die", pids[0])
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && strings.HasPrefix(string(b[i+1:]), " Z")
}

// checkNoLeaks checks now what the end-of-test cleanup checks, so a leak
// shows at the step that made it.
func checkNoLeaks(t *testing.T, e *env) {
	t.Helper()
	if m := e.monitors(); len(m) > 0 {
		t.Errorf("monitors left: %v", m)
	}
	if m := testbin.MountsUnder(e.base); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
	if ns, _ := os.ReadDir(filepath.Join(e.root, "network", "netns")); len(ns) > 0 {
		t.Errorf("network namespaces left: %d", len(ns))
	}
	if st, _ := os.ReadDir(filepath.Join(e.root, "runtime")); len(st) > 0 {
		t.Errorf("runtime state left for %d containers", len(st))
	}
	for id := range e.ids {
		for _, cg := range cgroupsOf(id) {
			t.Errorf("cgroup left: %s", cg)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(e.root, "containers")); len(entries) > 0 {
		var names []string
		for _, d := range entries {
			names = append(names, d.Name())
		}
		t.Errorf("container directories left: %v", names)
	}
}

// TestKillDuringCopy kills export, cp and diff of a stopped container (each
// mounts its layer for a moment) at several moments; rm -f then leaves no
// mount, directory or view snapshot behind.
func TestKillDuringCopy(t *testing.T) {
	e := newEnv(t)
	id := e.create("--name", "big", "busybox", "true")
	big := filepath.Join(e.dir, "big.bin")
	if err := os.WriteFile(big, make([]byte, 100<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("cp", big, "big:/big.bin")
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	for i := 0; i < 12; i++ {
		args := [][]string{{"export", "big"}, {"cp", "big:/big.bin", "-"}, {"diff", "big"}}[i%3]
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := e.command(ctx, args...)
		cmd.Stdout = devnull
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i*7) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		cancel()
	}
	wantEq(t, "diff after the kills", e.out("diff", "big"), "A /big.bin")
	e.ok("rm", "-f", id)
	checkNoLeaks(t, e)
	if left, _ := filepath.Glob(filepath.Join(e.root, "containers", ".*")); len(left) > 0 {
		t.Fatalf("temporary mount directories left: %v", left)
	}
}
