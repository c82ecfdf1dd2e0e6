package unpack

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/snapshot/overlay"
	"github.com/strata-dev/strata/internal/snapshot/testsuite"
	"github.com/strata-dev/strata/internal/snapshot/vfs"
)

// fixture is a content store and a snapshotter root and database.
type fixture struct {
	t       *testing.T
	driver  string
	store   *content.Store
	root    string
	dbPath  string
	lockDir string
}

func newFixture(t *testing.T, driver string) *fixture {
	if os.Geteuid() != 0 {
		t.Skip("unpacking sets owners and mounts snapshots: needs root")
	}
	if driver == "overlay" {
		if err := overlay.Supported(t.TempDir()); err != nil {
			t.Skipf("overlayfs: %v", err)
		}
	}
	store, err := content.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, driver: driver, store: store, root: t.TempDir(),
		dbPath: filepath.Join(t.TempDir(), "metadata.db"), lockDir: filepath.Join(t.TempDir(), "locks")}
}

// snapshotter opens another instance on the fixture's root and database,
// as another process would.
func (f *fixture) snapshotter() snapshot.Snapshotter {
	db := testsuite.OpenDB(f.t, f.dbPath)
	var sn snapshot.Snapshotter
	var err error
	if f.driver == "overlay" {
		sn, err = overlay.New(f.root, db)
	} else {
		sn, err = vfs.New(f.root, db)
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return sn
}

func (f *fixture) unpacker(sn snapshot.Snapshotter) *Unpacker {
	return &Unpacker{Content: f.store, Snapshotter: sn, Driver: f.driver, LockDir: f.lockDir}
}

type entry struct {
	name, body string
	typ        byte
}

// layer stores a gzip layer of entries and returns it.
func (f *fixture) layer(ents ...entry) Layer {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ == tar.TypeDir {
			h.Mode, h.Size = 0o755, 0
		}
		if e.typ == tar.TypeSymlink {
			h.Linkname, h.Size = e.body, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			f.t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				f.t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		f.t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	info, err := f.store.Ingest(bytes.NewReader(gz.Bytes()), int64(gz.Len()), "")
	if err != nil {
		f.t.Fatal(err)
	}
	return Layer{Blob: info.Digest, DiffID: digest.FromBytes(raw.Bytes())}
}

func reg(name, body string) entry { return entry{name: name, body: body, typ: tar.TypeReg} }
func dir(name string) entry       { return entry{name: name, typ: tar.TypeDir} }
func link(name, to string) entry  { return entry{name: name, body: to, typ: tar.TypeSymlink} }

// baseLayers are three layers: a base, a change, and one with whiteouts.
func (f *fixture) baseLayers() []Layer {
	return []Layer{
		f.layer(dir("etc/"), reg("etc/passwd", "root\n"), reg("etc/group", "g\n"), dir("usr/"), dir("usr/lib/"),
			reg("usr/lib/a", "a"), reg("usr/lib/b", "b"), dir("bin/"), reg("bin/sh", "sh"), link("lib", "usr/lib"),
			reg(".wh.nothing", "")), // a whiteout with nothing below

		f.layer(dir("etc/"), reg("etc/passwd", "root\nuser\n"), reg("etc/hosts", "localhost\n"), reg("usr/lib/c", "c")),
		f.layer(dir("etc/"), reg("etc/.wh.group", ""), reg(".wh.bin", ""), dir("usr/lib/"), reg("usr/lib/.wh..wh..opq", ""),
			reg("usr/lib/new", "new")),
	}
}

// tree mounts a view of the committed snapshot top and returns path ->
// content ("dir", "-> target" for symlinks).
func (f *fixture) tree(sn snapshot.Snapshotter, top string) map[string]string {
	key := "view-" + strings.ReplaceAll(f.t.Name(), "/", "-") + top[len(top)-6:]
	mounts, err := sn.View(f.t.Context(), key, top)
	if err != nil {
		f.t.Fatal(err)
	}
	defer sn.Remove(context.Background(), key)
	target := f.t.TempDir()
	if err := snapshot.MountAll(mounts, target); err != nil {
		f.t.Fatal(err)
	}
	defer snapshot.Unmount(target)
	out := map[string]string{}
	err = filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == target {
			return err
		}
		rel, _ := filepath.Rel(target, p)
		switch {
		case d.IsDir():
			out[rel] = "dir"
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "-> " + l
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// snapshots lists the snapshots: name -> kind.
func (f *fixture) snapshots(sn snapshot.Snapshotter) map[string]snapshot.Kind {
	out := map[string]snapshot.Kind{}
	err := sn.Walk(f.t.Context(), func(i snapshot.Info) error {
		out[i.Name] = i.Kind
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func chainIDs(layers []Layer) []string {
	var d []digest.Digest
	for _, l := range layers {
		d = append(d, l.DiffID)
	}
	var out []string
	for _, c := range image.ChainIDs(d) {
		out = append(out, string(c))
	}
	return out
}

func committed(names ...string) map[string]snapshot.Kind {
	out := map[string]snapshot.Kind{}
	for _, n := range names {
		out[n] = snapshot.KindCommitted
	}
	return out
}

var drivers = []string{"overlay", "vfs"}

func TestUnpack(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			f := newFixture(t, driver)
			sn := f.snapshotter()
			u := f.unpacker(sn)
			layers := f.baseLayers()
			chain := chainIDs(layers)
			top, err := u.Unpack(t.Context(), layers)
			if err != nil {
				t.Fatal(err)
			}
			if top != chain[2] {
				t.Fatalf("top %s, want %s", top, chain[2])
			}
			want := map[string]string{
				"etc": "dir", "etc/passwd": "root\nuser\n", "etc/hosts": "localhost\n",
				"usr": "dir", "usr/lib": "dir", "usr/lib/new": "new", "lib": "-> usr/lib",
			}
			if got := f.tree(sn, top); !mapsEqual(got, want) {
				t.Fatalf("tree:\n got  %v\n want %v", got, want)
			}
			// The base layer alone (a bind mount for overlay) has no
			// trace of its whiteout.
			if got := f.tree(sn, chain[0]); got["nothing"] != "" || got["bin/sh"] != "sh" || len(got) != 10 {
				t.Fatalf("layer 1 tree: %v", got)
			}
			// The middle layer still shows its own state.
			if got := f.tree(sn, chain[1]); got["usr/lib/c"] != "c" || got["bin/sh"] != "sh" || got["etc/group"] != "g\n" {
				t.Fatalf("layer 2 tree: %v", got)
			}
			if got := f.snapshots(sn); !mapsEqual(got, committed(chain...)) {
				t.Fatalf("snapshots %v", got)
			}
			// Again: nothing to do, even without the blobs.
			for _, l := range layers {
				if err := f.store.Delete(l.Blob); err != nil {
					t.Fatal(err)
				}
			}
			if top2, err := u.Unpack(t.Context(), layers); err != nil || top2 != top {
				t.Fatalf("second unpack: %s, %v", top2, err)
			}
			if empty, err := u.Unpack(t.Context(), nil); err != nil || empty != "" {
				t.Fatalf("no layers: %q, %v", empty, err)
			}
		})
	}
}

func TestUnpackSharesBase(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			f := newFixture(t, driver)
			sn := f.snapshotter()
			u := f.unpacker(sn)
			layers := f.baseLayers()
			if _, err := u.Unpack(t.Context(), layers); err != nil {
				t.Fatal(err)
			}
			before := map[string]snapshot.Info{}
			for _, c := range chainIDs(layers) {
				info, err := sn.Stat(t.Context(), c)
				if err != nil {
					t.Fatal(err)
				}
				before[c] = info
			}
			// A second image on the first two layers: only its third is
			// extracted (the shared blobs are gone, so extracting them
			// again would fail).
			other := append(slices.Clone(layers[:2]), f.layer(reg("etc/motd", "hi")))
			for _, l := range layers[:2] {
				if err := f.store.Delete(l.Blob); err != nil {
					t.Fatal(err)
				}
			}
			top, err := u.Unpack(t.Context(), other)
			if err != nil {
				t.Fatal(err)
			}
			all := append(chainIDs(layers), chainIDs(other)[2])
			if got := f.snapshots(sn); !mapsEqual(got, committed(all...)) {
				t.Fatalf("snapshots %v, want %v", got, all)
			}
			for c, info := range before {
				if now, _ := sn.Stat(t.Context(), c); now != info {
					t.Errorf("snapshot %s changed: %+v -> %+v", c, info, now)
				}
			}
			if got := f.tree(sn, top); got["etc/motd"] != "hi" || got["bin/sh"] != "sh" || got["usr/lib/c"] != "c" {
				t.Fatalf("tree: %v", got)
			}
		})
	}
}

func TestUnpackDiffIDMismatch(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			f := newFixture(t, driver)
			sn := f.snapshotter()
			u := f.unpacker(sn)
			layers := f.baseLayers()
			bad := slices.Clone(layers)
			bad[2].DiffID = digest.FromString("something else")
			_, err := u.Unpack(t.Context(), bad)
			if !errors.Is(err, errdefs.ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
			chain := chainIDs(layers)
			if got := f.snapshots(sn); !mapsEqual(got, committed(chain[:2]...)) {
				t.Fatalf("snapshots %v: want only the two good layers", got)
			}
			if ents, _ := os.ReadDir(f.lockDir); len(ents) != 0 {
				t.Fatalf("lock files left: %v", ents)
			}
			// A missing blob fails before anything is prepared.
			missing := slices.Clone(layers)
			missing[2].Blob = digest.FromString("absent")
			if _, err := u.Unpack(t.Context(), missing); !errors.Is(err, errdefs.ErrNotFound) {
				t.Fatalf("missing blob: %v", err)
			}
		})
	}
}

