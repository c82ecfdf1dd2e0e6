package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/reference"
)

func pushClient(f *fakeRegistry) *Client {
	return testClient(HostConfig{}, newMemStore(f.host(), Credentials{Username: "alice", Password: "secret"}))
}

func mustRef(t *testing.T, s string) reference.Reference {
	t.Helper()
	r, err := reference.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fakeRegistry) blob(repo string, dg digest.Digest) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.blobs[repo][dg]
	return b, ok
}

func TestUpload(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	r := openRepo(t, pushClient(f), mustRef(t, f.host()+"/user/app:v1"), "push")
	ctx := context.Background()

	// Unknown size and digest: chunked PATCH, digest computed on the way.
	data := randomBytes(300<<10, 7)
	stream := io.MultiReader(bytes.NewReader(data[:1000]), bytes.NewReader(data[1000:]))
	dg, err := r.Upload(ctx, "", -1, stream)
	if err != nil {
		t.Fatal(err)
	}
	if want := digest.FromBytes(data); dg != want {
		t.Fatalf("Upload returned %s, want %s", dg, want)
	}
	if got, ok := f.blob("user/app", dg); !ok || !bytes.Equal(got, data) {
		t.Fatal("registry holds a different blob")
	}
	if n := f.chunked.Load(); n != 1 {
		t.Fatalf("%d chunked PATCHes, want 1", n)
	}

	// Known size and digest: a PATCH with Content-Length.
	small := []byte("config blob")
	if dg, err := r.Upload(ctx, digest.FromBytes(small), int64(len(small)), bytes.NewReader(small)); err != nil || dg != digest.FromBytes(small) {
		t.Fatalf("Upload(known) = %s, %v", dg, err)
	}
	if n := f.chunked.Load(); n != 1 {
		t.Fatalf("a sized upload went chunked")
	}
	if dg, err := r.Upload(ctx, "", 0, bytes.NewReader(nil)); err != nil || dg != digest.FromBytes(nil) {
		t.Fatalf("empty Upload = %s, %v", dg, err)
	}
	if _, ok, _ := r.BlobExists(ctx, digest.FromBytes(nil)); !ok {
		t.Fatal("empty blob not stored")
	}

	// A wrong digest is refused by the registry and the session cancelled.
	_, err = r.Upload(ctx, digest.FromString("other"), int64(len(small)), bytes.NewReader(small))
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("wrong digest: %v", err)
	}
	f.mu.Lock()
	cancelled, open := f.cancelled, len(f.uploads)
	f.mu.Unlock()
	if cancelled != 1 || open != 0 {
		t.Fatalf("cancelled %d, open uploads %d", cancelled, open)
	}

	// A short body for a given size fails.
	if _, err := r.Upload(ctx, "", 100, bytes.NewReader(small)); err == nil {
		t.Fatal("short body accepted")
	}

	if _, err := openRepo(t, pushClient(f), mustRef(t, f.host()+"/user/app:v1")).Upload(ctx, "", 1, bytes.NewReader(small)); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("upload on a pull handle: %v", err)
	}
}

func TestMount(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	fx := f.addImage(t, "library/busybox", "latest")
	r := openRepo(t, pushClient(f), mustRef(t, f.host()+"/user/app:v1"), "push")
	ctx := context.Background()

	mounted, err := r.Mount(ctx, fx.ldg, "library/busybox")
	if err != nil || !mounted {
		t.Fatalf("Mount = %v, %v", mounted, err)
	}
	if got, ok := f.blob("user/app", fx.ldg); !ok || !bytes.Equal(got, fx.layer) {
		t.Fatal("mounted blob missing")
	}

	f.configure(func(c *fakeConfig) { c.noMount = true })
	mounted, err = r.Mount(ctx, fx.mdg, "library/busybox")
	if err != nil || mounted {
		t.Fatalf("Mount without support = %v, %v", mounted, err)
	}
	f.mu.Lock()
	cancelled, open := f.cancelled, len(f.uploads)
	f.mu.Unlock()
	if cancelled != 1 || open != 0 {
		t.Fatalf("the upload the registry started was not cancelled: cancelled %d, open %d", cancelled, open)
	}
}

