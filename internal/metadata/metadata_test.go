package metadata

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

func testImage(n int, shared digest.Digest) Image {
	id := digest.FromString(fmt.Sprintf("config %d", n))
	own := digest.FromString(fmt.Sprintf("layer %d", n))
	return Image{
		ID: id, ManifestDigest: digest.FromString(fmt.Sprintf("manifest %d", n)), ManifestMediaType: "m",
		Created: time.Unix(int64(1000+n), 0).UTC(), Added: time.Now(), Size: 10,
		Labels: map[string]string{"n": fmt.Sprint(n)},
		Blobs: []Blob{
			{Kind: KindConfig, Digest: id, Size: 1},
			{Kind: KindLayer, Index: 0, Digest: shared, Size: 5, DiffID: shared, DiffSize: 5},
			{Kind: KindLayer, Index: 1, Digest: own, Size: 5, DiffID: own, DiffSize: 5},
		},
	}
}

func open(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestImageLifecycle(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "m.db"))
	shared := digest.FromString("base")
	a, b := testImage(1, shared), testImage(2, shared)
	if _, err := db.PutImage(ctx, a, []string{"docker.io/library/a:latest"}, []string{"docker.io/library/a@" + a.ManifestDigest.String()}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutImage(ctx, b, nil, nil); err != nil {
		t.Fatal(err)
	}
	moved, err := db.PutImage(ctx, b, []string{"docker.io/library/a:latest"}, nil)
	if err != nil || len(moved) != 1 || moved[0] != a.ID {
		t.Fatalf("tag move: %v %v", moved, err)
	}
	imgs, err := db.List(ctx)
	if err != nil || len(imgs) != 2 {
		t.Fatalf("list: %v %v", imgs, err)
	}
	if imgs[0].ID != b.ID || len(imgs[0].Tags) != 1 || len(imgs[1].Tags) != 0 || len(imgs[1].RepoDigests) != 1 {
		t.Fatalf("list order/tags wrong: %+v", imgs)
	}
	if imgs[1].Labels["n"] != "1" {
		t.Fatalf("labels lost: %+v", imgs[1].Labels)
	}
	got, err := db.Get(ctx, a.ID)
	if err != nil || len(got.Layers()) != 2 || got.Layers()[1].Index != 1 {
		t.Fatalf("get: %+v %v", got, err)
	}
	if id, err := db.LookupRepoDigest(ctx, "docker.io/library/a", a.ManifestDigest); err != nil || id != a.ID {
		t.Fatalf("repo digest lookup: %v %v", id, err)
	}
	ids, err := db.ByIDPrefix(ctx, a.ID.Encoded()[:6])
	if err != nil || len(ids) != 1 || ids[0] != a.ID {
		t.Fatalf("prefix: %v %v", ids, err)
	}
	// Deleting a must not report the shared layer as unused.
	unused, err := db.DeleteImage(ctx, a.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range unused {
		if u.Digest == shared {
			t.Fatal("shared layer reported unused")
		}
	}
	if len(unused) != 2 {
		t.Fatalf("want config+own layer unused, got %+v", unused)
	}
	if _, err := db.DeleteImage(ctx, b.ID, false); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("tagged image deleted without force: %v", err)
	}
	if _, err := db.DeleteImage(ctx, a.ID, false); !errdefs.IsNotFound(err) {
		t.Fatalf("second delete: %v", err)
	}
	unused, err = db.DeleteImage(ctx, b.ID, true)
	if err != nil || len(unused) != 3 {
		t.Fatalf("last delete must free shared layer: %+v %v", unused, err)
	}
	if _, err := db.LookupTag(ctx, "docker.io/library/a:latest"); !errdefs.IsNotFound(err) {
		t.Fatalf("tag survived its image: %v", err)
	}
}

// Separate handles stand in for separate strata processes: each has its own
// connection pool and goes through SQLite's file locking.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	open(t, path)
	shared := digest.FromString("base")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < 4; w++ {
		db := open(t, path)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				img := testImage(w*100+i, shared)
				if _, err := db.PutImage(ctx, img, []string{fmt.Sprintf("x/%d:%d", w, i), "x/common:latest"}, nil); err != nil {
					errs <- err
					return
				}
				if i%3 == 0 {
					if _, err := db.DeleteImage(ctx, img.ID, true); err != nil {
						errs <- err
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	imgs, err := open(t, path).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 4*10 {
		t.Fatalf("want 40 images, got %d", len(imgs))
	}
	refs, err := open(t, path).BlobRefs(ctx)
	if err != nil || refs[shared] != 40 {
		t.Fatalf("shared layer refs = %d (%v)", refs[shared], err)
	}
}
