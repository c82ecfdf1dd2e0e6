package build

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-dev/strata/internal/dockerfile"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
)

func parse(t *testing.T, src string) *dockerfile.File {
	t.Helper()
	f, err := dockerfile.Parse("Dockerfile", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPlanSelectsOnlyNeededStages(t *testing.T) {
	t.Parallel()
	f := parse(t, `ARG BASE=busybox
FROM $BASE AS deps
RUN echo deps
FROM busybox AS unused
RUN false
FROM deps AS build
COPY --from=0 /a /a
RUN --mount=type=bind,from=tools,target=/t true
FROM busybox AS tools
FROM scratch AS final
COPY --from=build /out /out
`)
	p, err := newPlan(f, Options{BuildArgs: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if p.target != 4 || !reflect.DeepEqual(p.order, []int{0, 2, 4}) {
		t.Fatalf("target %d order %v", p.target, p.order)
	}
	if got := p.deps[2]; !reflect.DeepEqual(got, []int{0, 0}) {
		t.Fatalf("deps of build = %v", got) // FROM deps and COPY --from=0; tools comes later, so it is an image
	}
	p, err = newPlan(f, Options{Target: "unused", BuildArgs: map[string]string{}})
	if err != nil || !reflect.DeepEqual(p.order, []int{1}) {
		t.Fatalf("--target unused: %v %v", p.order, err)
	}
	if _, err := newPlan(f, Options{Target: "nope"}); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown target: %v", err)
	}
}

func TestPlanArgs(t *testing.T) {
	t.Parallel()
	f := parse(t, "ARG A=1\nARG B=${A}2\nFROM busybox\nARG B\nRUN true\n")
	p, err := newPlan(f, Options{BuildArgs: map[string]string{"A": "x", "UNUSED": "y", "HTTP_PROXY": "p"}})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := p.meta.Get("B"); v != "x2" {
		t.Fatalf("B = %q, want x2", v)
	}
	if v, _ := p.meta.Get("TARGETOS"); v != "linux" {
		t.Fatalf("TARGETOS = %q", v)
	}
	if got := p.unusedArgs(); !reflect.DeepEqual(got, []string{"UNUSED"}) {
		t.Fatalf("unused = %v", got)
	}
	if _, err := newPlan(parse(t, "FROM a AS x\nFROM b AS x\n"), Options{}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("duplicate stage name: %v", err)
	}
}

func TestInputsKey(t *testing.T) {
	t.Parallel()
	a := inputs{Parent: "p", Step: "RUN x", Args: map[string]string{"A": "1", "B": "2"}, Files: map[string]string{"f": "1"}}
	b := inputs{Parent: "p", Step: "RUN x", Args: map[string]string{"B": "2", "A": "1"}, Files: map[string]string{"g": "2"}}
	if a.key() != b.key() {
		t.Fatal("the key depends on map order or on the file list")
	}
	for _, c := range []inputs{
		{Parent: "q", Step: "RUN x", Args: a.Args},
		{Parent: "p", Step: "RUN y", Args: a.Args},
		{Parent: "p", Step: "RUN x", Args: map[string]string{"A": "1"}},
		{Parent: "p", Step: "RUN x", Args: a.Args, Sources: "sha256:1"},
		{Parent: "p", Step: "RUN x", Args: a.Args, From: "img"},
	} {
		if c.key() == a.key() {
			t.Errorf("%+v has the same key as %+v", c, a)
		}
	}
}

func TestDifferences(t *testing.T) {
	t.Parallel()
	old := inputs{Step: "COPY . /app", Args: map[string]string{"V": "1", "GONE": "x"}, Sources: "sha256:a",
		Files: map[string]string{"a.go": "1", "b.go": "1", "old.go": "1"}}
	cur := inputs{Step: "COPY . /app", Args: map[string]string{"V": "2", "NEW": "y"}, Sources: "sha256:b",
		Files: map[string]string{"a.go": "1", "b.go": "2", "new.go": "1"}}
	got := strings.Join(differences(old, cur), "; ")
	for _, want := range []string{`build arg V changed: "1" -> "2"`, `build arg GONE removed`, `build arg NEW added`,
		"file b.go changed", "file old.go removed", "file new.go added"} {
		if !strings.Contains(got, want) {
			t.Errorf("differences = %s; missing %q", got, want)
		}
	}
	if strings.Contains(got, "a.go") {
		t.Errorf("an unchanged file is listed: %s", got)
	}
	many := map[string]string{}
	for i := 0; i < 9; i++ {
		many[string(rune('a'+i))] = "1"
	}
	if got := fileChanges(nil, many); len(got) != maxFileChanges+1 || got[maxFileChanges] != "and 4 more files" {
		t.Fatalf("fileChanges bound: %v", got)
	}
	got = strings.Join(differences(inputs{Step: "RUN a"}, inputs{Step: "RUN b"}), "")
	if !strings.Contains(got, `instruction changed: was "RUN a", now "RUN b"`) {
		t.Fatalf("instruction change: %s", got)
	}
}

func TestNormalizePort(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"80": "80/tcp", "53/UDP": "53/udp", "7000-7002/udp": "7000/udp 7001/udp 7002/udp"} {
		if got, err := normalizePort(in); err != nil || got != want {
			t.Errorf("normalizePort(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"0", "65536", "x", "80/icmp", "9-3", "08"} {
		if _, err := normalizePort(bad); !errdefs.IsInvalidArgument(err) {
			t.Errorf("normalizePort(%q) = %v", bad, err)
		}
	}
}

func TestRunCommandLines(t *testing.T) {
	t.Parallel()
	f := parse(t, "FROM x\nRUN <<EOF\necho a\necho b\nEOF\nRUN cat <<EOF > /f\nhi\nEOF\nRUN [\"/bin/echo\", \"x\"]\nSHELL [\"/bin/bash\", \"-c\"]\n")
	st := scratchState("linux", "amd64", "")
	cmds := f.Stages[0].Commands
	args, err := runArgs(st, cmds[0].(*instructions.RunCommand))
	if err != nil || !reflect.DeepEqual(args, []string{"/bin/sh", "-c", "echo a\necho b\n"}) {
		t.Fatalf("RUN <<EOF = %q, %v", args, err)
	}
	args, err = runArgs(st, cmds[1].(*instructions.RunCommand))
	if err != nil || args[2] != "cat <<EOF > /f\nhi\nEOF" {
		t.Fatalf("RUN cat <<EOF = %q, %v", args, err)
	}
	args, _ = runArgs(st, cmds[2].(*instructions.RunCommand))
	if !reflect.DeepEqual(args, []string{"/bin/echo", "x"}) {
		t.Fatalf("exec form = %q", args)
	}
	st.Config.Config.Shell = []string{"/bin/bash", "-c"}
	if got := runHistory([]string{"/bin/bash", "-c", "make"}, map[string]string{"B": "2", "A": "1"}); got != "|2 A=1 B=2 /bin/bash -c make" {
		t.Fatalf("runHistory = %q", got)
	}
	if got := st.nop(`CMD ["x"]`); got != `/bin/bash -c #(nop)  CMD ["x"]` {
		t.Fatalf("nop = %q", got)
	}
}

func TestConfigChanges(t *testing.T) {
	t.Parallel()
	f := parse(t, "FROM x\nENV A=1 B=2\nENV A 3\nCMD echo hi\nENTRYPOINT [\"/e\"]\nLABEL k=v \"x y\"=z\nEXPOSE 80 53/udp\nVOLUME /data\n")
	st := scratchState("linux", "amd64", "")
	s := &stageRun{st: st}
	x := dockerfile.NewExpander('\\')
	for _, cmd := range f.Stages[0].Commands {
		if err := x.Command(cmd, nil); err != nil {
			t.Fatal(err)
		}
		_, apply, err := s.configChange(cmd)
		if err != nil {
			t.Fatal(err)
		}
		if err := apply(&st.Config); err != nil {
			t.Fatal(err)
		}
	}
	cc := st.Config.Config
	if !reflect.DeepEqual(cc.Env, []string{"PATH=" + defaultPath, "A=3", "B=2"}) {
		t.Errorf("Env = %q", cc.Env)
	}
	if !reflect.DeepEqual([]string(cc.Cmd), []string{"/bin/sh", "-c", "echo hi"}) || !reflect.DeepEqual([]string(cc.Entrypoint), []string{"/e"}) {
		t.Errorf("Cmd %q Entrypoint %q: a CMD set in this stage must survive ENTRYPOINT", cc.Cmd, cc.Entrypoint)
	}
	if cc.Labels["x y"] != "z" || cc.Labels["k"] != "v" {
		t.Errorf("Labels = %v", cc.Labels)
	}
	if _, ok := cc.ExposedPorts["53/udp"]; !ok || len(cc.ExposedPorts) != 2 {
		t.Errorf("ExposedPorts = %v", cc.ExposedPorts)
	}
	if _, ok := cc.Volumes["/data"]; !ok {
		t.Errorf("Volumes = %v", cc.Volumes)
	}
	base := &image.Config{Config: image.ContainerConfig{Cmd: []string{"base"}}}
	_, apply, _ := entrypointChange(st, &instructions.EntrypointCommand{ShellDependantCmdLine: instructions.ShellDependantCmdLine{CmdLine: []string{"/x"}}}, false)
	_ = apply(base)
	if base.Config.Cmd != nil {
		t.Errorf("ENTRYPOINT kept the base image's CMD %q", base.Config.Cmd)
	}
}

func TestWorkdirPath(t *testing.T) {
	t.Parallel()
	for _, c := range [][3]string{{"", "app", "/app"}, {"/a", "b", "/a/b"}, {"/a", "/c/../d", "/d"}, {"/a/b", "..", "/a"}} {
		if got := workdirPath(c[0], c[1]); got != c[2] {
			t.Errorf("workdirPath(%q, %q) = %q", c[0], c[1], got)
		}
	}
}

func TestCheckPlatform(t *testing.T) {
	t.Parallel()
	if err := checkPlatform(hostPlatform()); err != nil {
		t.Fatal(err)
	}
	if err := checkPlatform("linux/s390x"); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Fatalf("foreign platform: %v", err)
	}
}

func TestStubs(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	outside := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("keep"), 0o644))
	must(t, os.Symlink(outside, filepath.Join(root, "evil")))
	s, err := findStubs(root, []string{"/proc", "/dev/pts", "/dev/shm", "/etc/hosts", "/etc/hostname", "/evil/x", "/run/secrets/tok"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"run", "proc", "dev", "etc/hostname"}
	if len(s.paths) != len(want) {
		t.Fatalf("stubs = %v", s.paths)
	}
	// What the runtime would create, plus something the step wrote.
	for _, d := range []string{"proc", "dev/pts", "dev/shm", "run/secrets"} {
		must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	must(t, os.WriteFile(filepath.Join(root, "etc/hostname"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(root, "run/secrets/tok"), nil, 0o400))
	must(t, os.MkdirAll(filepath.Join(root, "dev/mine"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "dev/mine/data"), []byte("x"), 0o644))
	must(t, os.WriteFile(filepath.Join(outside, "x"), nil, 0o644))
	s.remove()
	for p, exists := range map[string]bool{"proc": false, "run": false, "etc/hostname": false, "etc/hosts": true, "dev/mine/data": true} {
		if _, err := os.Lstat(filepath.Join(root, p)); (err == nil) != exists {
			t.Errorf("%s exists=%v, want %v", p, err == nil, exists)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err != nil {
		t.Errorf("a file behind a symlink was removed: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
