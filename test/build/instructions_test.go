package build

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// imageCase is one build checked through the image it makes: what a
// script prints in it and its config fields.
type imageCase struct {
	name       string
	dockerfile string
	files      map[string]string // context files
	setup      func(e *env)      // before the build (imports, ...)
	args       []string          // build options ("-t img ." are added)
	env        []string          // extra environment of strata build
	script     string            // run in the image with /bin/sh -c
	want       string            // the script's stdout
	config     map[string]string // Config field -> its JSON
	stderr     []string          // in the build's progress output
	check      func(t *testing.T, e *env, out string)
}

// runImageCases builds every case as "img" in a root of its own, in
// parallel, and checks it.
func runImageCases(t *testing.T, cases []imageCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			for name, body := range c.files {
				e.write(name, body)
			}
			if c.setup != nil {
				c.setup(e)
			}
			e.write("Dockerfile", c.dockerfile)
			r, id := e.build(build{args: append(append([]string{}, c.args...), "-t", "img", "."), env: c.env})
			if r.Code != 0 || id == "" {
				t.Fatalf("build: %s", r)
			}
			if c.script != "" {
				testbin.WantEq(t, "script output", e.sh("img", c.script), c.want)
			}
			for field, want := range c.config {
				wantJSON(t, field, e.config("img", field), want)
			}
			testbin.WantContains(t, "progress output", r.Stderr, c.stderr...)
			if c.check != nil {
				c.check(t, e, r.Stderr)
			}
		})
	}
}

// pathEnv is the busybox image's environment.
const pathEnv = `"PATH=/usr/sbin:/usr/bin:/sbin:/bin"`

// addApp adds user and group app (1000) with a home directory, since the
// busybox image has root only (and no adduser).
const addApp = `RUN echo 'app:x:1000:1000:app:/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group && mkdir -p /home/app && chown app:app /home/app
`

