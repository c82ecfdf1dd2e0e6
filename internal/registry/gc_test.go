package registry

import (
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/strata-dev/strata/internal/registry/storage"
)

func TestGC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		e := newEnv(t, drv, Config{GCGracePeriod: time.Hour})
		ctx := t.Context()
		const old = 2 * time.Hour
		ageBlob := func(name, d string) { e.ageBlob(name, digest.Digest(d), old) }

		kept := e.pushImage("app", "v1", nil)
		ageBlob("app", kept.config.String())
		ageBlob("app", kept.layer.String())
		e.age("blobs/sha256/"+kept.digest.Encoded(), old)

		// Referenced only through an index and a referrer's subject.
		child := e.pushImage("app", "", nil)
		ageBlob("app", child.layer.String())
		idx := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + child.digest.String() + `","size":1}]}`)
		e.do("PUT", "/v2/app/manifests/multi", idx, "Content-Type", v1.MediaTypeImageIndex).want(t, 201)

		garbage := e.pushBlob("app", []byte("unreferenced and old"))
		ageBlob("app", garbage.String())
		young := e.pushBlob("app", []byte("unreferenced but young"))

		// An old unreferenced blob that a live upload is completing.
		inflight := e.pushBlob("app", []byte("being re-uploaded"))
		ageBlob("app", inflight.String())
		loc := e.startUpload("app")
		id := loc[len("/v2/app/blobs/uploads/"):]
		st, err := e.srv.loadUpload(ctx, "app", id)
		if err != nil {
			t.Fatal(err)
		}
		st.Digest = inflight
		if err := e.srv.saveUpload(ctx, id, st); err != nil {
			t.Fatal(err)
		}
		// An expired upload.
		stale := e.startUpload("app")
		staleID := stale[len("/v2/app/blobs/uploads/"):]
		e.do("PATCH", stale, []byte("abandoned")).want(t, 202)
		e.srv.store.d.PutContent(ctx, uploadStartPath(staleID), []byte(time.Now().Add(-25*time.Hour).Format(time.RFC3339Nano)))

		// A deleted image: its manifest and layer go.
		gone := e.pushImage("other", "v1", nil)
		for _, d := range []string{gone.config.String(), gone.layer.String()} {
			ageBlob("other", d)
		}
		e.age("blobs/sha256/"+gone.digest.Encoded(), old)
		e.do("DELETE", "/v2/other/manifests/"+gone.digest.String(), nil).want(t, 202)
		// A blob unlinked by DELETE and referenced nowhere.
		dropped := e.pushBlob("other", []byte("dropped"))
		ageBlob("other", dropped.String())
		e.do("DELETE", "/v2/other/blobs/"+dropped.String(), nil).want(t, 202)
		// A blob the registry never linked (the local content store's).
		local := sha256Of([]byte("local store blob"))
		e.srv.store.d.PutContent(ctx, blobPath(local), []byte("local store blob"))
		e.age(blobPath(local), old)

		wantDeleted := []string{garbage.String(), gone.config.String(), gone.layer.String(), gone.digest.String(), dropped.String()}
		slices.Sort(wantDeleted)

		dry, err := e.srv.GC(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(dry.BlobsDeleted)
		if !slices.Equal(dry.BlobsDeleted, wantDeleted) || len(dry.UploadsDeleted) != 1 || !dry.DryRun {
			t.Fatalf("dry run: %+v\nwant deleted %v", dry, wantDeleted)
		}
		if !e.has(blobPath(garbage)) || !e.has(uploadDir(staleID)) {
			t.Fatal("dry run deleted something")
		}

		rep, err := e.srv.GC(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(rep.BlobsDeleted)
		if !slices.Equal(rep.BlobsDeleted, wantDeleted) || rep.UploadsDeleted[0] != staleID || rep.BytesFreed <= 0 {
			t.Fatalf("gc: %+v\nwant deleted %v", rep, wantDeleted)
		}
		for _, d := range wantDeleted {
			if e.has("blobs/sha256/" + d[len("sha256:"):]) {
				t.Errorf("%s not deleted", d)
			}
		}
		for _, d := range []string{kept.config.String(), kept.layer.String(), kept.digest.String(), child.layer.String(),
			child.digest.String(), young.String(), inflight.String(), local.String()} {
			if !e.has("blobs/sha256/" + d[len("sha256:"):]) {
				t.Errorf("%s deleted", d)
			}
		}
		e.do("GET", "/v2/app/blobs/"+garbage.String(), nil).want(t, 404, "BLOB_UNKNOWN")
		if e.has(layerLinkPath("app", garbage)) {
			t.Error("link to a deleted blob left")
		}
		e.do("GET", "/v2/app/manifests/v1", nil).want(t, 200)
		e.do("GET", "/v2/app/manifests/multi", nil).want(t, 200)
		e.do("GET", stale, nil).want(t, 404, "BLOB_UPLOAD_UNKNOWN")
		e.do("GET", loc, nil).want(t, 204)

		// A second run finds nothing more.
		rep, err = e.srv.GC(ctx, false)
		if err != nil || len(rep.BlobsDeleted) != 0 {
			t.Fatalf("second gc: %+v %v", rep, err)
		}
	})
}
