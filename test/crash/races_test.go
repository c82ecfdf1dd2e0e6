package crash

import (
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// TestPruneRacesPrune runs several `image prune -f` at once on a store of
// dangling images: each lists the same images and deletes them; one that
// finds an image already gone must carry on, not fail.
func TestPruneRacesPrune(t *testing.T) {
	f := getFixtures(t)
	s := newStore(t)
	for i := range 16 {
		s.must("import", f.small[i%len(f.small)])
	}
	var wg sync.WaitGroup
	results := make([]result, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.run("image", "prune", "-f")
		}()
	}
	wg.Wait()
	for _, res := range results {
		if res.Code != 0 {
			t.Errorf("concurrent %s", res)
		}
	}
	if imgs := s.images(); len(imgs) > 0 {
		t.Errorf("dangling images left after prune: %v", imgs)
	}
	s.requireClean("after concurrent prunes")
}

// TestImportRacesIngestCleanup imports while another process cleans
// abandoned ingests (`image prune -f` does): a live import's fresh ingest
// must never be taken for an abandoned one.
func TestImportRacesIngestCleanup(t *testing.T) {
	f := getFixtures(t)
	s := newStore(t)
	s.must("images") // an existing store: TestFreshStoreConcurrentOpen covers a new one
	imports := 30
	if testing.Short() {
		imports = 16
	}
	var done atomic.Bool
	var cleaner sync.WaitGroup
	cleaner.Add(1)
	go func() {
		defer cleaner.Done()
		for !done.Load() {
			// Only the ingest cleanup of prune: the store has no dangling
			// image for it to race on.
			if res := s.run("image", "prune", "-f", "--filter", "label=none=none"); res.Code != 0 {
				t.Errorf("cleaner %s", res)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range imports / 2 {
				if res := s.run("import", f.small[(w+i)%len(f.small)], "crash/race:latest"); res.Code != 0 {
					t.Errorf("import next to ingest cleanup: %s", res)
				}
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	cleaner.Wait()
	s.repair("after the imports")
}

// TestCheckRacesRemoval runs `system check` while other processes import
// and remove images. Blobs that an rmi deletes after check listed them are
// not corrupt, and images deleted meanwhile are not broken: check may see
// the transient unreferenced blobs of an rmi in progress, nothing else.
func TestCheckRacesRemoval(t *testing.T) {
	f := getFixtures(t)
	s := newStore(t)
	s.must("images") // an existing store: TestFreshStoreConcurrentOpen covers a new one
	rounds := 30
	if testing.Short() {
		rounds = 15
	}
	var done atomic.Bool
	var checker sync.WaitGroup
	checker.Add(1)
	go func() {
		defer checker.Done()
		for !done.Load() {
			rep := s.check()
			for kind := range rep.kinds() {
				if kind != "unreferenced-blob" || rep.res.Code > 1 {
					t.Errorf("check next to rmi: %s", rep.res)
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := []string{"crash/check:a", "crash/check:b"}[w]
			for i := range rounds {
				for _, args := range [][]string{{"import", f.small[(w+i)%len(f.small)], tag}, {"rmi", tag}} {
					if res := s.run(args...); res.Code != 0 {
						t.Errorf("%s", res)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	checker.Wait()
	s.requireClean("after the imports and removals")
}

// TestFreshStoreConcurrentOpen starts several commands at once on a store
// that does not exist yet: they all create and open metadata.db together,
// and none may fail because another holds the database.
func TestFreshStoreConcurrentOpen(t *testing.T) {
	f := getFixtures(t)
	rounds := 60
	if testing.Short() {
		rounds = 20
	}
	// No prune or check --repair: their ingest cleanup has a bug of its own.
	cmds := [][]string{
		{"import", f.small[0], "crash/fresh:latest"}, {"import", f.small[1]},
		{"images"}, {"system", "df"}, {"info"},
	}
	for round := range rounds {
		s := newStore(t)
		var wg sync.WaitGroup
		results := make([]result, len(cmds))
		for i, args := range cmds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = s.run(args...)
			}()
		}
		wg.Wait()
		for _, res := range results {
			if res.Code != 0 {
				t.Fatalf("round %d: %s", round, res)
			}
		}
		os.RemoveAll(s.root)
	}
}
