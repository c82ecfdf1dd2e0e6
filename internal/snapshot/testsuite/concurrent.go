package testsuite

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/snapshot"
)

// testConcurrent runs Prepare/Commit from several instances at once, as
// several strata processes would, with races on one key and on one name,
// while yet another instance keeps running Cleanup.
func testConcurrent(t *testing.T, f *fixture) {
	const workers, rounds = 4, 3
	files := map[string]string{}
	for i := range 20 {
		files[fmt.Sprintf("d%d/f%d", i%4, i)] = strconv.Itoa(i)
	}
	f.layer("base", "", files)

	var prepared, committed atomic.Int32
	var wg sync.WaitGroup
	stop := make(chan struct{})
	cleaner, ok := f.open().(snapshot.Cleaner)
	if !ok {
		t.Fatal("the driver does not implement snapshot.Cleaner")
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := cleaner.Cleanup(f.ctx); err != nil {
				t.Errorf("cleanup during work: %v", err)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	var work sync.WaitGroup
	for w := range workers {
		sn := f.open()
		work.Go(func() {
			if _, err := sn.Prepare(f.ctx, "race", "base"); err == nil {
				prepared.Add(1)
			} else if !errdefs.IsAlreadyExists(err) {
				t.Errorf("racing prepare: %v", err)
			}
			mine := fmt.Sprintf("mine-%d", w)
			if _, err := sn.Prepare(f.ctx, mine, "base"); err != nil {
				t.Errorf("prepare %s: %v", mine, err)
			} else if err := sn.Commit(f.ctx, "winner", mine); err == nil {
				committed.Add(1)
			} else if !errdefs.IsAlreadyExists(err) {
				t.Errorf("racing commit: %v", err)
			}
			for r := range rounds {
				if err := chainOf2(f, sn, w, r); err != nil {
					t.Error(err)
				}
			}
		})
	}
	work.Wait()
	close(stop)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if prepared.Load() != 1 || committed.Load() != 1 {
		t.Fatalf("%d racing prepares and %d racing commits succeeded, want 1 each", prepared.Load(), committed.Load())
	}

	count := 0
	if err := f.sn.Walk(f.ctx, func(snapshot.Info) error { count++; return nil }); err != nil {
		t.Fatal(err)
	}
	// base, race, winner, the losing mine-*, and two per round.
	if want := 1 + 1 + 1 + (workers - 1) + workers*rounds*2; count != want {
		t.Fatalf("Walk found %d snapshots, want %d", count, want)
	}
	if dirs := snapshotDirs(t, f.root); len(dirs) != count {
		t.Fatalf("%d snapshots but %d directories: %v", count, len(dirs), dirs)
	}
	for w := range workers {
		for r := range rounds {
			mounts, err := f.sn.Mounts(f.ctx, fmt.Sprintf("top-%d-%d", w, r))
			if err != nil {
				t.Fatal(err)
			}
			dir, unmount := f.mount(mounts)
			wantFile(t, dir, "d1/f1", "1")
			wantFile(t, dir, "own", fmt.Sprintf("%d-%d", w, r))
			unmount()
		}
	}
}

// chainOf2 commits a layer on base and prepares a snapshot on that.
func chainOf2(f *fixture, sn snapshot.Snapshotter, w, r int) error {
	key, name := fmt.Sprintf("w-%d-%d", w, r), fmt.Sprintf("sha256:c-%d-%d", w, r)
	mounts, err := sn.Prepare(f.ctx, key, "base")
	if err != nil {
		return fmt.Errorf("prepare %s: %w", key, err)
	}
	dir, ok := snapshot.UpperDir(mounts)
	if !ok {
		return errors.New("no upper dir")
	}
	writeFiles(f.t, dir, map[string]string{"own": fmt.Sprintf("%d-%d", w, r)})
	if err := sn.Commit(f.ctx, name, key); err != nil {
		return fmt.Errorf("commit %s: %w", key, err)
	}
	if _, err := sn.Prepare(f.ctx, fmt.Sprintf("top-%d-%d", w, r), name); err != nil {
		return fmt.Errorf("prepare on %s: %w", name, err)
	}
	return nil
}