// TestInstructions builds one small image per Dockerfile feature.
func TestInstructions(t *testing.T) {
	t.Parallel()
	runImageCases(t, []imageCase{{
		name: "env-syntaxes-and-expansion",
		dockerfile: `FROM busybox
ENV A=1 B="two words" C=three\ words
ENV D 4 and more
ENV E=${A:-x}-${UNSET:-dflt}-${A:+set}-${UNSET:+never}
WORKDIR /w/${UNSET:-wd}
COPY f.txt ${UNSET:-/dst}/${A:+sub}/
RUN echo "$A|$B|$C|$D|$E" > /envs
`,
		files:  map[string]string{"f.txt": "F\n"},
		script: "cat /envs; pwd; cat /dst/sub/f.txt",
		want:   "1|two words|three words|4 and more|1-dflt-set-\n/w/wd\nF\n",
		config: map[string]string{
			"Env":        `[` + pathEnv + `,"A=1","B=two words","C=three words","D=4 and more","E=1-dflt-set-"]`,
			"WorkingDir": `"/w/wd"`,
		},
	}, {
		name:       "arg-before-from-default",
		dockerfile: "ARG BASE=busybox\nFROM $BASE\nRUN echo ok > /ok\n",
		setup:      func(e *env) { e.importImage("labeled", "LABEL from=labeled") },
		script:     "cat /ok",
		want:       "ok\n",
		config:     map[string]string{"Labels": "null", "Env": `[` + pathEnv + `]`},
	}, {
		name:       "arg-before-from-build-arg",
		dockerfile: "ARG BASE=busybox\nFROM ${BASE}\nRUN echo ok > /ok\n",
		setup:      func(e *env) { e.importImage("labeled", "LABEL from=labeled") },
		args:       []string{"--build-arg", "BASE=labeled"},
		script:     "cat /ok",
		want:       "ok\n",
		config:     map[string]string{"Labels": `{"from":"labeled"}`},
	}, {
		name:       "arg-scope-per-stage",
		dockerfile: "ARG G=global\nFROM busybox\nRUN echo \"[$G]\" > /before\nARG G\nRUN echo \"[$G]\" > /after\n",
		script:     "cat /before /after",
		want:       "[]\n[global]\n",
		config:     map[string]string{"Env": `[` + pathEnv + `]`},
	}, {
		name:       "arg-scope-build-arg",
		dockerfile: "ARG G=global\nFROM busybox\nRUN echo \"[$G]\" > /before\nARG G\nRUN echo \"[$G]\" > /after\n",
		args:       []string{"--build-arg", "G=cli"},
		script:     "cat /before /after",
		want:       "[]\n[cli]\n",
	}, {
		name:       "build-arg-from-environment",
		dockerfile: "FROM busybox\nARG TOKEN\nARG OTHER_UNSET_7Q=dflt\nRUN echo \"$TOKEN $OTHER_UNSET_7Q\" > /args\n",
		args:       []string{"--build-arg", "TOKEN", "--build-arg", "OTHER_UNSET_7Q"},
		env:        []string{"TOKEN=fromenv"},
		script:     "cat /args",
		want:       "fromenv dflt\n",
		config:     map[string]string{"Env": `[` + pathEnv + `]`},
	}, {
		name:       "predefined-proxy-arg",
		dockerfile: "FROM busybox\nRUN echo \"proxy=$HTTP_PROXY\" > /proxy\n",
		args:       []string{"--build-arg", "HTTP_PROXY=http://proxy.invalid:3128"},
		script:     "cat /proxy",
		want:       "proxy=http://proxy.invalid:3128\n",
		config:     map[string]string{"Env": `[` + pathEnv + `]`},
		check: func(t *testing.T, e *env, out string) {
			testbin.WantNotContains(t, "history", e.ok("history", "--no-trunc", "img"), "proxy.invalid")
			testbin.WantNotContains(t, "progress output", out, "not consumed")
		},
	}, {
		name:       "labels",
		dockerfile: "FROM busybox\nLABEL a=1 b=\"x y\" \"c d\"=e\nLABEL a=2 multi=\"one \\\n  two\"\n",
		config:     map[string]string{"Labels": `{"a":"2","b":"x y","c d":"e","multi":"one   two"}`},
	}, {
		name:       "maintainer",
		dockerfile: "FROM busybox\nMAINTAINER Jane Doe <jane@example.com>\n",
		check: func(t *testing.T, e *env, _ string) {
			testbin.WantEq(t, "Author", e.out("inspect", "-f", "{{.Author}}", "img"), "Jane Doe <jane@example.com>")
		},
	}, {
		name:       "user-by-name",
		dockerfile: "FROM busybox\n" + addApp + "USER app\nRUN id -u > /tmp/uid && id -g >> /tmp/uid && touch /home/app/mine\n",
		script:     "cat /tmp/uid; id -un; stat -c %U /home/app/mine",
		want:       "1000\n1000\napp\napp\n",
		config:     map[string]string{"User": `"app"`},
	}, {
		name:       "user-numeric",
		dockerfile: "FROM busybox\nUSER 1234:5678\nRUN id -u > /tmp/u && id -g >> /tmp/u\n",
		script:     "cat /tmp/u; id -u",
		want:       "1234\n5678\n1234\n",
		config:     map[string]string{"User": `"1234:5678"`},
	}, {
		name:       "workdir-relative-and-created",
		dockerfile: "FROM busybox\nWORKDIR /a\nWORKDIR b\nWORKDIR c\nRUN pwd > /pwd\nWORKDIR /created/deep\n",
		script:     "cat /pwd; pwd; test -d /created/deep && echo made",
		want:       "/a/b/c\n/created/deep\nmade\n",
		config:     map[string]string{"WorkingDir": `"/created/deep"`},
	}, {
		name:       "expose-volume-stopsignal",
		dockerfile: "FROM busybox\nEXPOSE 80 53/udp\nEXPOSE 8080/tcp\nVOLUME [\"/data\", \"/logs\"]\nVOLUME /cache\nSTOPSIGNAL SIGUSR1\n",
		config: map[string]string{
			"ExposedPorts": `{"80/tcp":{},"53/udp":{},"8080/tcp":{}}`,
			"Volumes":      `{"/data":{},"/logs":{},"/cache":{}}`,
			"StopSignal":   `"SIGUSR1"`,
		},
	}, {
		name:       "healthcheck",
		dockerfile: "FROM busybox\nHEALTHCHECK --interval=5s --timeout=3s --start-period=1s --retries=2 CMD wget -q -O- http://localhost/ || exit 1\n",
		config: map[string]string{
			"Healthcheck": `{"Test":["CMD-SHELL","wget -q -O- http://localhost/ || exit 1"],"Interval":5000000000,"Timeout":3000000000,"StartPeriod":1000000000,"Retries":2}`,
		},
	}, {
		name:       "healthcheck-exec-then-none",
		dockerfile: "FROM busybox\nHEALTHCHECK CMD [\"/bin/true\"]\nRUN true\nHEALTHCHECK NONE\n",
		config:     map[string]string{"Healthcheck": `{"Test":["NONE"]}`},
	}, {
		name: "shell",
		dockerfile: `FROM busybox
RUN printf '#!/bin/sh\necho "custom:$*" >> /shell.log\nexec /bin/sh "$@"\n' > /myshell && chmod +x /myshell
SHELL ["/myshell", "-c"]
RUN echo hi > /hi
CMD echo from cmd
`,
		script: "cat /shell.log /hi",
		want:   "custom:-c echo hi > /hi\nhi\n",
		config: map[string]string{"Cmd": `["/myshell","-c","echo from cmd"]`, "Shell": `["/myshell","-c"]`},
	}, {
		name:       "cmd-shell-form",
		dockerfile: "FROM busybox\nCMD echo hi   there\n",
		config:     map[string]string{"Cmd": `["/bin/sh","-c","echo hi   there"]`, "Entrypoint": "null"},
		check: func(t *testing.T, e *env, _ string) {
			testbin.WantEq(t, "run", e.ok("run", "--rm", "img"), "hi there\n")
		},
	}, {
		name:       "cmd-last-wins",
		dockerfile: "FROM busybox\nCMD [\"echo\", \"first\"]\nCMD [\"echo\", \"last\"]\n",
		config:     map[string]string{"Cmd": `["echo","last"]`},
		check: func(t *testing.T, e *env, _ string) {
			testbin.WantEq(t, "run", e.ok("run", "--rm", "img"), "last\n")
		},
	}, {
		name:       "entrypoint-clears-base-cmd",
		dockerfile: "FROM busybox\nENTRYPOINT [\"echo\", \"ep\"]\n",
		config:     map[string]string{"Cmd": "null", "Entrypoint": `["echo","ep"]`},
		check: func(t *testing.T, e *env, _ string) {
			testbin.WantEq(t, "run", e.ok("run", "--rm", "img"), "ep\n")
		},
	}, {
		name:       "entrypoint-with-cmd",
		dockerfile: "FROM busybox\nENTRYPOINT [\"echo\"]\nCMD [\"a\", \"b\"]\n",
		config:     map[string]string{"Cmd": `["a","b"]`, "Entrypoint": `["echo"]`},
		check: func(t *testing.T, e *env, _ string) {
			testbin.WantEq(t, "run", e.ok("run", "--rm", "img"), "a b\n")
			testbin.WantEq(t, "run with args", e.ok("run", "--rm", "img", "c"), "c\n")
		},
	}, {
		name:       "entrypoint-shell-form-keeps-stage-cmd",
		dockerfile: "FROM busybox\nCMD [\"x\"]\nENTRYPOINT echo shell form\n",
		config:     map[string]string{"Cmd": `["x"]`, "Entrypoint": `["/bin/sh","-c","echo shell form"]`},
		check: func(t *testing.T, e *env, _ string) {
			testbin.WantEq(t, "run", e.ok("run", "--rm", "img"), "shell form\n")
		},
	}, {
		name:       "run-exec-form",
		dockerfile: "FROM busybox\nRUN [\"/bin/sh\", \"-c\", \"echo x > /f\"]\nRUN [\"touch\", \"/touched\"]\n",
		script:     "cat /f; test -f /touched && echo touched",
		want:       "x\ntouched\n",
	}, {
		name: "heredocs-and-syntax-line",
		dockerfile: `# syntax=docker/dockerfile:1
FROM busybox
ENV NAME=world
RUN <<EOF
echo line1 > /h
echo line2 >> /h
EOF
COPY <<EOF /file.txt
hello $NAME
EOF
COPY <<'EOF' /raw.txt
hello $NAME
EOF
RUN cat <<EOF > /catted
via cat
EOF
`,
		script: "cat /h /file.txt /raw.txt /catted",
		want:   "line1\nline2\nhello world\nhello $NAME\nvia cat\n",
		stderr: []string{"syntax=docker/dockerfile:1"},
	}, {
		name:       "escape-directive",
		dockerfile: "# escape=`\nFROM busybox\nENV W=C:\\dir\nRUN echo one `\n    two > /esc\n",
		script:     "cat /esc",
		want:       "one two\n",
		config:     map[string]string{"Env": `[` + pathEnv + `,"W=C:\\dir"]`},
	}})
}

