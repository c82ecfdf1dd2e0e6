package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// TestSeedScratchHello builds the smallest useful image: a static Go
// binary on scratch, run as the image's CMD.
func TestSeedScratchHello(t *testing.T) {
	t.Parallel()
	requireTool(t, "go")
	e := newEnv(t)
	src := testbin.WriteFile(t, filepath.Join(e.base, "hello", "main.go"),
		"package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hello from a scratch image\\n\") }\n")
	testbin.WriteFile(t, filepath.Join(e.base, "hello", "go.mod"), "module hello\n\ngo 1.21\n")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(e.dir, "hello"), ".")
	cmd.Dir = filepath.Dir(src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	id, _ := e.buildOK("FROM scratch\nCOPY hello /\nCMD [\"/hello\"]\n", "-t", "hello")
	testbin.WantEq(t, "run --rm hello", e.ok("run", "--rm", "hello"), "hello from a scratch image\n")
	testbin.WantEq(t, "image ID of the tag", e.out("inspect", "-f", "{{.Id}}", "hello"), id)
	wantJSON(t, "Cmd", e.config("hello", "Cmd"), `["/hello"]`)
	testbin.WantEq(t, "layers", e.out("inspect", "-f", "{{len .RootFS.Layers}}", "hello"), "1")
}

// supervisordDockerfile is the classic Node.js/supervisord example of
// Docker's documentation, on busybox.
const supervisordDockerfile = `FROM busybox
ARG email="anna@example.com"
LABEL "maintainer"=$email
LABEL "rating"="Five stars" "class"="First Class"

USER root

ENV API /data/app
ENV SCPATH /etc/supervisor/conf.d

RUN mkdir -p $API $SCPATH /var/log/supervisor

# The daemons
COPY ./supervisord/conf.d/* $SCPATH/

# Application Code
COPY *.js* $API/

WORKDIR $API

RUN ls > files.txt

CMD ["supervisord", "-n"]
`

func supervisordContext(e *env) {
	e.write("supervisord/conf.d/app.conf", "[program:app]\ncommand=node /data/app/app.js\n")
	e.write("app.js", "console.log('hi')\n")
	e.write("package.json", "{\"name\":\"app\"}\n")
	e.write("README.md", "not copied\n")
}

// TestSeedSupervisord builds the supervisord example and checks its
// labels (with and without --build-arg), environment, working directory,
// files and command.
func TestSeedSupervisord(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	supervisordContext(e)
	e.buildOK(supervisordDockerfile, "-t", "app")
	wantJSON(t, "Labels", e.config("app", "Labels"),
		`{"maintainer":"anna@example.com","rating":"Five stars","class":"First Class"}`)
	wantJSON(t, "Env", e.config("app", "Env"),
		`["PATH=/usr/sbin:/usr/bin:/sbin:/bin","API=/data/app","SCPATH=/etc/supervisor/conf.d"]`)
	testbin.WantEq(t, "WorkingDir", e.config("app", "WorkingDir"), `"/data/app"`)
	testbin.WantEq(t, "User", e.config("app", "User"), `"root"`)
	wantJSON(t, "Cmd", e.config("app", "Cmd"), `["supervisord","-n"]`)
	testbin.WantEq(t, "files", e.sh("app", "pwd; cat files.txt; cat /etc/supervisor/conf.d/app.conf; test -d /var/log/supervisor && echo logdir"),
		"/data/app\napp.js\nfiles.txt\npackage.json\n[program:app]\ncommand=node /data/app/app.js\nlogdir\n")

	_, out := e.buildOK("", "--build-arg", "email=ops@example.org", "-t", "app2")
	wantJSON(t, "Labels with --build-arg email", e.config("app2", "Labels"),
		`{"maintainer":"ops@example.org","rating":"Five stars","class":"First Class"}`)
	// The first LABEL changes, so it and every step after it rerun.
	testbin.WantEq(t, "cache with a new email", cacheReport(t, out),
		"C ARG email=\"anna@example.com\"\n- LABEL \"maintainer\"=$email\n- LABEL \"rating\"=\"Five stars\" \"class\"=\"First Class\"\n"+
			"- USER root\n- ENV API /data/app\n- ENV SCPATH /etc/supervisor/conf.d\n"+
			"- RUN mkdir -p $API $SCPATH /var/log/supervisor\n- COPY ./supervisord/conf.d/* $SCPATH/\n"+
			"- COPY *.js* $API/\n- WORKDIR $API\n- RUN ls > files.txt\n- CMD [\"supervisord\", \"-n\"]\n")
}

// TestSeedHistory checks that the history of a built image reads like
// Docker's: "#(nop)" for the metadata steps, the shell command of a RUN,
// COPY with the checksum of what it copied.
func TestSeedHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	supervisordContext(e)
	e.buildOK(supervisordDockerfile, "-t", "app")
	hist := testbin.Lines(e.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "app"))
	if len(hist) < 12 {
		t.Fatalf("history has %d lines, want the 12 steps and the base:\n%s", len(hist), strings.Join(hist, "\n"))
	}
	testbin.WantEq(t, "newest history line", hist[0], `/bin/sh -c #(nop)  CMD ["supervisord","-n"]|0B`)
	want := []*regexp.Regexp{
		regexp.MustCompile(`^(\|1 email=anna@example.com )?/bin/sh -c ls > files.txt\|`),
		regexp.MustCompile(`^/bin/sh -c #\(nop\) WORKDIR /data/app\|`),
		regexp.MustCompile(`^/bin/sh -c #\(nop\) COPY multi:[0-9a-f]{64} in /data/app/ *\|`),
		regexp.MustCompile(`^/bin/sh -c #\(nop\) COPY file:[0-9a-f]{64} in /etc/supervisor/conf.d/ *\|`),
		regexp.MustCompile(`^(\|1 email=anna@example.com )?/bin/sh -c mkdir -p \$API \$SCPATH /var/log/supervisor\|`),
		regexp.MustCompile(`^/bin/sh -c #\(nop\)  ENV SCPATH=/etc/supervisor/conf.d\|0B$`),
		regexp.MustCompile(`^/bin/sh -c #\(nop\)  ENV API=/data/app\|0B$`),
		regexp.MustCompile(`^/bin/sh -c #\(nop\)  USER root\|0B$`),
		regexp.MustCompile(`^/bin/sh -c #\(nop\)  LABEL rating=Five stars class=First Class\|0B$`),
		regexp.MustCompile(`^/bin/sh -c #\(nop\)  LABEL maintainer=anna@example.com\|0B$`),
		regexp.MustCompile(`^/bin/sh -c #\(nop\)  ARG email=anna@example.com\|0B$`),
	}
	for i, re := range want {
		if !re.MatchString(hist[i+1]) {
			t.Errorf("history line %d = %q, want it to match %s", i+2, hist[i+1], re)
		}
	}
	if strings.HasSuffix(hist[1], "|0B") || strings.HasSuffix(hist[5], "|0B") {
		t.Errorf("RUN steps that write files have size 0B: %q, %q", hist[1], hist[5])
	}
}
