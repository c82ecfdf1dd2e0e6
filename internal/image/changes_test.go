package image

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
)

func TestApplyChanges(t *testing.T) {
	t.Parallel()
	base := func() ContainerConfig {
		return ContainerConfig{
			Env:        []string{"PATH=/usr/bin:/bin", "HOME=/root"},
			Cmd:        []string{"sh"},
			WorkingDir: "/srv",
		}
	}
	cases := []struct {
		name    string
		changes []string
		check   func(c ContainerConfig) bool
	}{
		{"cmd shell form", []string{"CMD echo hello world"},
			func(c ContainerConfig) bool {
				return reflect.DeepEqual([]string(c.Cmd), []string{"/bin/sh", "-c", "echo hello world"})
			}},
		{"cmd exec form", []string{`CMD ["echo", "hi there"]`},
			func(c ContainerConfig) bool { return reflect.DeepEqual([]string(c.Cmd), []string{"echo", "hi there"}) }},
		{"cmd lower case", []string{`cmd ["x"]`},
			func(c ContainerConfig) bool { return reflect.DeepEqual([]string(c.Cmd), []string{"x"}) }},
		{"entrypoint clears cmd", []string{`ENTRYPOINT ["/init"]`},
			func(c ContainerConfig) bool {
				return reflect.DeepEqual([]string(c.Entrypoint), []string{"/init"}) && c.Cmd == nil
			}},
		{"entrypoint keeps cmd set before", []string{`CMD ["serve"]`, `ENTRYPOINT ["/init"]`},
			func(c ContainerConfig) bool {
				return reflect.DeepEqual([]string(c.Entrypoint), []string{"/init"}) && reflect.DeepEqual([]string(c.Cmd), []string{"serve"})
			}},
		{"entrypoint shell form", []string{"ENTRYPOINT exec nginx -g 'daemon off;'"},
			func(c ContainerConfig) bool {
				return reflect.DeepEqual([]string(c.Entrypoint), []string{"/bin/sh", "-c", "exec nginx -g 'daemon off;'"})
			}},
		{"entrypoint empty", []string{`ENTRYPOINT []`},
			func(c ContainerConfig) bool { return c.Entrypoint == nil && c.Cmd == nil }},
		{"env key=value pairs", []string{"ENV A=1 B=two"},
			func(c ContainerConfig) bool { return hasEnv(c, "A=1") && hasEnv(c, "B=two") }},
		{"env legacy form", []string{"ENV GREETING hello world"},
			func(c ContainerConfig) bool { return hasEnv(c, "GREETING=hello world") }},
		{"env replaces", []string{"ENV HOME=/home/app"},
			func(c ContainerConfig) bool {
				return hasEnv(c, "HOME=/home/app") && len(c.Env) == 2 && c.Env[1] == "HOME=/home/app"
			}},
		{"env expands earlier values", []string{"ENV A=x", "ENV B=$A-${A}", `ENV PATH=/opt/bin:$PATH`},
			func(c ContainerConfig) bool { return hasEnv(c, "B=x-x") && hasEnv(c, "PATH=/opt/bin:/usr/bin:/bin") }},
		{"env same line uses old value", []string{"ENV A=old", "ENV A=new B=$A"},
			func(c ContainerConfig) bool { return hasEnv(c, "A=new") && hasEnv(c, "B=old") }},
		{"env quoted", []string{`ENV MSG="a b" ESC=\$HOME`},
			func(c ContainerConfig) bool { return hasEnv(c, "MSG=a b") && hasEnv(c, "ESC=$HOME") }},
		{"expose", []string{"EXPOSE 80 53/udp 8000-8002/TCP"},
			func(c ContainerConfig) bool {
				return reflect.DeepEqual(c.ExposedPorts, map[string]struct{}{
					"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {},
				})
			}},
		{"expose variable splits", []string{`ENV PORTS="80 443"`, "EXPOSE $PORTS"},
			func(c ContainerConfig) bool {
				return reflect.DeepEqual(c.ExposedPorts, map[string]struct{}{"80/tcp": {}, "443/tcp": {}})
			}},
		{"expose host form", []string{"EXPOSE 127.0.0.1:8080:80/sctp"},
			func(c ContainerConfig) bool {
				return reflect.DeepEqual(c.ExposedPorts, map[string]struct{}{"80/sctp": {}})
			}},
		{"label", []string{`LABEL a=b "c d"="e f"`, "LABEL ver=$HOME"},
			func(c ContainerConfig) bool {
				return reflect.DeepEqual(c.Labels, map[string]string{"a": "b", "c d": "e f", "ver": "/root"})
			}},
		{"user", []string{"USER nobody:nogroup"},
			func(c ContainerConfig) bool { return c.User == "nobody:nogroup" }},
		{"user expands", []string{"ENV U=app", "USER $U"},
			func(c ContainerConfig) bool { return c.User == "app" }},
		{"volume", []string{"VOLUME /data /logs", `VOLUME ["/cache"]`},
			func(c ContainerConfig) bool {
				return reflect.DeepEqual(c.Volumes, map[string]struct{}{"/data": {}, "/logs": {}, "/cache": {}})
			}},
		{"workdir absolute", []string{"WORKDIR /app/../opt//x"},
			func(c ContainerConfig) bool { return c.WorkingDir == "/opt/x" }},
		{"workdir relative", []string{"WORKDIR sub", "WORKDIR deeper"},
			func(c ContainerConfig) bool { return c.WorkingDir == "/srv/sub/deeper" }},
		{"workdir expands", []string{"ENV D=/var/lib", "WORKDIR $D/app"},
			func(c ContainerConfig) bool { return c.WorkingDir == "/var/lib/app" }},
		{"onbuild", []string{"ONBUILD RUN make", "ONBUILD COPY . /src"},
			func(c ContainerConfig) bool { return reflect.DeepEqual(c.OnBuild, []string{"RUN make", "COPY . /src"}) }},
		{"stopsignal", []string{"STOPSIGNAL SIGQUIT"},
			func(c ContainerConfig) bool { return c.StopSignal == "SIGQUIT" }},
		{"stopsignal number", []string{"STOPSIGNAL 9"},
			func(c ContainerConfig) bool { return c.StopSignal == "9" }},
		{"healthcheck", []string{"HEALTHCHECK --interval=5s --retries=2 CMD curl -f http://localhost/"},
			func(c ContainerConfig) bool {
				h := c.Healthcheck
				return h != nil && h.Interval == 5*time.Second && h.Retries == 2 &&
					reflect.DeepEqual(h.Test, []string{"CMD-SHELL", "curl -f http://localhost/"})
			}},
		{"healthcheck none", []string{"HEALTHCHECK NONE"},
			func(c ContainerConfig) bool {
				return c.Healthcheck != nil && reflect.DeepEqual(c.Healthcheck.Test, []string{"NONE"})
			}},
		{"several lines in one change", []string{"ENV X=1\nUSER x"},
			func(c ContainerConfig) bool { return hasEnv(c, "X=1") && c.User == "x" }},
		{"none", nil,
			func(c ContainerConfig) bool { return reflect.DeepEqual(c, base()) }},
	}
	for _, tc := range cases {
		c := base()
		if err := ApplyChanges(&c, tc.changes); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !tc.check(c) {
			t.Errorf("%s: unexpected result %+v", tc.name, c)
		}
	}
}