func TestPutManifest(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	fx := f.addImage(t, "library/busybox", "latest")
	ctx := context.Background()
	r := openRepo(t, pushClient(f), mustRef(t, f.host()+"/user/app:v1"), "push")
	dg, err := r.PutManifest(ctx, "v1", fx.manifest, image.MediaTypeOCIManifest)
	if err != nil || dg != fx.mdg {
		t.Fatalf("PutManifest = %s, %v", dg, err)
	}
	raw, mt, got, err := r.Manifest(ctx, "v1")
	if err != nil || !bytes.Equal(raw, fx.manifest) || mt != image.MediaTypeOCIManifest || got != fx.mdg {
		t.Fatalf("read back: %q %s %v", mt, got, err)
	}
	if _, err := r.PutManifest(ctx, string(digest.FromString("x")), fx.manifest, image.MediaTypeOCIManifest); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("content not matching the digest: %v", err)
	}
	if _, err := r.PutManifest(ctx, "v2", make([]byte, MaxManifestSize+1), image.MediaTypeOCIManifest); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("oversized manifest: %v", err)
	}

	// Pushing without credentials is refused by the registry.
	anon := openRepo(t, testClient(HostConfig{}, nil), mustRef(t, f.host()+"/user/app:v1"), "push")
	if _, err := anon.PutManifest(ctx, "v3", fx.manifest, image.MediaTypeOCIManifest); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("anonymous push: %v", err)
	}
}

// writerToBody is a body that writes itself, as a gzip stream does; wrote
// counts the calls of WriteTo.
type writerToBody struct {
	data  []byte
	fail  error // returned half way when set
	wrote int
}

func (b *writerToBody) Read([]byte) (int, error) {
	return 0, errors.New("Read called: the client should have used WriteTo")
}

func (b *writerToBody) WriteTo(w io.Writer) (int64, error) {
	b.wrote++
	half := len(b.data) / 2
	n, err := w.Write(b.data[:half])
	if err != nil || b.fail != nil {
		return int64(n), errors.Join(err, b.fail)
	}
	m, err := w.Write(b.data[half:])
	return int64(n + m), err
}

// TestUploadWriterTo: a body that writes itself goes to the connection
// directly, hashed and counted on the way; one that fails half way fails
// the upload and leaves no blob.
func TestUploadWriterTo(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	r := openRepo(t, pushClient(f), mustRef(t, f.host()+"/user/app:v1"), "push")
	ctx := context.Background()
	data := randomBytes(200<<10, 9)
	body := &writerToBody{data: data}
	dg, err := r.Upload(ctx, "", -1, body)
	if err != nil {
		t.Fatal(err)
	}
	if want := digest.FromBytes(data); dg != want || body.wrote != 1 {
		t.Fatalf("Upload = %s after %d WriteTo calls, want %s after 1", dg, body.wrote, want)
	}
	if got, ok := f.blob("user/app", dg); !ok || !bytes.Equal(got, data) {
		t.Fatal("registry holds a different blob")
	}

	bad := &writerToBody{data: randomBytes(200<<10, 10), fail: errors.New("disk gone")}
	if _, err := r.Upload(ctx, "", -1, bad); err == nil {
		t.Fatal("an upload whose body failed succeeded")
	}
	if _, ok := f.blob("user/app", digest.FromBytes(bad.data)); ok {
		t.Fatal("a failed upload left a blob")
	}
}

// TestUploadAnsweredEarly: a registry that answers a PATCH before it read
// the whole body fails the upload (once the transport is done with the
// body, so the count is final), without hanging and without a blob.
func TestUploadAnsweredEarly(t *testing.T) {
	f := newFakeRegistry(t, "")
	f.configure(func(c *fakeConfig) { c.shortPatch = 64 << 10 })
	r := openRepo(t, pushClient(f), mustRef(t, f.host()+"/user/app:v1"), "push")
	data := randomBytes(4<<20, 11)
	for name, body := range map[string]io.Reader{
		"reader":   bytes.NewReader(data),
		"writerTo": &writerToBody{data: data},
	} {
		// Whether the transport got the whole body into the socket before
		// the registry hung up decides which error it is: "answered before
		// the whole blob was sent", or the registry refusing the digest.
		_, err := r.Upload(context.Background(), "", -1, body)
		if !errors.Is(err, errdefs.ErrUnavailable) && !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: upload answered early: %v", name, err)
		}
	}
	if _, ok := f.blob("user/app", digest.FromBytes(data)); ok {
		t.Fatal("a half-read upload left a blob")
	}
}
