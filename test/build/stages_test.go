package build

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// TestTarget checks that --target builds the stages the target needs and
// no other: those that would fail do not run.
func TestTarget(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	df := `FROM busybox AS base
RUN echo base > /base
FROM base AS broken
RUN false
FROM busybox AS unrelated
RUN exit 7
FROM base AS dev
RUN echo dev > /dev-file
FROM busybox AS final
COPY --from=dev /dev-file /
RUN exit 9
`
	_, out := e.buildOK(df, "--target", "dev", "-t", "dev")
	testbin.WantEq(t, "dev image", e.sh("dev", "cat /base /dev-file"), "base\ndev\n")
	testbin.WantNotContains(t, "progress of --target dev", out, "RUN false", "RUN exit 7", "RUN exit 9", "COPY --from=dev")
	testbin.WantEq(t, "steps of --target dev", cacheReport(t, out), "- RUN echo base > /base\n- RUN echo dev > /dev-file\n")

	r := e.buildFail("", "--target", "nosuchstage")
	testbin.WantContains(t, "unknown target", r.Stderr, "nosuchstage")
	r = e.buildFail("", "--target", "final")
	testbin.WantContains(t, "--target final", r.Stderr, "RUN exit 9", "exit code: 9")
	testbin.WantNotContains(t, "--target final", r.Stderr, "RUN false", "RUN exit 7")
}

// TestParallelStages checks that stages that do not depend on each other
// run at the same time. It runs alone, so that the machine is idle.
func TestParallelStages(t *testing.T) {
	e := newEnv(t)
	df := `FROM busybox AS a
RUN cat /proc/uptime > /a && sleep 1 && cat /proc/uptime >> /a
FROM busybox AS b
RUN cat /proc/uptime > /b && sleep 1 && cat /proc/uptime >> /b
FROM busybox
COPY --from=a /a /a
COPY --from=b /b /b
`
	// Best of three: a busy machine can slow one build down.
	var took []time.Duration
	for i := 0; i < 3; i++ {
		start := time.Now()
		e.buildOK(df, "-t", "img", "--no-cache")
		took = append(took, time.Since(start))
		if took[i] < 1800*time.Millisecond {
			break
		}
	}
	t.Logf("builds took %v", took)
	if slices.Min(took) >= 1800*time.Millisecond {
		t.Errorf("two stages sleeping 1 s each took %v to build, want < 1.8 s", took)
	}
	times := strings.Fields(e.sh("img", "cut -d' ' -f1 /a /b"))
	if len(times) != 4 {
		t.Fatalf("uptimes: %q", times)
	}
	var f [4]float64
	for i, s := range times {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("uptime %q: %v", s, err)
		}
		f[i] = v
	}
	aStart, aEnd, bStart, bEnd := f[0], f[1], f[2], f[3]
	if !(aStart < bEnd && bStart < aEnd) {
		t.Errorf("stage a ran %.2f..%.2f and stage b %.2f..%.2f: they did not overlap", aStart, aEnd, bStart, bEnd)
	}
}
