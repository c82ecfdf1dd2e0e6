package registry

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/registry/storage"
)

// TestGCRacingPush plays a push against a collection that has just doomed
// the old, unreferenced blobs it reuses: the doomed blob is refused to
// every request that would come to rely on it (HEAD, manifest, mount,
// upload), while a lease taken before the second look saves its blob.
func TestGCRacingPush(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		e := newEnv(t, drv, Config{GCGracePeriod: time.Hour})
		ctx := t.Context()
		oldBlob := func(data string) digest.Digest {
			d := e.pushBlob("app", []byte(data))
			e.ageBlob("app", d, 2*time.Hour)
			return d
		}
		lost := oldBlob("reused by a manifest too late")
		saved := oldBlob("HEADed before the second look")
		mounted := oldBlob("mounted before the second look")
		cfg := oldBlob(`{"os":"linux"}`)
		e.srv.leases.written = nil // the leases above look old now

		manifest := func(layer digest.Digest) []byte {
			m := v1.Manifest{
				MediaType: v1.MediaTypeImageManifest,
				Config:    v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: cfg, Size: 14},
				Layers:    []v1.Descriptor{{MediaType: v1.MediaTypeImageLayerGzip, Digest: layer, Size: 1}},
			}
			m.SchemaVersion = 2
			b, _ := json.Marshal(m)
			return b
		}
		raced := false
		gcAfterDoom = func() {
			raced = true
			// Doomed: refused everywhere, and the refused manifest leaves
			// no revision behind.
			m := manifest(lost)
			e.do("PUT", "/v2/app/manifests/late", m, "Content-Type", v1.MediaTypeImageManifest).want(t, 404, "MANIFEST_BLOB_UNKNOWN")
			if e.has(revisionLinkPath("app", sha256Of(m))) {
				t.Error("a refused manifest left its revision")
			}
			e.do("GET", "/v2/app/manifests/late", nil).want(t, 404)
			// A HEAD answers 404 and a mount falls back to an upload, but
			// both leave a lease the second look sees.
			e.do("POST", "/v2/other/blobs/uploads/?mount="+mounted.String()+"&from=app", nil).want(t, 202)
			e.do("HEAD", "/v2/app/blobs/"+saved.String(), nil).want(t, 404)
		}
		t.Cleanup(func() { gcAfterDoom = nil })
		rep, err := e.srv.GC(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if !raced {
			t.Fatal("the collection doomed nothing")
		}
		slices.Sort(rep.BlobsDeleted)
		want := []string{lost.String(), cfg.String()}
		slices.Sort(want)
		if !slices.Equal(rep.BlobsDeleted, want) {
			t.Fatalf("deleted %v, want %v", rep.BlobsDeleted, want)
		}
		for _, d := range []digest.Digest{saved, mounted, lost, cfg} {
			if e.has(gcDoomedPath(d)) {
				t.Errorf("doomed marker of %s left", d)
			}
		}
		if !e.has(blobPath(saved)) || !e.has(blobPath(mounted)) {
			t.Fatal("a leased blob is gone")
		}
		e.do("HEAD", "/v2/app/blobs/"+saved.String(), nil).want(t, 200)
		e.do("GET", "/v2/app/blobs/"+lost.String(), nil).want(t, 404, "BLOB_UNKNOWN")
	})
}

// TestDoomedBlobUpload: an upload completing a blob a collector is
// deleting waits until the collector is done, then stores it anew; a stale
// doomed marker (a collector that died) is ignored and later removed.
func TestDoomedBlobUpload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		e := newEnv(t, drv, Config{GCGracePeriod: time.Hour})
		ctx := t.Context()
		data := []byte("uploaded while doomed")
		d := sha256Of(data)
		if err := e.srv.store.d.PutContent(ctx, gcDoomedPath(d), nil); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			time.Sleep(200 * time.Millisecond) // the collector finishes with d
			_ = e.srv.store.deleteIfExists(ctx, gcDoomedPath(d))
		}()
		start := time.Now()
		e.pushBlob("app", data)
		<-done
		if time.Since(start) < 150*time.Millisecond {
			t.Fatal("the upload completed while its blob was doomed")
		}
		e.do("HEAD", "/v2/app/blobs/"+d.String(), nil).want(t, 200)

		// A doomed marker older than doomedStale is a dead collector's.
		if err := e.srv.store.d.PutContent(ctx, gcDoomedPath(d), nil); err != nil {
			t.Fatal(err)
		}
		e.age(gcDoomedPath(d), doomedStale+time.Minute)
		e.do("HEAD", "/v2/app/blobs/"+d.String(), nil).want(t, 200)
		if _, err := e.srv.GC(ctx, false); err != nil {
			t.Fatal(err)
		}
		if e.has(gcDoomedPath(d)) || !e.has(blobPath(d)) {
			t.Fatal("gc kept the stale doomed marker or took the leased blob")
		}
	})
}
