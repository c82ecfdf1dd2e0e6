package spec

import (
	"slices"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
)

func strs(s ...string) []string { return s }

func ptr(s ...string) *[]string { return &s }

func TestResolveCommand(t *testing.T) {
	var (
		shellEP  = strs("/bin/sh", "-c", "exec_entry p1_entry")
		execEP   = strs("exec_entry", "p1_entry")
		shellCmd = strs("/bin/sh", "-c", "exec_cmd p1_cmd")
		execCmd  = strs("exec_cmd", "p1_cmd")
	)
	tests := []struct {
		name       string
		cfg        image.ContainerConfig
		entrypoint *[]string
		args       []string
		want       []string // nil: "no command specified"
	}{
		// Docker's "how CMD and ENTRYPOINT interact" table.
		{name: "nothing", cfg: image.ContainerConfig{}},
		{name: "shell entrypoint only", cfg: image.ContainerConfig{Entrypoint: shellEP}, want: shellEP},
		{name: "exec entrypoint only", cfg: image.ContainerConfig{Entrypoint: execEP}, want: execEP},
		{name: "exec cmd only", cfg: image.ContainerConfig{Cmd: execCmd}, want: execCmd},
		{name: "exec cmd, shell entrypoint", cfg: image.ContainerConfig{Cmd: execCmd, Entrypoint: shellEP},
			want: strs("/bin/sh", "-c", "exec_entry p1_entry", "exec_cmd", "p1_cmd")},
		{name: "exec cmd, exec entrypoint", cfg: image.ContainerConfig{Cmd: execCmd, Entrypoint: execEP},
			want: strs("exec_entry", "p1_entry", "exec_cmd", "p1_cmd")},
		{name: "shell cmd only", cfg: image.ContainerConfig{Cmd: shellCmd}, want: shellCmd},
		{name: "shell cmd, shell entrypoint", cfg: image.ContainerConfig{Cmd: shellCmd, Entrypoint: shellEP},
			want: strs("/bin/sh", "-c", "exec_entry p1_entry", "/bin/sh", "-c", "exec_cmd p1_cmd")},
		{name: "shell cmd, exec entrypoint", cfg: image.ContainerConfig{Cmd: shellCmd, Entrypoint: execEP},
			want: strs("exec_entry", "p1_entry", "/bin/sh", "-c", "exec_cmd p1_cmd")},
		{name: "cmd as default params", cfg: image.ContainerConfig{Cmd: strs("p1_cmd", "p2_cmd"), Entrypoint: execEP},
			want: strs("exec_entry", "p1_entry", "p1_cmd", "p2_cmd")},

		// docker run IMAGE ARGS...
		{name: "args replace cmd", cfg: image.ContainerConfig{Cmd: execCmd}, args: strs("echo", "hi"), want: strs("echo", "hi")},
		{name: "args follow entrypoint", cfg: image.ContainerConfig{Cmd: execCmd, Entrypoint: execEP}, args: strs("-v"),
			want: strs("exec_entry", "p1_entry", "-v")},
		{name: "args alone", cfg: image.ContainerConfig{}, args: strs("true"), want: strs("true")},
		{name: "empty args keep cmd", cfg: image.ContainerConfig{Cmd: execCmd}, args: strs(), want: execCmd},

		// docker run --entrypoint X
		{name: "entrypoint replaces and drops cmd", cfg: image.ContainerConfig{Cmd: execCmd, Entrypoint: execEP},
			entrypoint: ptr("/bin/ls"), want: strs("/bin/ls")},
		{name: "entrypoint on cmd-only image drops cmd", cfg: image.ContainerConfig{Cmd: execCmd},
			entrypoint: ptr("/bin/ls"), want: strs("/bin/ls")},
		{name: "entrypoint with args", cfg: image.ContainerConfig{Cmd: execCmd, Entrypoint: execEP},
			entrypoint: ptr("/bin/ls"), args: strs("-l", "/"), want: strs("/bin/ls", "-l", "/")},
		{name: `entrypoint "" clears entrypoint and cmd`, cfg: image.ContainerConfig{Cmd: execCmd, Entrypoint: execEP},
			entrypoint: ptr("")},
		{name: `entrypoint "" with args`, cfg: image.ContainerConfig{Cmd: execCmd, Entrypoint: execEP},
			entrypoint: ptr(""), args: strs("echo", "x"), want: strs("echo", "x")},
		{name: "API empty entrypoint keeps image cmd", cfg: image.ContainerConfig{Cmd: execCmd, Entrypoint: execEP},
			entrypoint: ptr(), want: execCmd},
		{name: "API empty entrypoint with args", cfg: image.ContainerConfig{Cmd: execCmd, Entrypoint: execEP},
			entrypoint: ptr(), args: strs("a"), want: strs("a")},
		{name: `image entrypoint [""] is cleared`, cfg: image.ContainerConfig{Cmd: execCmd, Entrypoint: strs("")}, want: execCmd},
		{name: `image entrypoint [""] only`, cfg: image.ContainerConfig{Entrypoint: strs("")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveCommand(tt.cfg, tt.entrypoint, tt.args)
			if tt.want == nil {
				if !errdefs.IsInvalidArgument(err) || err.Error() != "no command specified" {
					t.Fatalf("got %q, %v; want no command specified", got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestResolveCommandDoesNotAlias(t *testing.T) {
	cfg := image.ContainerConfig{Entrypoint: strs("a", "b"), Cmd: strs("c")}
	got, err := ResolveCommand(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got[0] = "changed"
	if cfg.Entrypoint[0] != "a" {
		t.Fatal("result shares the config's backing array")
	}
}

func TestMergeEnv(t *testing.T) {
	tests := []struct {
		image, user, want []string
	}{
		{image: strs("A=1", "B=2"), user: nil, want: strs("A=1", "B=2")},
		{image: strs("A=1", "B=2"), user: strs("B=3", "C=4"), want: strs("B=3", "C=4", "A=1")},
		{image: strs("PATH=/x"), user: strs("PATH=/y"), want: strs("PATH=/y")},
		{image: nil, user: strs("X"), want: strs("X")},
	}
	for _, tt := range tests {
		if got := MergeEnv(tt.image, tt.user); !slices.Equal(got, tt.want) {
			t.Errorf("MergeEnv(%q, %q) = %q, want %q", tt.image, tt.user, got, tt.want)
		}
	}
}

func TestReplaceOrAppendEnv(t *testing.T) {
	tests := []struct {
		defaults, overrides, want []string
	}{
		{strs("HOME=/", "FOO=foo_default"), strs("HOME=/root", "TERM=xterm", "FOO", "BAR"), strs("HOME=/root", "TERM=xterm")},
		{strs("PATH=/bin", "HOSTNAME=h"), strs("PATH=/usr/bin", "A=b=c"), strs("PATH=/usr/bin", "HOSTNAME=h", "A=b=c")},
		{strs("A=1"), strs("A", "A=2"), strs("A=2")},
		{strs("A=1"), strs("B=1", "B=2"), strs("A=1", "B=2")},
	}
	for _, tt := range tests {
		if got := replaceOrAppendEnv(tt.defaults, tt.overrides); !slices.Equal(got, tt.want) {
			t.Errorf("replaceOrAppendEnv(%q, %q) = %q, want %q", tt.defaults, tt.overrides, got, tt.want)
		}
	}
}