func TestUnpackConcurrent(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			f := newFixture(t, driver)
			layers := f.baseLayers()
			const n = 4
			tops := make([]string, n)
			errs := make([]error, n)
			sns := make([]snapshot.Snapshotter, n)
			for i := range n {
				sns[i] = f.snapshotter()
			}
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { tops[i], errs[i] = f.unpacker(sns[i]).Unpack(t.Context(), layers) })
			}
			wg.Wait()
			chain := chainIDs(layers)
			for i := range n {
				if errs[i] != nil || tops[i] != chain[2] {
					t.Fatalf("unpacker %d: %s, %v", i, tops[i], errs[i])
				}
			}
			if got := f.snapshots(sns[0]); !mapsEqual(got, committed(chain...)) {
				t.Fatalf("snapshots %v", got)
			}
			if got := f.tree(sns[0], chain[2]); got["usr/lib/new"] != "new" || len(got) != 7 {
				t.Fatalf("tree %v", got)
			}
		})
	}
}

func TestCleanup(t *testing.T) {
	f := newFixture(t, "vfs")
	sn := f.snapshotter()
	u := f.unpacker(sn)
	ctx := t.Context()
	// A live extraction: its lock is held.
	live, err := u.lock()
	if err != nil {
		t.Fatal(err)
	}
	defer live.release()
	if _, err := sn.Prepare(ctx, live.key, ""); err != nil {
		t.Fatal(err)
	}
	// A dead one: lock file left, unlocked.
	dead, err := u.lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare(ctx, dead.key, ""); err != nil {
		t.Fatal(err)
	}
	dead.f.Close() // the process died: the file stays, the flock goes
	// One whose lock directory was emptied (a reboot).
	if _, err := sn.Prepare(ctx, "extract-nolock", ""); err != nil {
		t.Fatal(err)
	}
	// A lock file without a snapshot, and a container's snapshot.
	orphan, err := u.lock()
	if err != nil {
		t.Fatal(err)
	}
	orphan.f.Close()
	if _, err := sn.Prepare(ctx, "container-1", ""); err != nil {
		t.Fatal(err)
	}

	if err := u.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]snapshot.Kind{live.key: snapshot.KindActive, "container-1": snapshot.KindActive}
	if got := f.snapshots(sn); !mapsEqual(got, want) {
		t.Fatalf("snapshots after cleanup %v, want %v", got, want)
	}
	ents, _ := os.ReadDir(f.lockDir)
	if len(ents) != 1 || ents[0].Name() != live.key+lockSuffix {
		t.Fatalf("lock files after cleanup: %v", ents)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
