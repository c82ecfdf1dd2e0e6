package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// TestBadDockerfiles checks that a Dockerfile that cannot build fails with
// exit 1 and "Error: Dockerfile:LINE: ..." naming what is wrong, and that
// no image or tag is left.
func TestBadDockerfiles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, dockerfile string
		want             []string // in the "Error: " line
	}{
		{"unknown-instruction", "FROM busybox\nFOO bar\n", []string{"Dockerfile:2", "unknown instruction", "FOO"}},
		{"bad-json", "FROM busybox\nCMD [\"a\",\n", []string{"Dockerfile:2", "CMD"}},
		{"shell-needs-json", "FROM busybox\nSHELL /bin/bash -c\n", []string{"Dockerfile:2", "SHELL"}},
		{"no-from", "RUN echo hi\n", []string{"Dockerfile:1", "FROM"}},
		{"empty", "# only a comment\n", []string{"Dockerfile"}},
		{"unterminated-heredoc", "FROM busybox\nRUN <<EOF\necho hi\n", []string{"Dockerfile:2", "heredoc"}},
		{"missing-base-image", "FROM nosuchimage\n", []string{"Dockerfile:1", "nosuchimage"}},
		{"copy-missing-file", "FROM busybox\nCOPY nosuchfile.txt /\n", []string{"Dockerfile:2", "nosuchfile.txt"}},
		{"copy-from-missing-stage", "FROM busybox\nCOPY --from=nosuch /a /\n", []string{"Dockerfile:2", "nosuch"}},
		{"bad-expose", "FROM busybox\nEXPOSE 80/bogus\n", []string{"Dockerfile:2", "80/bogus"}},
		{"bad-mount-type", "FROM busybox\nRUN --mount=type=bogus,target=/x true\n", []string{"Dockerfile:2", "bogus"}},
		{"chown-unknown-user", "FROM busybox\nCOPY --chown=nouser Dockerfile /\n", []string{"Dockerfile:2", "nouser"}},
		{"secret-required-missing", "FROM busybox\nRUN --mount=type=secret,id=absent,required=true true\n", []string{"Dockerfile:2", "absent"}},
		{"duplicate-stage-name", "FROM busybox AS twice\nFROM busybox AS twice\n", []string{"Dockerfile:2", "twice"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			before := e.images()
			r := e.buildFail(c.dockerfile, "-t", "bad")
			errLine := errorLine(t, r.Stderr)
			testbin.WantContains(t, "error", errLine, c.want...)
			testbin.WantEq(t, "images after a failed build", strings.Join(e.images(), "\n"), strings.Join(before, "\n"))
		})
	}
}

// errorLine returns the text of the "Error: " line of a failed command.
func errorLine(t *testing.T, stderr string) string {
	t.Helper()
	for _, l := range testbin.Lines(stderr) {
		if strings.HasPrefix(l, "Error: ") {
			return l
		}
	}
	t.Fatalf("no \"Error: \" line in\n%s", stderr)
	return ""
}

// TestFailingRun checks a RUN that exits 3: exit 1, the line, the command,
// its exit code and output in the error, no image or tag made, and a
// rebuild after the fix reusing the steps before it.
func TestFailingRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write("f.txt", "f\n")
	before := e.images()
	df := "FROM busybox\nCOPY f.txt /\nRUN echo step two > /two\nRUN echo some output; echo on stderr >&2; exit 3\nRUN echo after > /after\n"
	r := e.buildFail(df, "-t", "app")
	errText := r.Stderr[strings.Index(r.Stderr, "Error: "):]
	testbin.WantContains(t, "error", errText, "Dockerfile:4", "echo some output; echo on stderr >&2; exit 3", "exit code: 3", "some output", "on stderr")
	testbin.WantEq(t, "images after the failed build", strings.Join(e.images(), "\n"), strings.Join(before, "\n"))
	failed := step(t, r.Stderr, "RUN echo some output")
	if failed.err == "" || !strings.Contains(strings.Join(failed.logs, "\n"), "some output") {
		t.Errorf("the failed step has no ERROR or no output: %+v", failed)
	}
	testbin.WantNotContains(t, "progress", r.Stderr, "RUN echo after")

	_, out := e.buildOK(strings.Replace(df, "exit 3", "exit 0", 1), "-t", "app")
	testbin.WantEq(t, "rebuild after the fix", cacheReport(t, out),
		"C COPY f.txt /\nC RUN echo step two > /two\n- RUN echo some output; echo on stderr >&2; exit 0\n- RUN echo after > /after\n")
	testbin.WantEq(t, "fixed image", e.sh("app", "cat /f.txt /two /after"), "f\nstep two\nafter\n")
}

