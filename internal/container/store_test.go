package container

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/snapshot"
)

// layerStub is a Snapshotter holding only container layers' sizes: what
// Prune and Remove need.
type layerStub struct {
	mu    sync.Mutex
	sizes map[string]int64
}

func (s *layerStub) Stat(context.Context, string) (snapshot.Info, error) { return snapshot.Info{}, nil }
func (s *layerStub) Prepare(context.Context, string, string) ([]snapshot.Mount, error) {
	return nil, nil
}
func (s *layerStub) View(context.Context, string, string) ([]snapshot.Mount, error) { return nil, nil }
func (s *layerStub) Mounts(context.Context, string) ([]snapshot.Mount, error)       { return nil, nil }
func (s *layerStub) Commit(context.Context, string, string) error                   { return nil }
func (s *layerStub) Walk(context.Context, func(snapshot.Info) error) error          { return nil }

func (s *layerStub) Remove(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sizes[key]; !ok {
		return errdefs.Newf(errdefs.ErrNotFound, "snapshot %s", key)
	}
	delete(s.sizes, key)
	return nil
}

func (s *layerStub) Usage(_ context.Context, key string) (snapshot.Usage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.sizes[key]
	if !ok {
		return snapshot.Usage{}, errdefs.Newf(errdefs.ErrNotFound, "snapshot %s", key)
	}
	return snapshot.Usage{Size: n, Inodes: 1}, nil
}

// storeFixture is a Manager on a real database in a temporary directory,
// without runtime or network.
type storeFixture struct {
	t      *testing.T
	m      *Manager
	layers *layerStub
	image  digest.Digest
}

func newStoreFixture(t *testing.T) *storeFixture {
	dir := t.TempDir()
	db, err := metadata.Open(filepath.Join(dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	img := metadata.Image{ID: digest.FromString("config"), ManifestDigest: digest.FromString("manifest"),
		ManifestMediaType: "m", Created: time.Unix(1000, 0).UTC(), Added: time.Now(), Size: 10,
		Blobs: []metadata.Blob{{Kind: metadata.KindConfig, Digest: digest.FromString("config"), Size: 1}}}
	if _, err := db.PutImage(context.Background(), img, nil, nil); err != nil {
		t.Fatal(err)
	}
	layers := &layerStub{sizes: map[string]int64{}}
	m := &Manager{Meta: db, Snapshotter: layers, Dir: filepath.Join(dir, "containers"), StrataRoot: dir}
	return &storeFixture{t: t, m: m, layers: layers, image: img.ID}
}

// add records a container; a running one gets this test process as its
// live monitor, so reconciling leaves it running.
func (f *storeFixture) add(name, state string, created time.Time, size int64, cfg Config) metadata.Container {
	f.t.Helper()
	id := digest.FromString(name).Encoded()
	cfg.Snapshot = "container-" + id
	raw, _ := json.Marshal(cfg)
	c := metadata.Container{ID: id, Name: name, ImageID: f.image, ImageRef: "img", Created: created, Config: raw, State: state}
	if running(state) {
		c.MonitorPid, c.MonitorStart = os.Getpid(), processStart(os.Getpid())
	}
	if err := f.m.Meta.CreateContainer(context.Background(), c); err != nil {
		f.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(f.m.Dir, id), 0o700); err != nil {
		f.t.Fatal(err)
	}
	f.layers.sizes[cfg.Snapshot] = size
	return c
}

func TestPruneRemovesStoppedOnly(t *testing.T) {
	f := newStoreFixture(t)
	ctx := context.Background()
	now := time.Now().UTC()
	run := f.add("run", metadata.StateRunning, now.Add(-time.Hour), 1000, Config{})
	paused := f.add("paused", metadata.StatePaused, now.Add(-time.Hour), 1000, Config{})
	exited := f.add("exited", metadata.StateExited, now.Add(-3*time.Hour), 300, Config{})
	created := f.add("created", metadata.StateCreated, now.Add(-2*time.Hour), 20, Config{Labels: map[string]string{"keep": "1"}})
	dead := f.add("dead", metadata.StateDead, now.Add(-time.Minute), 5, Config{})

	filter, err := ParsePruneFilter([]string{"label!=keep"}, now)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.m.Prune(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	// Newest first, as listed; their layers' sizes measured before removal.
	if want := []string{dead.ID, exited.ID}; len(rep.Deleted) != 2 || rep.Deleted[0] != want[0] || rep.Deleted[1] != want[1] {
		t.Fatalf("deleted %q, want %q", rep.Deleted, want)
	}
	if rep.Reclaimed != 305 {
		t.Fatalf("reclaimed %d, want 305", rep.Reclaimed)
	}
	for _, c := range []metadata.Container{dead, exited} {
		if _, err := f.m.Meta.GetContainer(ctx, c.ID); !errdefs.IsNotFound(err) {
			t.Fatalf("%s still recorded: %v", c.Name, err)
		}
		if _, err := os.Stat(filepath.Join(f.m.Dir, c.ID)); !os.IsNotExist(err) {
			t.Fatalf("%s directory left: %v", c.Name, err)
		}
	}
	for _, c := range []metadata.Container{run, paused, created} {
		if _, err := f.m.Meta.GetContainer(ctx, c.ID); err != nil {
			t.Fatalf("%s removed: %v", c.Name, err)
		}
	}

	rep, err = f.m.Prune(ctx, PruneFilter{})
	if err != nil || len(rep.Deleted) != 1 || rep.Deleted[0] != created.ID || rep.Reclaimed != 20 {
		t.Fatalf("second prune: %+v %v", rep, err)
	}
}

func TestUpdateStoredContainer(t *testing.T) {
	f := newStoreFixture(t)
	ctx := context.Background()
	c := f.add("web", metadata.StateExited, time.Now(), 0, Config{Memory: 64 << 20, Restart: RestartPolicy{Name: "no"}})

	got, err := f.m.Update(ctx, "web", UpdateOptions{Memory: valuePtr(int64(128 << 20)), CPUs: valuePtr(0.5),
		Restart: &RestartPolicy{Name: "always"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigOf(got)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Memory != 128<<20 || cfg.CPUs != 0.5 || cfg.Restart.Name != "always" || cfg.Snapshot != "container-"+c.ID {
		t.Fatalf("stored config %+v", cfg)
	}
	// The monitor reads the policy from the record, so it sees the update.
	if p := f.m.restartPolicy(ctx, c.ID, RestartPolicy{Name: "no"}); p.Name != "always" {
		t.Fatalf("restart policy %+v", p)
	}
	if p := f.m.restartPolicy(ctx, "missing", RestartPolicy{Name: "on-failure"}); p.Name != "on-failure" {
		t.Fatalf("fallback policy %+v", p)
	}

	// A refused update changes nothing.
	rm := f.add("rm", metadata.StateCreated, time.Now(), 0, Config{AutoRemove: true, Memory: 32 << 20})
	if _, err := f.m.Update(ctx, "rm", UpdateOptions{Memory: valuePtr(int64(64 << 20)), Restart: &RestartPolicy{Name: "always"}}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("restart policy on --rm: %v", err)
	}
	now, _ := f.m.Meta.GetContainer(ctx, rm.ID)
	if cfg, _ := ConfigOf(now); cfg.Memory != 32<<20 {
		t.Fatalf("refused update stored memory %d", cfg.Memory)
	}
	if _, err := f.m.Update(ctx, "nope", UpdateOptions{CPUs: valuePtr(1.0)}); !errdefs.IsNotFound(err) {
		t.Fatalf("missing container: %v", err)
	}
}