// TestOnBuild builds a parent with ONBUILD triggers and a child FROM it:
// the triggers run in the child, which does not keep them.
func TestOnBuild(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write("trigger.txt", "copied by a trigger\n")
	e.buildOK("FROM busybox\nONBUILD RUN echo triggered > /t\nONBUILD COPY trigger.txt /\nRUN test ! -e /t\n", "-t", "parent")
	wantJSON(t, "parent OnBuild", e.config("parent", "OnBuild"), `["RUN echo triggered > /t","COPY trigger.txt /"]`)
	testbin.WantEq(t, "parent has no /t", e.sh("parent", "test -e /t && echo yes || echo no"), "no\n")
	e.write("child.Dockerfile", "FROM parent\nRUN cat /t /trigger.txt > /both\n")
	r, _ := e.build(build{args: []string{"-f", "child.Dockerfile", "-t", "child", "."}})
	if r.Code != 0 {
		t.Fatalf("child build: %s", r)
	}
	testbin.WantEq(t, "child files", e.sh("child", "cat /both"), "triggered\ncopied by a trigger\n")
	if got := e.config("child", "OnBuild"); got != "null" && got != "[]" {
		t.Errorf("child OnBuild = %s, want it empty", got)
	}
	if strings.Contains(r.Stderr, "ERROR") {
		t.Errorf("child build reported an error:\n%s", r.Stderr)
	}
}
