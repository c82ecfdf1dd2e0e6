package crash

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// killCase is one command the kill -9 loop interrupts.
type killCase struct {
	name string
	args []string
	// partial fails the test if the listed images are not each either
	// complete or absent: what the store may show after a crash.
	partial func(t *testing.T, s *store, imgs map[string][]string)
	// complete fails the test unless the command's images are all there.
	complete func(t *testing.T, s *store, imgs map[string][]string)
}

func TestKillLoad(t *testing.T) {
	f := getFixtures(t)
	killLoop(t, loadCase("load", f, f.archive))
}

func TestKillLoadGzip(t *testing.T) {
	f := getFixtures(t)
	killLoop(t, loadCase("load-gzip", f, f.archiveGz))
}

func TestKillImport(t *testing.T) {
	f := getFixtures(t)
	const tag = "crash/import:latest"
	checkImage := func(t *testing.T, s *store, id string, tags []string) {
		if len(tags) > 1 || (len(tags) == 1 && tags[0] != tag) {
			t.Fatalf("image %s has tags %v, want at most %s", id, tags, tag)
		}
		if l := s.layers(id); !slices.Equal(l, []string{f.importDiffID}) {
			t.Fatalf("image %s has layers %v, want [%s]", id, l, f.importDiffID)
		}
	}
	killLoop(t, killCase{
		name: "import",
		args: []string{"import", f.importTar, tag},
		partial: func(t *testing.T, s *store, imgs map[string][]string) {
			for id, tags := range imgs {
				checkImage(t, s, id, tags)
			}
		},
		complete: func(t *testing.T, s *store, imgs map[string][]string) {
			tagged := 0
			for id, tags := range imgs {
				checkImage(t, s, id, tags)
				tagged += len(tags)
			}
			if tagged != 1 {
				t.Fatalf("after a full import %s names %d images, want 1: %v", tag, tagged, imgs)
			}
			s.saveDiscard(tag)
		},
	})
}

// loadCase is the kill case of `load -i archive`: after a crash each image
// of the archive is either there with all its tags and layers or absent
// (load commits image by image).
func loadCase(name string, f *fixtures, archive string) killCase {
	return killCase{
		name: name,
		args: []string{"load", "-i", archive},
		partial: func(t *testing.T, s *store, imgs map[string][]string) {
			for id, tags := range imgs {
				w, ok := f.want[id]
				if !ok {
					t.Fatalf("image %s (tags %v) is not one of the archive's", id, tags)
				}
				if !slices.Equal(tags, w.tags) {
					t.Fatalf("image %s has tags %v, want all of %v", id, tags, w.tags)
				}
				if l := s.layers(id); !slices.Equal(l, w.diffIDs) {
					t.Fatalf("image %s has layers %v, want %v", id, l, w.diffIDs)
				}
			}
		},
		complete: func(t *testing.T, s *store, imgs map[string][]string) {
			if len(imgs) != len(f.want) {
				t.Fatalf("after a full load the store lists %v, want %d images", imgs, len(f.want))
			}
			var ids []string
			for id := range f.want {
				if _, ok := imgs[id]; !ok {
					t.Fatalf("after a full load image %s is missing: %v", id, imgs)
				}
				ids = append(ids, id)
			}
			s.saveDiscard(ids...)
		},
	}
}

// killLoop runs c on one store again and again, SIGKILLing it after delays
// spread from 0 to a little past its normal duration, and checks the store
// after each kill. Iterations rotate between three follow-ups: repair then
// re-run; re-run without repair; nothing (the next kill hits a crashed
// store). Every re-run must succeed and give complete images.
func killLoop(t *testing.T, c killCase) {
	iterations := 20
	if testing.Short() {
		iterations = 5
	}
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, uint64(len(c.name))))
	normal := measure(t, c)
	delays := spreadDelays(rng, iterations, normal*115/100)
	t.Logf("%s: normal duration %v, seed %d", c.name, normal.Round(time.Millisecond), seed)

	s := newStore(t)
	stats := map[string]int{}
	fresh := true // the store is empty and clean before this kill
	for i, d := range delays {
		when := fmt.Sprintf("iteration %d (kill after %v)", i, d.Round(time.Millisecond))
		if killRun(t, s, c.args, d) {
			stats["killed"]++
		} else {
			stats["finished first"]++
		}
		imgs := s.images()
		c.partial(t, s, imgs)
		if fresh {
			stats[fmt.Sprintf("fresh store left with %d images", len(imgs))]++
		}
		if rep := s.checkAfterCrash(when); len(rep.problems) > 0 {
			stats["check found unreferenced blobs"]++
		}
		if len(s.ingests()) > 0 {
			stats["ingests left"]++
		}
		step := i % 3
		if i == len(delays)-1 {
			step = 0
		}
		switch step {
		case 0:
			s.repair(when)
			rerun(t, s, c, when)
			s.requireClean(when + ", after re-run")
			s.removeAll(when)
		case 1:
			rerun(t, s, c, when)
			s.checkAfterCrash(when + ", after re-run")
			s.removeAll(when)
		}
		fresh = step != 2
	}
	t.Logf("%s: %v", c.name, stats)
	if stats["killed"] == 0 {
		t.Fatalf("%s: no run was killed before it finished", c.name)
	}
}

// rerun runs the command to completion and requires complete images.
func rerun(t *testing.T, s *store, c killCase, when string) {
	t.Helper()
	if res := s.run(c.args...); res.Code != 0 {
		t.Fatalf("%s: re-run after the crash failed:\n%s", when, res)
	}
	c.complete(t, s, s.images())
}

// measure returns how long the command normally takes: the median of three
// runs into fresh stores (the machine may be busy with other work).
func measure(t *testing.T, c killCase) time.Duration {
	t.Helper()
	var runs []time.Duration
	for range 3 {
		s := newStore(t)
		start := time.Now()
		s.must(c.args...)
		runs = append(runs, time.Since(start))
		c.complete(t, s, s.images())
		s.requireClean(c.name + ": uninterrupted run")
		os.RemoveAll(s.root)
	}
	slices.Sort(runs)
	return runs[1]
}

// spreadDelays returns n delays in [0, max): one in each of n equal slots,
// in random order, so early, middle and late kills all happen.
func spreadDelays(rng *rand.Rand, n int, max time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	slot := max / time.Duration(n)
	for i := range out {
		out[i] = time.Duration(i)*slot + time.Duration(rng.Int64N(int64(slot)+1))
	}
	rng.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// killRun starts strata args on s and sends SIGKILL after delay. It reports
// whether the kill hit; a run that ends first must have succeeded.
func killRun(t *testing.T, s *store, args []string, delay time.Duration) bool {
	t.Helper()
	cmd := s.command(args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(delay, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	if err == nil {
		return false
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	t.Fatalf("strata %v failed on its own (not killed): %v", args, err)
	return false
}

// crashSeed is $STRATA_CRASH_SEED, else a fresh seed (logged, so a failure
// can be replayed).
func crashSeed(t *testing.T) uint64 {
	if v := os.Getenv("STRATA_CRASH_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("STRATA_CRASH_SEED: %v", err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}
