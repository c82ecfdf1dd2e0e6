package run

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// TestRestartOnFailure: on-failure:2 restarts a failing container twice,
// then leaves it exited with RestartCount 2; a clean exit is not restarted.
func TestRestartOnFailure(t *testing.T) {
	e := newEnv(t)
	e.runD("--name", "f", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 1")
	e.waitFor("f exits for good", 15*time.Second, func() bool {
		return e.status("f") == "exited" && e.inspect("f", "{{.RestartCount}}") == "2"
	})
	wantEq(t, "runs", e.out("logs", "f"), "run\nrun\nrun")
	wantEq(t, "exit code", e.out("wait", "f"), "1")
	wantEq(t, "inspect", e.inspect("f", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}"), "exited 1 2")
	if s := e.out("ps", "-a", "--filter", "name=f", "--format", "{{.Status}}"); !strings.HasPrefix(s, "Exited (1) ") {
		t.Fatalf("ps STATUS %q", s)
	}

	e.runD("--name", "ok", "--restart", "on-failure", "busybox", "sh", "-c", "echo once")
	wantEq(t, "a clean exit", e.out("wait", "ok"), "0")
	wantEq(t, "not restarted", e.out("logs", "ok"), "once")
	wantEq(t, "RestartCount", e.inspect("ok", "{{.RestartCount}}"), "0")

	r := e.fail(125, "run", "--rm", "--restart", "always", "busybox", "true")
	wantContains(t, "--rm with --restart", r.Stderr, "conflicting options")
	e.fail(125, "run", "--restart", "sometimes", "busybox", "true")
}

// TestRestartAlways: a container whose process is killed from outside comes
// back; stop ends it for good.
func TestRestartAlways(t *testing.T) {
	e := newEnv(t)
	id := e.runD("--name", "a", "--restart", "always", "busybox", "sh", "-c", "echo up; exec sleep 1000")
	waitLog(t, e, "a", "up")
	pid := e.initPid(id)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitFor("a new process", 15*time.Second, func() bool {
		p, _ := strconv.Atoi(e.inspect(id, "{{.State.Pid}}"))
		return p > 0 && p != pid && e.status("a") == "running"
	})
	waitLog(t, e, "a", "up\nup")
	wantEq(t, "RestartCount", e.inspect("a", "{{.RestartCount}}"), "1")
	if s := e.out("ps", "--format", "{{.Status}}"); !strings.HasPrefix(s, "Up ") {
		t.Fatalf("ps STATUS %q", s)
	}
	// stop is final: no restart.
	e.ok("stop", "-t", "0", "a")
	time.Sleep(500 * time.Millisecond)
	wantEq(t, "after stop", e.status("a"), "exited")
	// start brings it back with its policy.
	e.ok("start", "a")
	wantEq(t, "started", e.status("a"), "running")

	// A crash loop waits longer and longer between runs; stop ends the
	// wait at once.
	e.runD("--name", "loop", "--restart", "always", "busybox", "sh", "-c", "exit 2")
	e.waitFor("a few restarts", 15*time.Second, func() bool {
		n, _ := strconv.Atoi(e.inspect("loop", "{{.RestartCount}}"))
		return n >= 4
	})
	began := time.Now()
	e.ok("stop", "loop")
	if d := time.Since(began); d > 2*time.Second {
		t.Fatalf("stop of a restarting container took %s", d)
	}
	wantEq(t, "stopped for good", e.status("loop"), "exited")
	time.Sleep(time.Second)
	wantEq(t, "still stopped", e.status("loop"), "exited")
}

// initPid is the host pid of a running container's process, as
// `container inspect` reports it.
func (e *env) initPid(ref string) int {
	e.t.Helper()
	pid, err := strconv.Atoi(e.inspect(ref, "{{.State.Pid}}"))
	if err != nil || pid <= 0 {
		e.t.Fatalf("pid of %s: %d %v", ref, pid, err)
	}
	return pid
}

// waitFor polls cond for up to d and fails the test with what otherwise.
func (e *env) waitFor(what string, d time.Duration, cond func() bool) {
	e.t.Helper()
	if !testbin.WaitFor(d, cond) {
		e.t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}
