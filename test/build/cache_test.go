package build

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// cacheDockerfile has steps before and after an ARG, a COPY of one file
// and a COPY of a directory.
const cacheDockerfile = `FROM busybox
RUN echo first > /first
COPY config.txt /
RUN cat /config.txt > /derived
ARG V=1
RUN echo "v=$V" > /v
COPY src/ /src/
RUN ls /src > /listing
CMD ["cat", "/listing"]
`

// cacheSteps lists the steps of cacheDockerfile that show in the progress
// output. ARG is a step (it has a history entry, as with Docker's classic
// builder) but a changed value misses at its first use, not at the ARG.
var cacheSteps = []string{
	"RUN echo first > /first",
	"COPY config.txt /",
	"RUN cat /config.txt > /derived",
	"ARG V=1",
	`RUN echo "v=$V" > /v`,
	"COPY src/ /src/",
	"RUN ls /src > /listing",
	`CMD ["cat", "/listing"]`,
}

// wantCached compares which steps of cacheDockerfile were cached with
// marks, one "C" (cached) or "-" (run) per step.
func wantCached(t *testing.T, what, out, marks string) {
	t.Helper()
	var want strings.Builder
	for i, s := range cacheSteps {
		want.WriteString(marks[i:i+1] + " " + s + "\n")
	}
	testbin.WantEq(t, what, cacheReport(t, out), want.String())
}

func cacheContext(e *env) {
	e.write("config.txt", "config v1\n")
	e.write("src/app.js", "app v1\n")
	e.write("src/util.js", "util v1\n")
	e.write("Dockerfile", cacheDockerfile)
}

// TestCacheRebuild is seed 000 ("镜像需要缓存吗", does an image build need a
// cache): an unchanged rebuild reuses every step and gives the same image,
// in a new process, after rmi of the tag too; a changed file reruns the
// COPY of it and what follows, not what precedes.
func TestCacheRebuild(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cacheContext(e)
	id1, out := e.buildOK("", "-t", "app")
	wantCached(t, "first build", out, "--------")

	id2, out := e.buildOK("", "-t", "app")
	wantCached(t, "unchanged rebuild", out, "CCCCCCCC")
	testbin.WantEq(t, "image ID of the unchanged rebuild", id2, id1)

	e.ok("rmi", "app")
	id3, out := e.buildOK("", "-t", "app")
	wantCached(t, "rebuild after rmi", out, "CCCCCCCC")
	testbin.WantEq(t, "image ID after rmi", id3, id1)
	testbin.WantEq(t, "the rebuilt image", e.sh("app", "cat /first /derived /v /listing"), "first\nconfig v1\nv=1\napp.js\nutil.js\n")

	e.write("src/app.js", "app v2\n")
	id4, out := e.buildOK("", "-t", "app", "--explain-cache")
	wantCached(t, "after changing src/app.js", out, "CCCCC---")
	if id4 == id1 {
		t.Errorf("changing src/app.js kept the image ID %s", id1)
	}
	copySrc := step(t, out, "COPY src/ /src/")
	testbin.WantContains(t, "why COPY src/ missed", strings.Join(copySrc.misses, "\n"), "file src/app.js changed")
	testbin.WantNotContains(t, "why COPY src/ missed", strings.Join(copySrc.misses, "\n"), "util.js")
	testbin.WantEq(t, "the image after the change", e.sh("app", "cat /src/app.js"), "app v2\n")

	e.write("config.txt", "config v2\n")
	_, out = e.buildOK("", "-t", "app")
	wantCached(t, "after changing config.txt", out, "C-------")
	testbin.WantEq(t, "derived from config", e.sh("app", "cat /derived"), "config v2\n")
}

