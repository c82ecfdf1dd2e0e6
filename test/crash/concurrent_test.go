package crash

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// lostRace matches the errors a command may meet when another process
// removed or re-tagged its image first; any other failure is a bug.
var lostRace = regexp.MustCompile(`^Error: (No such image: |conflict: unable to delete )`)

// TestConcurrentMutations runs 4 strata processes at a time on one store,
// each doing imports (of layers the others import too), tags, rmi and
// listings; afterwards the store must be consistent and every image usable.
func TestConcurrentMutations(t *testing.T) {
	concurrentMutations(t, false)
}

// TestConcurrentMutationsWithPrune is TestConcurrentMutations with
// `image prune -f` among the operations.
func TestConcurrentMutationsWithPrune(t *testing.T) {
	concurrentMutations(t, true)
}

func concurrentMutations(t *testing.T, prune bool) {
	f := getFixtures(t)
	const workers = 4
	iterations := 25
	if testing.Short() {
		iterations = 8
	}
	seed := crashSeed(t)
	t.Logf("seed %d", seed)
	s := newStore(t)
	pool := []string{"crash/pool:a", "crash/pool:b", "crash/pool:c", "crash/other:latest"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			mutate(t, s, f, pool, rng, iterations, prune)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	s.requireClean("after the concurrent mutations")
	requireUsable(t, s, f)
	s.must("image", "prune", "-f")
	s.requireClean("after a final prune")
	requireUsable(t, s, f)
}

// mutate is one worker of TestConcurrentMutations.
func mutate(t *testing.T, s *store, f *fixtures, pool []string, rng *rand.Rand, iterations int, prune bool) {
	var mine []string // IDs this worker imported
	pick := func() string {
		if len(mine) > 0 && rng.IntN(2) == 0 {
			return mine[rng.IntN(len(mine))]
		}
		return pool[rng.IntN(len(pool))]
	}
	for range iterations {
		var args []string
		mayLose := true
		switch op := rng.IntN(10); {
		case op < 4:
			args = []string{"import", f.small[rng.IntN(len(f.small))]}
			if rng.IntN(3) > 0 {
				args = append(args, pool[rng.IntN(len(pool))])
			}
			mayLose = false
		case op < 6:
			args = []string{"tag", pick(), pool[rng.IntN(len(pool))]}
		case op < 8:
			args = []string{"rmi", pick()}
			if rng.IntN(2) == 0 {
				args = []string{"rmi", "-f", args[1]}
			}
		case op < 9 && prune:
			args = []string{"image", "prune", "-f"}
			mayLose = false
		default:
			args = []string{"images", "-a"}
			mayLose = false
		}
		res := s.run(args...)
		switch {
		case res.Code == 0:
			if args[0] == "import" {
				mine = append(mine, strings.TrimSpace(res.Stdout))
			}
		case mayLose && res.Code == 1 && lostRace.MatchString(res.Stderr):
		default:
			t.Errorf("concurrent %s", res)
			return
		}
	}
}

// requireUsable checks every image of s: its layers are ones the test
// imported, it saves, and the saved archive of all names loads into a
// fresh store with the same names on the same images.
func requireUsable(t *testing.T, s *store, f *fixtures) {
	t.Helper()
	imgs := s.images()
	byTag := map[string]string{}
	for id, tags := range imgs {
		l := s.layers(id)
		if len(l) != 1 || !f.smallDiffIDs[l[0]] {
			t.Fatalf("image %s (tags %v) has layers %v, not one of the imported ones", id, tags, l)
		}
		s.saveDiscard(id)
		for _, tag := range tags {
			byTag[tag] = id
		}
	}
	t.Logf("%d images, %d tags left", len(imgs), len(byTag))
	if len(byTag) == 0 {
		return
	}
	tags := make([]string, 0, len(byTag))
	for tag := range byTag {
		tags = append(tags, tag)
	}
	slices.Sort(tags)
	archive := filepath.Join(t.TempDir(), "all.tar")
	s.must(append([]string{"save", "-o", archive}, tags...)...)
	fresh := newStore(t)
	fresh.must("load", "-i", archive)
	for id, got := range fresh.images() {
		for _, tag := range got {
			if byTag[tag] != id {
				t.Fatalf("saved %s as %s, loaded it as %s", tag, byTag[tag], id)
			}
			delete(byTag, tag)
		}
	}
	if len(byTag) > 0 {
		t.Fatalf("tags missing after save and load: %v", byTag)
	}
	fresh.requireClean("store loaded from the saved tags")
}

// TestConcurrentLoad loads one archive with 4 processes at once: all
// succeed and the store holds each image once, complete and clean.
func TestConcurrentLoad(t *testing.T) {
	f := getFixtures(t)
	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	for round := range rounds {
		s := newStore(t)
		var wg sync.WaitGroup
		results := make([]result, 4)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = s.run("load", "-i", f.archive)
			}()
		}
		wg.Wait()
		for _, res := range results {
			if res.Code != 0 {
				t.Fatalf("round %d: concurrent %s", round, res)
			}
		}
		imgs := s.images()
		if len(imgs) != len(f.want) {
			t.Fatalf("round %d: store lists %v, want the archive's %d images", round, imgs, len(f.want))
		}
		for id, w := range f.want {
			if !slices.Equal(imgs[id], w.tags) {
				t.Fatalf("round %d: image %s has tags %v, want %v", round, id, imgs[id], w.tags)
			}
		}
		s.requireClean(fmt.Sprintf("round %d", round))
		if left := s.ingests(); len(left) > 0 {
			t.Fatalf("round %d: finished loads left ingests: %v", round, left)
		}
		os.RemoveAll(s.root)
	}
}
