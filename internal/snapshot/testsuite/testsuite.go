package testsuite

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	_ "modernc.org/sqlite" // the driver strata uses

	"github.com/strata-dev/strata/internal/snapshot"
)

// NewFunc opens a driver rooted at root with its metadata in db.
type NewFunc func(root string, db *sql.DB) (snapshot.Snapshotter, error)

// Run runs the whole suite against the driver newFn opens.
func Run(t *testing.T, newFn NewFunc) {
	if os.Geteuid() != 0 {
		t.Skip("the snapshot suite mounts filesystems: it needs root")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, *fixture)
	}{
		{"Chain", testChain},
		{"CopyUp", testCopyUp},
		{"Delete", testDelete},
		{"View", testView},
		{"Remove", testRemove},
		{"Walk", testWalk},
		{"Errors", testErrors},
		{"Usage", testUsage},
		{"OddNames", testOddNames},
		{"DeepChain", testDeepChain},
		{"Concurrent", testConcurrent},
		{"Crash", testCrash},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newFixture(t, newFn))
		})
	}
}

// OpenDB opens (creating) a metadata database the way strata does.
func OpenDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	q := url.Values{}
	for _, p := range []string{"busy_timeout(30000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// fixture is one driver root and database, and the first instance on them.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	newFn  NewFunc
	root   string
	dbPath string
	sn     snapshot.Snapshotter
}

func newFixture(t *testing.T, newFn NewFunc) *fixture {
	return newFixtureAt(t, newFn, t.TempDir())
}

func newFixtureAt(t *testing.T, newFn NewFunc, root string) *fixture {
	f := &fixture{t: t, ctx: t.Context(), newFn: newFn, root: root,
		dbPath: filepath.Join(t.TempDir(), "metadata.db")}
	f.sn = f.open()
	return f
}

// open opens another instance on the same root and database file, with its
// own connection pool, as another process would.
func (f *fixture) open() snapshot.Snapshotter {
	f.t.Helper()
	sn, err := f.newFn(f.root, OpenDB(f.t, f.dbPath))
	if err != nil {
		f.t.Fatalf("open snapshotter: %v", err)
	}
	return sn
}

// mount mounts mounts on a new directory, unmounted when the test ends or
// when the returned func is called.
func (f *fixture) mount(mounts []snapshot.Mount) (string, func()) {
	f.t.Helper()
	target := f.t.TempDir()
	if err := snapshot.MountAll(mounts, target); err != nil {
		f.t.Fatalf("mount %+v: %v", mounts, err)
	}
	done := false
	unmount := func() {
		if !done {
			done = true
			if err := snapshot.Unmount(target); err != nil {
				f.t.Errorf("unmount: %v", err)
			}
		}
	}
	f.t.Cleanup(unmount)
	return target, unmount
}

// layer creates the committed snapshot name on parent holding files (path ->
// content; a path ending in "/" is a directory), written through a mount.
func (f *fixture) layer(name, parent string, files map[string]string) {
	f.t.Helper()
	key := "prep-" + name
	mounts, err := f.sn.Prepare(f.ctx, key, parent)
	if err != nil {
		f.t.Fatalf("prepare %q on %q: %v", key, parent, err)
	}
	dir, unmount := f.mount(mounts)
	writeFiles(f.t, dir, files)
	unmount()
	if err := f.sn.Commit(f.ctx, name, key); err != nil {
		f.t.Fatalf("commit %q as %q: %v", key, name, err)
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if p[len(p)-1] == '/' {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// wantFile checks the content of a file under dir.
func wantFile(t *testing.T, dir, p, want string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, p))
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	if string(b) != want {
		t.Fatalf("%s holds %q, want %q", p, b, want)
	}
}

// wantMissing checks that p does not exist under dir.
func wantMissing(t *testing.T, dir, p string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(dir, p)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s: want it gone, lstat says %v", p, err)
	}
}

func upperDir(t *testing.T, mounts []snapshot.Mount) string {
	t.Helper()
	dir, ok := snapshot.UpperDir(mounts)
	if !ok {
		t.Fatalf("no upper dir in %+v", mounts)
	}
	return dir
}

// layered reports whether an active snapshot's mounts stack its own layer on
// its parents' (so its own directory holds only its changes) instead of
// holding a copy of them.
func layered(mounts []snapshot.Mount) bool {
	return len(mounts) > 0 && mounts[len(mounts)-1].Type == "overlay"
}

// diskUsage is du: allocated bytes and number of the distinct inodes
// under dir.
func diskUsage(t *testing.T, dir string) (size, inodes int64) {
	t.Helper()
	seen := map[uint64]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if !seen[st.Ino] {
			seen[st.Ino] = true
			size += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return size, int64(len(seen))
}
