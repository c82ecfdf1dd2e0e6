package run

import (
	"strings"
	"testing"
)

// TestCmdEntrypoint checks how CMD, ENTRYPOINT, arguments and --entrypoint
// combine, case by case as Docker does.
func TestCmdEntrypoint(t *testing.T) {
	e := newEnv(t)
	e.importImage("shellcmd", "CMD echo $HOME")
	e.importImage("execcmd", `CMD ["echo", "$HOME"]`)
	e.importImage("ep", `ENTRYPOINT ["echo", "ep"]`, `CMD ["default"]`)
	e.importBare("eponly", `ENTRYPOINT ["echo", "only"]`)
	e.importImage("epaftercmd", `ENTRYPOINT ["echo", "kept"]`) // CMD set by the same changes stays
	e.importImage("shellep", "ENTRYPOINT echo shell-ep $0", `CMD ["ignored"]`)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"shell form CMD runs in /bin/sh -c", []string{"shellcmd"}, "/root"},
		{"exec form CMD does no expansion", []string{"execcmd"}, "$HOME"},
		{"args replace CMD", []string{"shellcmd", "echo", "replaced"}, "replaced"},
		{"ENTRYPOINT + CMD", []string{"ep"}, "ep default"},
		{"args replace CMD after ENTRYPOINT", []string{"ep", "x", "y"}, "ep x y"},
		{"ENTRYPOINT without CMD", []string{"eponly"}, "only"},
		{"ENTRYPOINT after CMD in one import", []string{"epaftercmd"}, "kept /bin/sh"},
		{"--entrypoint replaces ENTRYPOINT and drops CMD", []string{"--entrypoint", "echo", "ep"}, ""},
		{"--entrypoint with args", []string{"--entrypoint", "echo", "ep", "a", "b"}, "a b"},
		{`--entrypoint "" runs the args alone`, []string{"--entrypoint", "", "ep", "echo", "plain"}, "plain"},
		{`--entrypoint "" on a CMD-only image keeps args`, []string{"--entrypoint", "", "execcmd", "echo", "z"}, "z"},
		{"shell form ENTRYPOINT: CMD and args are only $0", []string{"shellep", "arg"}, "shell-ep arg"},
		{"shell form ENTRYPOINT with the image's CMD", []string{"shellep"}, "shell-ep ignored"},
		{"-w and -e reach the shell form", []string{"-w", "/tmp", "-e", "HOME=/elsewhere", "shellcmd"}, "/elsewhere"},
	}
	for _, c := range cases {
		got := strings.TrimRight(e.ok(append([]string{"run", "--rm"}, c.args...)...), "\n")
		if got != c.want {
			t.Errorf("%s: run --rm %s printed %q, want %q", c.name, strings.Join(c.args, " "), got, c.want)
		}
	}
	// Docker: an explicit entrypoint drops the image's CMD, so nothing is
	// left to run.
	r := e.fail(125, "run", "--rm", "--entrypoint", "", "ep")
	wantContains(t, "no command", strings.ToLower(r.Stderr), "no command specified")

	// ps shows the resolved command; commit records the Cmd alone.
	e.runD("--name", "epc", "ep", "sleep-arg")
	wantEq(t, "ps COMMAND", e.out("ps", "-a", "--format", "{{.Command}}", "--filter", "name=epc"), `"echo ep sleep-arg"`)
	e.ok("commit", "epc", "epc:img")
	wantEq(t, "commit CreatedBy", strings.SplitN(e.out("history", "--no-trunc", "--format", "{{.CreatedBy}}", "epc:img"), "\n", 2)[0], "sleep-arg")
	wantEq(t, "committed image keeps ENTRYPOINT and CMD", e.out("image", "inspect", "--format", "{{json .Config.Entrypoint}} {{json .Config.Cmd}}", "epc:img"), `["echo","ep"] ["sleep-arg"]`)
}

// TestExitCodes: run exits with the container's code, 125 when strata
// fails, 126 when the command cannot be run, 127 when it is not found.
func TestExitCodes(t *testing.T) {
	e := newEnv(t)
	e.fail(3, "run", "--rm", "busybox", "sh", "-c", "exit 3")
	e.fail(0, "run", "--rm", "busybox", "true")
	e.fail(1, "run", "--rm", "busybox", "false")
	r := e.fail(127, "run", "--rm", "busybox", "nosuchcmd")
	wantContains(t, "not found message", r.Stderr, "nosuchcmd")
	e.fail(127, "run", "--rm", "busybox", "/no/such/path")
	e.fail(126, "run", "--rm", "busybox", "/etc/passwd")
	e.fail(126, "run", "--rm", "busybox", "/tmp")
	e.fail(125, "run", "--rm", "--no-such-flag", "busybox", "true")
	e.fail(125, "run", "--rm", "no-such-image", "true")
	e.fail(137, "run", "--rm", "busybox", "sh", "-c", "sleep 100 & kill -9 $!; wait $!")
	// A failed start leaves a created container (no --rm), like Docker's.
	e.fail(127, "run", "--name", "failed", "busybox", "nosuchcmd")
	wantEq(t, "state after a failed start", e.status("failed"), "created")
	e.fail(1, "start", "failed") // docker start reports and exits 1
	wantEq(t, "containers left (--rm removed the others)", e.out("ps", "-a", "--format", "{{.Names}} {{.State}}"), "failed created")
}