// TestOutsideContext checks that COPY cannot read outside the context,
// neither by "../" nor through a symlink, and that nothing is copied.
func TestOutsideContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hostPasswd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	testbin.WriteFile(t, filepath.Join(e.base, "outside"), "outside the context\n")
	for name, target := range map[string]string{"abs-link": "/etc/passwd", "rel-link": "../outside", "dir-link": "/etc"} {
		if err := os.Symlink(target, filepath.Join(e.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	before := e.images()
	for _, src := range []string{"../outside", "abs-link", "rel-link", "dir-link/passwd", "../ctx/../outside"} {
		r := e.buildFail("FROM busybox\nCOPY "+src+" /stolen\n", "-t", "bad")
		testbin.WantContains(t, "COPY "+src, errorLine(t, r.Stderr), "Dockerfile:2", src)
		testbin.WantNotContains(t, "COPY "+src, r.Stderr, string(hostPasswd), "outside the context\n")
	}
	testbin.WantEq(t, "images after refused COPYs", strings.Join(e.images(), "\n"), strings.Join(before, "\n"))

	// COPY of the whole context copies the links as links.
	e.buildOK("FROM busybox\nCOPY . /app/\n", "-t", "img")
	testbin.WantEq(t, "links", e.sh("img", "for l in abs-link rel-link dir-link; do readlink /app/$l; done; test -e /app/outside || echo no outside"),
		"/etc/passwd\n../outside\n/etc\nno outside\n")
	if got := e.sh("img", "cat /app/abs-link"); got != "root:x:0:0:root:/root:/bin/sh\n" {
		t.Errorf("/app/abs-link reads %q, want the image's /etc/passwd", got)
	}
}

// TestPlatform checks that only the host's platform is accepted.
func TestPlatform(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.buildFail("FROM busybox\nRUN true\n", "--platform", "linux/s390x")
	testbin.WantContains(t, "--platform linux/s390x", errorLine(t, r.Stderr), "linux/s390x")
	host := "linux/" + hostArch()
	if host != "linux/" {
		e.buildOK("", "--platform", host)
	}
}

// hostArch is GOARCH of the host as the OCI platform names it.
func hostArch() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return ""
	}
	var b strings.Builder
	for _, c := range u.Machine {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	switch b.String() {
	case "x86_64":
		return "amd64"
	case "aarch64":
		return "arm64"
	}
	return ""
}

// TestKilledBuild kills a build with SIGKILL during a RUN: no mount may be
// left, and the next build works and leaves a clean store. It runs alone.
func TestKilledBuild(t *testing.T) {
	e := newEnv(t)
	t.Cleanup(func() {
		for _, pid := range sleepers("sleep 37") {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	e.write("Dockerfile", "FROM busybox\nRUN echo started && sleep 37\n")
	var stderr testbin.SyncBuffer
	cmd := e.command(t.Context(), nil, "build", "--progress", "plain", "-t", "killed", ".")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := func() bool {
		for _, v := range parsePlain(t, stderr.String()) {
			if len(v.logs) > 0 && v.logs[0] == "started" {
				return true
			}
		}
		return false
	}
	if !testbin.WaitFor(30*time.Second, started) {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the RUN did not start:\n%s", stderr.String())
	}
	cmd.Process.Kill()
	cmd.Wait()
	// Nothing runs when a process is killed: its mounts and its RUN
	// container stay until the next build, which removes them first.
	e.write("Dockerfile", "FROM busybox\nRUN echo next > /next\n")
	e.buildOK("", "-t", "next")
	if m := testbin.MountsUnder(e.base); len(m) > 0 {
		t.Errorf("the killed build's mounts outlived the next build: %s", strings.Join(m, ", "))
	}
	testbin.WantEq(t, "next image", e.sh("next", "cat /next"), "next\n")
	testbin.WantContains(t, "system check", e.out("system", "check"), "0 problems")
	if p := sleepers("sleep 37"); len(p) > 0 {
		t.Errorf("the RUN process of the killed build still runs after the next build: pids %v", p)
	}
	testbin.WantNotContains(t, "images", strings.Join(e.images(), "\n"), "killed:")
}

// sleepers lists the live processes whose command line is exactly args.
func sleepers(args string) []int {
	var pids []int
	for _, p := range testbin.LiveProcesses() {
		if strings.TrimSpace(p.Args) == args {
			pids = append(pids, p.PID)
		}
	}
	return pids
}

// TestUsageErrors checks that bad options are usage errors (exit 125)
// naming what is wrong, and build nothing; a wrong number of arguments
// exits 1, as with docker.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write("Dockerfile", "FROM busybox\nRUN echo should not run\n")
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"-t", "BAD TAG", "."}, "BAD TAG", 125},
		{[]string{"--network", "bogus", "."}, "bogus", 125},
		{[]string{"--progress", "bogus", "."}, "bogus", 125},
		{[]string{"--secret", "src=/nonexistent", "."}, "id", 125},
		{[]string{"--secret", "id=x,bogus=1", "."}, "bogus", 125},
		{[]string{}, "requires exactly 1 argument", 1},
		{[]string{".", "."}, "requires exactly 1 argument", 1},
		{[]string{"--no-such-flag", "."}, "no-such-flag", 125},
	} {
		r := e.run(nil, nil, append([]string{"build"}, c.args...)...)
		if r.Code != c.code {
			t.Errorf("build %q: want exit %d, got %s", c.args, c.code, r)
			continue
		}
		testbin.WantContains(t, fmt.Sprintf("build %q", c.args), r.Stderr, c.want)
		testbin.WantNotContains(t, fmt.Sprintf("build %q", c.args), r.Stderr, "should not run")
	}
	r := e.run(strings.NewReader("FROM busybox\n"), nil, "build", "-f", "-", "-")
	if r.Code != 125 {
		t.Errorf("build -f - -: want exit 125, got %s", r)
	}
	if got := e.images(); len(got) != 1 {
		t.Errorf("usage errors made images: %v", got)
	}
}