// TestCacheBuildArgs checks that a changed build arg reruns only the steps
// after its ARG, and that --explain-cache says which arg changed.
func TestCacheBuildArgs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cacheContext(e)
	e.buildOK("", "-t", "app")
	_, out := e.buildOK("", "-t", "app", "--build-arg", "V=2", "--explain-cache")
	wantCached(t, "with V=2", out, "CCCC----")
	testbin.WantContains(t, "why the RUN after ARG V missed", strings.Join(step(t, out, `RUN echo "v=$V"`).misses, "\n"), "build arg V changed")
	testbin.WantEq(t, "v", e.sh("app", "cat /v"), "v=2\n")
	_, out = e.buildOK("", "-t", "app", "--build-arg", "V=2")
	wantCached(t, "with V=2 again", out, "CCCCCCCC")
	// An arg no ARG declares changes nothing (and is reported unused).
	_, out = e.buildOK("", "-t", "app", "--build-arg", "V=2", "--build-arg", "UNUSED=x")
	wantCached(t, "with an unused arg", out, "CCCCCCCC")
	testbin.WantContains(t, "unused arg warning", out, "UNUSED")
}

// TestCacheInvalidation checks --no-cache, a changed instruction with
// --explain-cache, and builder prune.
func TestCacheInvalidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cacheContext(e)
	e.buildOK("", "-t", "app")
	_, out := e.buildOK("", "-t", "app", "--no-cache")
	wantCached(t, "--no-cache", out, "--------")
	testbin.WantNotContains(t, "--no-cache", out, "CACHED")

	e.write("Dockerfile", strings.Replace(cacheDockerfile, "RUN cat /config.txt > /derived", "RUN cat /config.txt /config.txt > /derived", 1))
	_, out = e.buildOK("", "-t", "app", "--explain-cache")
	if got := cacheReport(t, out); !strings.HasPrefix(got, "C RUN echo first > /first\nC COPY config.txt /\n- RUN cat /config.txt /config.txt > /derived\n- ARG V=1\n- RUN echo") {
		t.Errorf("after changing the third instruction:\n%s", got)
	}
	testbin.WantContains(t, "why the changed RUN missed", strings.Join(step(t, out, "RUN cat /config.txt").misses, "\n"),
		"instruction changed", "RUN cat /config.txt > /derived", "RUN cat /config.txt /config.txt > /derived")
	e.write("Dockerfile", cacheDockerfile)

	prune := e.ok("builder", "prune", "-a", "-f")
	testbin.WantContains(t, "builder prune -a -f", prune, "Total reclaimed space")
	_, out = e.buildOK("", "-t", "app")
	testbin.WantNotContains(t, "build after builder prune -a", out, "CACHED")
	testbin.WantEq(t, "the image after prune", e.sh("app", "cat /first /v"), "first\nv=1\n")
}

// TestExplainBaseChanged checks that a new image behind the FROM name
// misses the next step and --explain-cache says the base changed.
func TestExplainBaseChanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	df := "FROM busybox\nRUN echo hi > /hi\n"
	e.buildOK(df, "-t", "app")
	_, out := e.buildOK(df, "-t", "app", "--explain-cache")
	testbin.WantContains(t, "unchanged base", cacheReport(t, out), "C RUN echo hi")
	e.importImage("busybox", "LABEL rev=2") // a different image ID under the same name
	_, out = e.buildOK(df, "-t", "app", "--explain-cache")
	testbin.WantContains(t, "after a new base image", cacheReport(t, out), "- RUN echo hi")
	testbin.WantContains(t, "why the RUN missed", strings.Join(step(t, out, "RUN echo hi").misses, "\n"), "base image busybox changed: was ")
}

// TestPruneRemovesUnpackedLayers checks that builder prune -a removes the
// unpacked layers only removed images and cache entries needed, and keeps
// what remaining images and containers use.
func TestPruneRemovesUnpackedLayers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.buildOK("FROM busybox\nRUN echo gone > /gone\nRUN echo more > /more\n", "-t", "gone")
	e.buildOK("FROM busybox\nRUN echo kept > /kept\n", "-t", "kept")
	e.ok("rmi", "gone")
	out := e.ok("builder", "prune", "-a", "-f")
	testbin.WantContains(t, "builder prune -a", out, "Deleted unpacked layers: 2", "Total reclaimed space")
	testbin.WantEq(t, "the kept image still runs", e.sh("kept", "cat /kept"), "kept\n")
	testbin.WantEq(t, "the base image still runs", e.sh("busybox", "echo base"), "base\n")
	testbin.WantContains(t, "system check", e.out("system", "check"), "0 problems")
}