func TestApplyChangesShell(t *testing.T) {
	t.Parallel()
	c := ContainerConfig{Shell: []string{"/bin/bash", "-o", "pipefail", "-c"}}
	if err := ApplyChanges(&c, []string{"CMD echo hi"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/bin/bash", "-o", "pipefail", "-c", "echo hi"}; !reflect.DeepEqual([]string(c.Cmd), want) {
		t.Fatalf("Cmd = %q, want %q", c.Cmd, want)
	}
	if len(c.Shell) != 4 {
		t.Fatal("Shell was modified")
	}
}

func TestApplyChangesRefusals(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"FROM busybox":          "FROM is not a valid change command",
		"RUN echo hi":           "RUN is not a valid change command",
		"copy a b":              "copy is not a valid change command",
		"ADD a b":               "ADD is not a valid change command",
		"SHELL [\"/bin/bash\"]": "SHELL is not a valid change command",
		"ARG X=1":               "ARG is not a valid change command",
		"MAINTAINER me":         "MAINTAINER is not a valid change command",
		"BOGUS x":               "BOGUS is not a valid change command",
		"STOPSIGNAL SIGBOGUS":   "invalid signal: SIGBOGUS",
		"EXPOSE 80/icmp":        "invalid proto: icmp",
		"EXPOSE 99999":          "invalid containerPort: 99999",
		"EXPOSE 90-80":          "invalid containerPort: 90-80",
		"ONBUILD ONBUILD RUN x": "Chaining ONBUILD",
		"ONBUILD FROM x":        "FROM isn't allowed as an ONBUILD trigger",
		"WORKDIR":               "WORKDIR requires exactly one argument",
		"VOLUME":                "VOLUME requires at least one argument",
		"HEALTHCHECK WHAT":      "Unknown type",
		"ENV":                   "ENV",
		"EXPOSE 1.2.3:80:80":    "invalid IP address",
	}
	for change, msg := range cases {
		orig := ContainerConfig{Env: []string{"A=1"}, Cmd: []string{"sh"}}
		c := orig
		c.Env = append([]string(nil), orig.Env...)
		err := ApplyChanges(&c, []string{"ENV B=2", change})
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: err = %v, want invalid argument", change, err)
			continue
		}
		if !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: message %q lacks %q", change, err, msg)
		}
		if !reflect.DeepEqual(c, orig) {
			t.Errorf("%q: config changed on error: %+v", change, c)
		}
	}
	c := ContainerConfig{}
	if err := ApplyChanges(&c, []string{""}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("empty change: %v", err)
	}
}

func TestParseSignal(t *testing.T) {
	t.Parallel()
	cases := map[string]int{"SIGTERM": 15, "term": 15, "KILL": 9, "9": 9, "SIGRTMIN+3": 37, "RTMAX-1": 63, "SIGRTMAX": 64, "sigusr1": 10}
	for in, want := range cases {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "65", "-1", "SIGFOO", "RTMIN+16", "RTMAX-15", "RTMIN++1"} {
		if _, err := ParseSignal(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseSignal(%q) accepted", bad)
		}
	}
}

func hasEnv(c ContainerConfig, kv string) bool {
	for _, e := range c.Env {
		if e == kv {
			return true
		}
	}
	return false
}
