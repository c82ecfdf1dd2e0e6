package imagestore

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/reference"
)

func newStore(t *testing.T, root string) *Store {
	t.Helper()
	cs, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := metadata.Open(filepath.Join(root, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := New(cs, db, filepath.Join(root, "locks"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rootfs(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	return buf.Bytes()
}

func ref(t *testing.T, s string) reference.Reference {
	t.Helper()
	r, err := reference.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func importImage(t *testing.T, s *Store, files map[string]string, tags ...string) metadata.Image {
	t.Helper()
	opts := ImportOptions{Source: "-", Platform: image.HostPlatform(), Changes: []string{`CMD ["/bin/sh"]`}}
	for _, tg := range tags {
		opts.Tags = append(opts.Tags, ref(t, tg))
	}
	img, err := s.Import(context.Background(), bytes.NewReader(rootfs(t, files)), opts)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestImportRecordsImage(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, t.TempDir())
	tarball := rootfs(t, map[string]string{"etc/hostname": "x\n"})
	img := importImage(t, s, map[string]string{"etc/hostname": "x\n"}, "busybox:latest")
	got, err := s.Resolve(ctx, "busybox")
	if err != nil || got.ID != img.ID {
		t.Fatalf("resolve by name: %v %v", got.ID, err)
	}
	layers := got.Layers()
	if len(layers) != 1 || layers[0].DiffID != digest.FromBytes(tarball) || layers[0].DiffSize != int64(len(tarball)) {
		t.Fatalf("layer record wrong: %+v (tar digest %s)", layers, digest.FromBytes(tarball))
	}
	raw, err := s.Content.ReadAll(img.ID, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := image.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.History[0].Comment != "Imported from -" || strings.Join(cfg.Config.Cmd, " ") != "/bin/sh" {
		t.Fatalf("config: %+v", cfg)
	}
	for _, name := range []string{img.ID.String(), img.ID.Encoded(), img.ID.Encoded()[:12], "docker.io/library/busybox:latest"} {
		if id, err := s.ResolveID(ctx, name); err != nil || id != img.ID {
			t.Errorf("ResolveID(%q) = %v, %v", name, id, err)
		}
	}
	if _, err := s.ResolveID(ctx, "nothere"); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such image: nothere:latest") {
		t.Fatalf("missing image error: %v", err)
	}
}

func TestRemoveFollowsDockerRules(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, t.TempDir())
	img := importImage(t, s, map[string]string{"a": "1"}, "one:latest", "one:v2", "two:latest")
	// By ID with names in two repositories: needs force.
	if _, err := s.Remove(ctx, img.ID.Encoded()[:12], false, false); !errdefs.IsConflict(err) ||
		!strings.Contains(err.Error(), "image is referenced in multiple repositories") {
		t.Fatalf("want conflict, got %v", err)
	}
	// By name: only untags while other names remain.
	res, err := s.Remove(ctx, "one:v2", false, false)
	if err != nil || len(res.Events) != 1 || res.Events[0].Untagged != "one:v2" {
		t.Fatalf("untag: %+v %v", res, err)
	}
	res, err = s.Remove(ctx, img.ID.Encoded(), true, false)
	if err != nil {
		t.Fatal(err)
	}
	var untagged []string
	var deleted int
	for _, ev := range res.Events {
		if ev.Untagged != "" {
			untagged = append(untagged, ev.Untagged)
		} else if ev.Deleted == img.ID.String() {
			deleted++
		}
	}
	if strings.Join(untagged, ",") != "one:latest,two:latest" || deleted != 1 || res.Reclaimed <= 0 {
		t.Fatalf("forced remove: %+v", res)
	}
	n := 0
	s.Content.Walk(func(content.Info) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d blobs left after the last image went", n)
	}
}

func TestSharedLayerSurvivesRemoval(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, t.TempDir())
	files := map[string]string{"bin/sh": "shell"}
	a := importImage(t, s, files, "a:1")
	// Same rootfs, other config (changes differ by time): shares the layer blob.
	b := importImage(t, s, files, "b:1")
	if a.ID == b.ID {
		t.Skip("identical configs; cannot test sharing")
	}
	if _, err := s.Remove(ctx, "a:1", false, false); err != nil {
		t.Fatal(err)
	}
	bi, err := s.Meta.Get(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Content.Info(bi.Layers()[0].Digest); err != nil {
		t.Fatalf("shared layer deleted: %v", err)
	}
	rep, err := s.Check(ctx, false)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check after removal: %+v %v", rep, err)
	}
}

func TestPruneDanglingAndAll(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, t.TempDir())
	old := importImage(t, s, map[string]string{"v": "1"}, "app:latest")
	importImage(t, s, map[string]string{"v": "2"}, "app:latest") // old becomes dangling
	f, err := s.ParseFilter(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Prune(ctx, false, f)
	if err != nil || len(res.Events) != 1 || res.Events[0].Deleted != old.ID.String() || res.Reclaimed == 0 {
		t.Fatalf("prune dangling: %+v %v", res, err)
	}
	res, err = s.Prune(ctx, true, f)
	if err != nil || len(res.Events) != 2 { // untag + delete
		t.Fatalf("prune -a: %+v %v", res, err)
	}
	if imgs, _ := s.Meta.List(ctx); len(imgs) != 0 {
		t.Fatalf("images left: %d", len(imgs))
	}
}

func TestCheckFindsAndRepairsCorruption(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, t.TempDir())
	img := importImage(t, s, map[string]string{"f": "data"}, "x:1")
	layer := img.Layers()[0].Digest
	p, _ := s.Content.BlobPath(layer)
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Check(ctx, false)
	if err != nil || len(rep.Problems) != 2 {
		t.Fatalf("want corrupt blob + bad image, got %+v %v", rep.Problems, err)
	}
	rep, err = s.Check(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range rep.Problems {
		if !pr.Repaired {
			t.Fatalf("not repaired: %v", pr)
		}
	}
	rep, err = s.Check(ctx, false)
	if err != nil || len(rep.Problems) != 0 || rep.Images != 0 {
		t.Fatalf("store not clean after repair: %+v %v", rep, err)
	}
}

func TestFilters(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, t.TempDir())
	a := importImage(t, s, map[string]string{"1": "1"}, "web:latest")
	b := importImage(t, s, map[string]string{"2": "2"}, "db:5")
	imgs, _ := s.Meta.List(ctx)
	match := func(args ...string) []digest.Digest {
		f, err := s.ParseFilter(ctx, args, "dangling", "before", "since", "label", "reference", "until")
		if err != nil {
			t.Fatal(err)
		}
		var out []digest.Digest
		for _, img := range imgs {
			if f.Match(img) {
				out = append(out, img.ID)
			}
		}
		return out
	}
	if got := match("reference=*:latest"); len(got) != 1 || got[0] != a.ID {
		t.Errorf("reference: %v", got)
	}
	if got := match("since=web"); len(got) != 1 || got[0] != b.ID {
		t.Errorf("since: %v", got)
	}
	if got := match("before=db:5"); len(got) != 1 || got[0] != a.ID {
		t.Errorf("before: %v", got)
	}
	if got := match("dangling=true"); len(got) != 0 {
		t.Errorf("dangling: %v", got)
	}
	if got := match("until=1h"); len(got) != 0 {
		t.Errorf("until: %v", got)
	}
	if _, err := s.ParseFilter(ctx, []string{"bogus=1"}, "dangling"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad filter: %v", err)
	}
}

// A blob deleter must wait for writers holding a lease: run imports and
// removals of images sharing a layer in parallel and check the survivors.
func TestConcurrentImportAndRemove(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	files := map[string]string{"shared": strings.Repeat("x", 1<<16)}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		s := newStore(t, root)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				img := importImage(t, s, files)
				if i%2 == 0 {
					if _, err := s.Remove(ctx, img.ID.String(), true, false); err != nil && !errdefs.IsNotFound(err) {
						t.Error(err)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	s := newStore(t, root)
	rep, err := s.Check(ctx, false)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("store inconsistent: %+v %v", rep.Problems, err)
	}
	if rep.Images == 0 {
		t.Fatal("no images survived")
	}
}
