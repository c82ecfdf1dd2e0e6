package run

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// TestCreateStart: create leaves a created container that start runs;
// start -a prints its output and exits with its code, start -a -i feeds it.
func TestCreateStart(t *testing.T) {
	e := newEnv(t)
	id := e.create("--name", "c1", "busybox", "sh", "-c", "echo out; echo err >&2; exit 4")
	wantEq(t, "state", e.status("c1"), "created")
	wantEq(t, "ps shows running ones only", e.out("ps", "-q"), "")
	wantEq(t, "ps -a STATUS", e.out("ps", "-a", "--format", "{{.Status}}"), "Created")
	r := e.fail(4, "start", "-a", "c1")
	wantEq(t, "start -a stdout", r.Stdout, "out\n")
	wantEq(t, "start -a stderr", r.Stderr, "err\n")
	wantEq(t, "state", e.status(id), "exited")
	wantStatus(t, e.out("ps", "-a", "--format", "{{.Status}}"), `Exited \(4\) (Less than a second|\d+ seconds?) ago`)

	e.create("-i", "--name", "cat", "busybox", "cat")
	wantEq(t, "start -a -i", e.okIn(strings.NewReader("fed\n"), "start", "-a", "-i", "cat"), "fed\n")

	// start without -a prints the name and returns; a second start of a
	// running container is a no-op.
	e.create("--name", "bg", "busybox", "sleep", "1000")
	wantEq(t, "start", e.out("start", "bg"), "bg")
	wantEq(t, "state", e.status("bg"), "running")
	wantEq(t, "start again", e.out("start", "bg"), "bg")
}

// TestStopSignals: stop sends SIGTERM (or the image's STOPSIGNAL), waits
// -t seconds, then SIGKILL; kill -s sends any signal.
func TestStopSignals(t *testing.T) {
	e := newEnv(t)
	trap := `trap "echo got $SIG; exit 7" $SIG; echo ready; while true; do sleep 0.1; done`
	e.runD("--name", "term", "-e", "SIG=TERM", "busybox", "sh", "-c", trap)
	waitLog(t, e, "term", "ready")
	wantEq(t, "stop", e.out("stop", "term"), "term")
	wantEq(t, "exit code", e.out("wait", "term"), "7")
	wantEq(t, "logs", e.out("logs", "term"), "ready\ngot TERM")

	e.importImage("usr1", "STOPSIGNAL SIGUSR1")
	e.runD("--name", "usr1", "-e", "SIG=USR1", "usr1", "sh", "-c", trap)
	waitLog(t, e, "usr1", "ready")
	e.ok("stop", "usr1")
	wantEq(t, "STOPSIGNAL honoured", e.out("logs", "usr1"), "ready\ngot USR1")
	wantStatus(t, e.out("ps", "-a", "--filter", "name=usr1", "--format", "{{.Status}}"), `Exited \(7\) (Less than a second|\d+ seconds?) ago`)

	// A process that ignores SIGTERM is killed after -t.
	e.runD("--name", "stubborn", "busybox", "sh", "-c", `trap "" TERM; echo ready; while true; do sleep 0.1; done`)
	waitLog(t, e, "stubborn", "ready")
	began := time.Now()
	e.ok("stop", "-t", "1", "stubborn")
	if d := time.Since(began); d < time.Second || d > 6*time.Second {
		t.Fatalf("stop -t 1 took %s", d)
	}
	wantEq(t, "killed", e.out("wait", "stubborn"), "137")

	// kill -s
	e.runD("--name", "k", "-e", "SIG=HUP", "busybox", "sh", "-c", trap)
	waitLog(t, e, "k", "ready")
	wantEq(t, "kill -s HUP", e.out("kill", "-s", "HUP", "k"), "k")
	wantEq(t, "exit code", e.out("wait", "k"), "7")
	wantEq(t, "logs", e.out("logs", "k"), "ready\ngot HUP")
	e.runD("--name", "k9", "busybox", "sleep", "1000")
	e.ok("kill", "k9")
	wantEq(t, "kill's default is SIGKILL", e.out("wait", "k9"), "137")
	r := e.fail(1, "kill", "k9")
	wantContains(t, "kill of a stopped one", r.Stderr, "is not running")
	e.fail(1, "kill", "nosuch")
}

// TestRestartRmWaitRename covers restart, rm's rules, wait and rename.
func TestRestartRmWaitRename(t *testing.T) {
	e := newEnv(t)
	e.runD("--name", "r", "busybox", "sh", "-c", "echo started; exec sleep 1000")
	waitLog(t, e, "r", "started")
	wantEq(t, "restart", e.out("restart", "-t", "0", "r"), "r")
	wantEq(t, "state", e.status("r"), "running")
	waitLog(t, e, "r", "started\nstarted")

	r := e.fail(1, "rm", "r")
	wantContains(t, "rm of a running container", r.Stderr, `cannot remove container "/r": container is running: stop the container before removing or force remove`)
	wantEq(t, "rm -f", e.out("rm", "-f", "r"), "r")
	e.fail(1, "rm", "r")

	e.runD("--name", "w", "busybox", "sh", "-c", "sleep 0.5; exit 5")
	wantEq(t, "wait", e.out("wait", "w"), "5")
	wantEq(t, "wait on an exited one", e.out("wait", "w"), "5")

	e.ok("rename", "w", "w2")
	wantEq(t, "renamed", e.out("ps", "-a", "--format", "{{.Names}}"), "w2")
	e.fail(1, "wait", "w")
	e.runD("--name", "other", "busybox", "sleep", "1000")
	e.fail(1, "rename", "w2", "other")
	e.fail(1, "rename", "w2", "bad name")
	// rm of several containers goes on past a missing one, exit 1.
	r = e.exec("rm", "-f", "w2", "nosuch", "other")
	if r.Code != 1 || r.Stdout != "w2\nother\n" {
		t.Fatalf("rm of three, one missing: %s", r)
	}
	wantEq(t, "all gone", e.out("ps", "-aq"), "")

	// wait on a created container blocks until it was started and stopped.
	e.ok("create", "--name", "cw", "busybox", "sh", "-c", "exit 4")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waiter := e.command(ctx, "wait", "cw")
	var waitOut bytes.Buffer
	waiter.Stdout = &waitOut
	done := make(chan error, 1)
	if err := waiter.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- waiter.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("wait on a created container returned before it ran: %v %q", err, waitOut.String())
	case <-time.After(500 * time.Millisecond):
	}
	e.ok("start", "cw")
	if err := <-done; err != nil || strings.TrimSpace(waitOut.String()) != "4" {
		t.Fatalf("wait after start: %v %q", err, waitOut.String())
	}
	e.ok("rm", "cw")
}

