package storage

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/snapshot"
)

// openPlain opens the database with a busy timeout but default (deferred)
// transactions: the store must not depend on the DSN's _txlock.
func openPlain(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mkfs(dir string, _ []int64) error { return os.Mkdir(filepath.Join(dir, "fs"), 0o755) }

func newStore(t *testing.T, root, dbPath, driver string) *Store {
	t.Helper()
	s, err := New(t.Context(), root, driver, openPlain(t, dbPath))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDriverName(t *testing.T) {
	db := openPlain(t, filepath.Join(t.TempDir(), "db"))
	for _, name := range []string{"", "x; DROP TABLE y", "Overlay", "a-b"} {
		if _, err := New(t.Context(), t.TempDir(), name, db); !errdefs.IsInvalidArgument(err) {
			t.Errorf("driver name %q: %v", name, err)
		}
	}
	if _, err := New(t.Context(), t.TempDir(), "vfs", nil); !errdefs.IsInvalidArgument(err) {
		t.Errorf("nil db: %v", err)
	}
}

func TestChainAndTables(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "db")
	a := newStore(t, t.TempDir(), dbPath, "one")
	b := newStore(t, t.TempDir(), dbPath, "two")
	ctx := t.Context()
	parent := ""
	var ids []int64
	for i := range 4 {
		key, name := fmt.Sprint("k", i), fmt.Sprint("n", i)
		snap, err := a.Create(ctx, snapshot.KindActive, key, parent, mkfs)
		if err != nil {
			t.Fatal(err)
		}
		if want := reverse(ids); !reflect.DeepEqual(snap.Parents, want) {
			t.Fatalf("Create parents %v, want %v", snap.Parents, want)
		}
		if err := a.Commit(ctx, name, key); err != nil {
			t.Fatal(err)
		}
		got, err := a.Get(ctx, name)
		if err != nil || got.ID != snap.ID || got.Info.Parent != parent || !reflect.DeepEqual(got.Parents, snap.Parents) {
			t.Fatalf("Get(%s) = %+v, %v; created %+v", name, got, err, snap)
		}
		if _, err := os.Stat(filepath.Join(a.Path(snap.ID), "fs")); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, snap.ID)
		parent = name
	}
	if _, err := b.Stat(ctx, "n0"); !errdefs.IsNotFound(err) {
		t.Fatalf("drivers share a table: %v", err)
	}
	if _, err := b.Create(ctx, snapshot.KindActive, "n0", "", mkfs); err != nil {
		t.Fatalf("same name in another driver's table: %v", err)
	}
}

func reverse(ids []int64) []int64 {
	var out []int64
	for i := len(ids) - 1; i >= 0; i-- {
		out = append(out, ids[i])
	}
	return out
}

func TestPopulateFailureLeavesNothing(t *testing.T) {
	root := t.TempDir()
	s := newStore(t, root, filepath.Join(t.TempDir(), "db"), "x")
	boom := errors.New("boom")
	_, err := s.Create(t.Context(), snapshot.KindActive, "k", "", func(dir string, _ []int64) error {
		if err := mkfs(dir, nil); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Create: %v", err)
	}
	if _, err := s.Stat(t.Context(), "k"); !errdefs.IsNotFound(err) {
		t.Fatalf("row left: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "snapshots")); len(entries) != 0 {
		t.Fatalf("directories left: %v", entries)
	}
}

func TestCanceledCreate(t *testing.T) {
	root := t.TempDir()
	s := newStore(t, root, filepath.Join(t.TempDir(), "db"), "x")
	ctx, cancel := context.WithCancel(t.Context())
	_, err := s.Create(ctx, snapshot.KindActive, "k", "", func(dir string, p []int64) error {
		cancel()
		return mkfs(dir, p)
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Create with a context canceled midway: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "snapshots")); len(entries) != 0 {
		t.Fatalf("directories left: %v", entries)
	}
	// The connection went back to the pool outside any transaction.
	if _, err := s.Create(t.Context(), snapshot.KindActive, "k", "", mkfs); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentPlainDB hammers one table from several pools opened without
// _txlock=immediate: every write must still succeed, none may be lost.
func TestConcurrentPlainDB(t *testing.T) {
	root, dbPath := t.TempDir(), filepath.Join(t.TempDir(), "db")
	base := newStore(t, root, dbPath, "x")
	if _, err := base.Create(t.Context(), snapshot.KindActive, "b", "", mkfs); err != nil {
		t.Fatal(err)
	}
	if err := base.Commit(t.Context(), "base", "b"); err != nil {
		t.Fatal(err)
	}
	const workers, each = 4, 10
	var wg sync.WaitGroup
	for w := range workers {
		s := newStore(t, root, dbPath, "x")
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("%d-%d", w, i)
				if _, err := s.Create(t.Context(), snapshot.KindActive, key, "base", mkfs); err != nil {
					t.Error(err)
					return
				}
				if err := s.Commit(t.Context(), "c"+key, key); err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 {
					if err := s.Remove(t.Context(), "c"+key); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	n := 0
	if err := base.Walk(t.Context(), func(snapshot.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if want := 1 + workers*each/2; n != want {
		t.Fatalf("%d snapshots, want %d", n, want)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "snapshots")); len(entries) != n {
		t.Fatalf("%d directories for %d snapshots", len(entries), n)
	}
}

// TestKilledCreate kills a real process in the middle of a Create: while it
// lives, Cleanup must leave its directory alone; once it is dead, Cleanup
// removes it.
func TestKilledCreate(t *testing.T) {
	if root := os.Getenv("STRATA_STORAGE_CHILD_ROOT"); root != "" {
		childCreate(t, root, os.Getenv("STRATA_STORAGE_CHILD_DB"))
		return
	}
	root, dbPath := t.TempDir(), filepath.Join(t.TempDir(), "db")
	s := newStore(t, root, dbPath, "x")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledCreate$")
	cmd.Env = append(os.Environ(), "STRATA_STORAGE_CHILD_ROOT="+root, "STRATA_STORAGE_CHILD_DB="+dbPath)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.HasPrefix(line, "populating") {
		t.Fatalf("child: %q, %v", line, err)
	}
	temps := func() []string {
		m, _ := filepath.Glob(filepath.Join(root, "snapshots", TempPrefix+"*"))
		return m
	}
	if err := s.Cleanup(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(temps()) != 1 {
		t.Fatalf("cleanup took the directory of a live process: %v", temps())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if err := s.Cleanup(t.Context()); err != nil {
		t.Fatal(err)
	}
	if left := temps(); len(left) != 0 {
		t.Fatalf("cleanup left a dead process's directory: %v", left)
	}
	if _, err := s.Stat(t.Context(), "k"); !errdefs.IsNotFound(err) {
		t.Fatalf("the killed create left a row: %v", err)
	}
	if _, err := s.Create(t.Context(), snapshot.KindActive, "k", "", mkfs); err != nil {
		t.Fatalf("retry after the kill: %v", err)
	}
}

func childCreate(t *testing.T, root, dbPath string) {
	s := newStore(t, root, dbPath, "x")
	_, _ = s.Create(context.Background(), snapshot.KindActive, "k", "", func(dir string, p []int64) error {
		if err := mkfs(dir, p); err != nil {
			return err
		}
		fmt.Println("populating")
		time.Sleep(time.Hour) // until killed
		return nil
	})
}
