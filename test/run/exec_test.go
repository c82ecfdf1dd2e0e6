package run

import (
	"bufio"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// TestExec covers exec -i, -t, -d, -e, -w, -u and its exit codes.
func TestExec(t *testing.T) {
	e := newEnv(t)
	e.runD("--name", "x", "-e", "FROM_RUN=1", "-w", "/tmp", "busybox", "sleep", "1000")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"inherits env and workdir", []string{"x", "sh", "-c", "echo $FROM_RUN; pwd"}, "1\n/tmp"},
		{"-e", []string{"-e", "A=b", "x", "sh", "-c", "echo $A $FROM_RUN"}, "b 1"},
		{"-w", []string{"-w", "/etc", "x", "pwd"}, "/etc"},
		{"-u name", []string{"-u", "app", "x", "id"}, "uid=1000(app) gid=1000(app) groups=1000(app)"},
		{"-u uid:gid", []string{"-u", "1000:1000", "x", "id", "-u"}, "1000"},
		{"-t", []string{"-t", "x", "tty"}, "/dev/pts/0\r"},
		{"no -t", []string{"x", "sh", "-c", "tty || true"}, "not a tty"},
	}
	for _, c := range cases {
		got := strings.TrimRight(e.ok(append([]string{"exec"}, c.args...)...), "\n")
		if got != c.want {
			t.Errorf("exec %s: got %q, want %q", c.name, got, c.want)
		}
	}
	wantEq(t, "exec -i", e.okIn(strings.NewReader("in\n"), "exec", "-i", "x", "cat"), "in\n")
	wantEq(t, "exec without -i reads nothing", e.okIn(strings.NewReader("in\n"), "exec", "x", "cat"), "")
	e.fail(3, "exec", "x", "sh", "-c", "exit 3")
	e.fail(127, "exec", "x", "nosuchcmd")
	e.fail(126, "exec", "x", "/etc/passwd")

	// -d returns at once; the process runs on in the container.
	began := time.Now()
	r := e.exec("exec", "-d", "x", "sh", "-c", "sleep 1; echo done > /tmp/detached")
	if r.Code != 0 || r.Stdout != "" {
		t.Fatalf("exec -d: %s", r)
	}
	if d := time.Since(began); d > 900*time.Millisecond {
		t.Fatalf("exec -d took %s", d)
	}
	if !testbin.WaitFor(5*time.Second, func() bool { return e.exec("exec", "x", "cat", "/tmp/detached").Stdout == "done\n" }) {
		t.Fatal("the detached exec did not run")
	}
	// exec in a stopped container fails like Docker.
	e.ok("stop", "-t", "0", "x")
	r = e.fail(1, "exec", "x", "true")
	wantContains(t, "exec in a stopped container", r.Stderr, "is not running")
}

// TestLogs covers logs -f, --tail, -t and --since.
func TestLogs(t *testing.T) {
	e := newEnv(t)
	e.runD("--name", "l", "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; sleep 0.3; echo oops >&2; sleep 1; echo late; sleep 1000")
	waitLog(t, e, "l", "line1\nline2\nline3\nline4\nline5\nlate") // stdout only
	r := e.exec("logs", "l")
	wantEq(t, "stdout", r.Stdout, "line1\nline2\nline3\nline4\nline5\nlate\n")
	wantEq(t, "stderr", r.Stderr, "oops\n")
	wantEq(t, "--tail 2", e.out("logs", "--tail", "2", "l"), "late")
	wantEq(t, "--tail 0", e.out("logs", "--tail", "0", "l"), "")
	ts := testbin.Lines(e.ok("logs", "-t", "--tail", "1", "l"))
	if len(ts) != 1 || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z late$`).MatchString(ts[0]) {
		t.Fatalf("logs -t: %q", ts)
	}
	stamp, _ := time.Parse(time.RFC3339Nano, strings.Fields(ts[0])[0])
	wantEq(t, "--since just before the last line", e.out("logs", "--since", stamp.Add(-time.Millisecond).Format(time.RFC3339Nano), "l"), "late")
	wantEq(t, "--since in the future", e.out("logs", "--since", time.Now().Add(time.Hour).Format(time.RFC3339), "l"), "")
	wantEq(t, "--since relative", e.out("logs", "--since", "1h", "l"), "line1\nline2\nline3\nline4\nline5\nlate")

	// -f follows new output and ends when the container stops.
	e.runD("--name", "f", "busybox", "sh", "-c", "echo first; read x < /dev/zero; sleep 1000")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := e.command(ctx, "logs", "-f", "f")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "first" {
		t.Fatalf("logs -f first line: %q", sc.Text())
	}
	e.ok("exec", "f", "sh", "-c", "echo appended > /proc/1/fd/1")
	if !sc.Scan() || sc.Text() != "appended" {
		t.Fatalf("logs -f did not follow: %q", sc.Text())
	}
	e.ok("stop", "-t", "0", "f")
	for sc.Scan() {
	}
	if err := cmd.Wait(); err != nil || ctx.Err() != nil {
		t.Fatalf("logs -f after stop: %v %v", err, ctx.Err())
	}
}