// TestPauseUnpause freezes and thaws a container.
func TestPauseUnpause(t *testing.T) {
	e := newEnv(t)
	e.runD("--name", "p", "busybox", "sh", "-c", "while true; do date +%s%N > /tmp/tick; sleep 0.05; done")
	e.ok("pause", "p")
	wantEq(t, "state", e.status("p"), "paused")
	status := e.out("ps", "--format", "{{.Status}}")
	if !strings.HasPrefix(status, "Up ") || !strings.HasSuffix(status, " (Paused)") {
		t.Fatalf("ps STATUS of a paused container: %q", status)
	}
	r := e.fail(1, "exec", "p", "true")
	wantContains(t, "exec in a paused container", r.Stderr, "is paused")
	first := e.out("cp", "p:/tmp/tick", "-")
	time.Sleep(300 * time.Millisecond)
	if again := e.out("cp", "p:/tmp/tick", "-"); again != first {
		t.Fatal("a paused container kept running")
	}
	e.fail(1, "pause", "p")
	e.ok("unpause", "p")
	wantEq(t, "state", e.status("p"), "running")
	e.fail(1, "unpause", "p")
	e.ok("exec", "p", "true")
	// stop of a paused container works.
	e.ok("pause", "p")
	e.ok("stop", "-t", "1", "p")
	wantEq(t, "state", e.status("p"), "exited")
}

// wantStatus matches a ps STATUS against a regular expression.
func wantStatus(t *testing.T, got, re string) {
	t.Helper()
	if !regexp.MustCompile("^" + re + "$").MatchString(got) {
		t.Fatalf("ps STATUS %q does not match %s", got, re)
	}
}

// waitLog waits until the stdout part of the container's log is exactly
// want (lines).
func waitLog(t *testing.T, e *env, ref, want string) {
	t.Helper()
	var got string
	if !testbin.WaitFor(10*time.Second, func() bool {
		got = strings.TrimRight(e.ok("logs", ref), "\n")
		return got == want
	}) {
		t.Fatalf("logs of %s: %q, want %q", ref, got, want)
	}
}

// TestSignalProxy: signals sent to an attached `run` (without -t) reach the
// container, as Docker's --sig-proxy does; --sig-proxy=false keeps them.
func TestSignalProxy(t *testing.T) {
	e := newEnv(t)
	script := `trap "echo got INT; exit 9" INT; trap "echo got TERM; exit 10" TERM; echo ready; while true; do sleep 0.1; done`
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := e.command(ctx, "run", "--rm", "busybox", "sh", "-c", script)
		var out testbin.SyncBuffer
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if !testbin.WaitFor(10*time.Second, func() bool { return strings.Contains(out.String(), "ready") }) {
			t.Fatalf("no ready: %q", out.String())
		}
		_ = cmd.Process.Signal(sig)
		err := cmd.Wait()
		cancel()
		var ee *exec.ExitError
		want := map[syscall.Signal]int{syscall.SIGINT: 9, syscall.SIGTERM: 10}[sig]
		if !errors.As(err, &ee) || ee.ExitCode() != want {
			t.Fatalf("%v: run ended with %v, want exit %d; output %q", sig, err, want, out.String())
		}
		wantContains(t, "output", out.String(), "got "+map[syscall.Signal]string{syscall.SIGINT: "INT", syscall.SIGTERM: "TERM"}[sig])
	}
	// -i -t needs a terminal, as in Docker.
	r := e.fail(1, "run", "--rm", "-it", "busybox", "true")
	wantContains(t, "run -it without a terminal", r.Stderr, "the input device is not a TTY")
	e.runD("--name", "x", "busybox", "sleep", "1000")
	r = e.fail(1, "exec", "-it", "x", "true")
	wantContains(t, "exec -it without a terminal", r.Stderr, "the input device is not a TTY")
}

// TestConcurrentStart: several `start` of one container at once start it
// once; each returns success, as Docker's does.
func TestConcurrentStart(t *testing.T) {
	e := newEnv(t)
	id := e.create("--name", "cc", "busybox", "sleep", "1000")
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := e.command(ctx, "start", "cc").CombinedOutput()
			if err != nil {
				err = errors.New(string(out))
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Errorf("a concurrent start failed: %v", err)
		}
	}
	wantEq(t, "state", e.status("cc"), "running")
	if m := e.monitors(); len(m) != 1 {
		t.Fatalf("%d monitors for one container", len(m))
	}
	wantEq(t, "the container works", e.out("exec", id, "cat", "/etc/hostname"), id[:12])
}
