package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/reference"
)

func testClient(hosts HostConfig, auth AuthStore) *Client {
	c := NewClient(hosts, auth, "strata-test/1")
	c.retryBase = time.Millisecond
	return c
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

type fixture struct {
	ref      reference.Reference
	manifest []byte
	mdg      digest.Digest
	layer    []byte
	ldg      digest.Digest
}

// addImage stores a one-layer OCI image as repo:tag.
func (f *fakeRegistry) addImage(t *testing.T, repo, tag string) fixture {
	t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := randomBytes(200<<10, uint64(len(repo)))
	cdg, ldg := f.putBlob(repo, cfg), f.putBlob(repo, layer)
	raw, mdg, err := image.NewManifest(
		image.Descriptor{MediaType: image.MediaTypeOCIConfig, Digest: cdg, Size: int64(len(cfg))},
		[]image.Descriptor{{MediaType: image.MediaTypeOCILayerGzip, Digest: ldg, Size: int64(len(layer))}}, false)
	if err != nil {
		t.Fatal(err)
	}
	f.putManifest(repo, tag, image.MediaTypeOCIManifest, raw)
	ref, err := reference.Parse(f.host() + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{ref: ref, manifest: raw, mdg: mdg, layer: layer, ldg: ldg}
}

func openRepo(t *testing.T, c *Client, ref reference.Reference, actions ...string) *Repository {
	t.Helper()
	r, err := c.Repository(context.Background(), ref, actions...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pullAll resolves, fetches the manifest and the layer, and checks them.
func pullAll(t *testing.T, r *Repository, fx fixture) {
	t.Helper()
	ctx := context.Background()
	desc, err := r.Resolve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != fx.mdg || desc.Size != int64(len(fx.manifest)) || desc.MediaType != image.MediaTypeOCIManifest {
		t.Fatalf("Resolve = %+v, want %s (%d bytes)", desc, fx.mdg, len(fx.manifest))
	}
	raw, mt, dg, err := r.Manifest(ctx, string(fx.mdg))
	if err != nil || !bytes.Equal(raw, fx.manifest) || mt != image.MediaTypeOCIManifest || dg != fx.mdg {
		t.Fatalf("Manifest = %d bytes, %q, %s, %v", len(raw), mt, dg, err)
	}
	rc, size, err := r.FetchBlob(ctx, fx.ldg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, rc); !bytes.Equal(got, fx.layer) || size != int64(len(fx.layer)) {
		t.Fatalf("FetchBlob: %d bytes (size %d), want %d", len(got), size, len(fx.layer))
	}
}

func TestAnonymousTokenFlow(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	fx := f.addImage(t, "library/busybox", "latest")
	c := testClient(HostConfig{}, nil)
	pullAll(t, openRepo(t, c, fx.ref), fx)
	// A second handle on the same repository reuses the token.
	r2 := openRepo(t, c, fx.ref)
	if _, exists, err := r2.BlobExists(context.Background(), fx.ldg); !exists || err != nil {
		t.Fatalf("BlobExists = %v, %v", exists, err)
	}
	if _, exists, err := r2.BlobExists(context.Background(), digest.FromString("absent")); exists || err != nil {
		t.Fatalf("BlobExists(absent) = %v, %v", exists, err)
	}
	if n := f.tokenGets.Load(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
	bare := 0
	for _, h := range f.authHeaders() {
		if h == "" {
			bare++
		}
	}
	if bare != 1 {
		t.Errorf("%d requests without a token, want only the first", bare)
	}
}

func TestTokenCachePerScopeAndExpiry(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	fx := f.addImage(t, "library/busybox", "latest")
	c := testClient(HostConfig{}, newMemStore(f.host(), Credentials{Username: "alice", Password: "secret"}))
	ctx := context.Background()
	pull := openRepo(t, c, fx.ref)
	push := openRepo(t, c, fx.ref, "push")
	for range 3 {
		if _, err := pull.Resolve(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := push.BlobExists(ctx, fx.ldg); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokenGets.Load(); n != 2 {
		t.Fatalf("%d token requests, want 2 (one per scope)", n)
	}
	c.mu.Lock()
	for _, e := range c.tokens {
		e.expires = time.Now().Add(-time.Second)
	}
	c.mu.Unlock()
	before := len(f.requests())
	if _, err := pull.Resolve(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.tokenGets.Load(); n != 3 {
		t.Fatalf("%d token requests after expiry, want 3", n)
	}
	if reqs := f.requests()[before:]; len(reqs) != 2 { // token + HEAD, no 401 round trip
		t.Fatalf("requests after expiry: %v", reqs)
	}
}

func TestBasicAuth(t *testing.T) {
	f := newFakeRegistry(t, "basic")
	fx := f.addImage(t, "app", "v1")
	c := testClient(HostConfig{}, newMemStore(f.host(), Credentials{Username: "alice", Password: "secret"}))
	pullAll(t, openRepo(t, c, fx.ref), fx)
	if n := f.tokenGets.Load(); n != 0 {
		t.Errorf("%d token requests on a Basic registry", n)
	}

	_, err := openRepo(t, testClient(HostConfig{}, nil), fx.ref).Resolve(context.Background())
	if !errors.Is(err, errdefs.ErrPermission) || !strings.Contains(err.Error(), "unauthorized: authentication required") {
		t.Fatalf("anonymous on a Basic registry: %v", err)
	}
}

func TestWrongCredentials(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	fx := f.addImage(t, "app", "v1")
	c := testClient(HostConfig{}, newMemStore(f.host(), Credentials{Username: "alice", Password: "wrong"}))
	_, err := openRepo(t, c, fx.ref).Resolve(context.Background())
	if !errors.Is(err, errdefs.ErrPermission) || !strings.Contains(err.Error(), "unauthorized: incorrect username or password") {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestPullAccessDenied(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	fx := f.addImage(t, "secret/app", "v1")
	f.configure(func(c *fakeConfig) { c.private = map[string]bool{"secret/app": true} })
	_, err := openRepo(t, testClient(HostConfig{}, nil), fx.ref).Resolve(context.Background())
	want := "pull access denied for " + f.host() + "/secret/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
	if !errors.Is(err, errdefs.ErrPermission) || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if n := f.tokenGets.Load(); n != 1 {
		t.Errorf("%d token requests for a denied pull, want 1", n)
	}
	c := testClient(HostConfig{}, newMemStore(f.host(), Credentials{Username: "alice", Password: "secret"}))
	pullAll(t, openRepo(t, c, fx.ref), fx)
}

func TestNotFoundMessages(t *testing.T) {
	f := newFakeRegistry(t, "")
	fx := f.addImage(t, "library/busybox", "latest")
	c := testClient(HostConfig{}, nil)
	ref, _ := fx.ref.WithTag("nope")
	_, err := openRepo(t, c, ref).Resolve(context.Background())
	want := "manifest for " + f.host() + "/library/busybox:nope not found: manifest unknown: manifest unknown"
	if !errdefs.IsNotFound(err) || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	other, _ := reference.Parse(f.host() + "/nothing/here")
	_, _, _, err = openRepo(t, c, other).Manifest(context.Background(), "")
	if !errdefs.IsNotFound(err) || !strings.HasPrefix(err.Error(), "repository "+f.host()+"/nothing/here not found: name unknown") {
		t.Fatalf("unknown repository: %v", err)
	}
	_, _, err = openRepo(t, c, fx.ref).FetchBlob(context.Background(), digest.FromString("x"), 0)
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "blob unknown: blob unknown to registry") {
		t.Fatalf("unknown blob: %v", err)
	}
}

func TestFetchBlobResume(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	fx := f.addImage(t, "app", "v1")
	r := openRepo(t, testClient(HostConfig{}, nil), fx.ref)
	ctx := context.Background()
	n := int64(len(fx.layer))

	for _, ignore := range []bool{false, true} {
		f.configure(func(c *fakeConfig) { c.ignoreRange = ignore })
		rc, size, err := r.FetchBlob(ctx, fx.ldg, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, rc); !bytes.Equal(got, fx.layer[1000:]) || size != n {
			t.Fatalf("ignoreRange=%v: %d bytes, size %d", ignore, len(got), size)
		}
	}
	f.configure(func(c *fakeConfig) { c.ignoreRange = false })
	rc, size, err := r.FetchBlob(ctx, fx.ldg, n)
	if err != nil || size != n || len(readAll(t, rc)) != 0 {
		t.Fatalf("offset at the end: size %d, %v", size, err)
	}
	if _, _, err := r.FetchBlob(ctx, fx.ldg, n+1); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("offset past the end: %v", err)
	}

	// A stream cut after 5000 bytes is resumed transparently.
	f.mu.Lock()
	f.cutOnce = 5000
	f.mu.Unlock()
	before := len(f.requests())
	rc, _, err = r.FetchBlob(ctx, fx.ldg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, rc); !bytes.Equal(got, fx.layer) {
		t.Fatalf("resumed stream: %d bytes, want %d", len(got), n)
	}
	if gets := len(f.requests()) - before; gets != 2 {
		t.Fatalf("%d requests for a cut stream, want 2", gets)
	}
}

func TestBlobRedirectDropsAuthorization(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	fx := f.addImage(t, "app", "v1")
	storage := newFakeRegistry(t, "") // plays S3: serves the blob, records headers
	storage.putBlob("app", fx.layer)
	f.configure(func(c *fakeConfig) { c.blobsAt = storage.srv.URL })
	rc, _, err := openRepo(t, testClient(HostConfig{}, nil), fx.ref).FetchBlob(context.Background(), fx.ldg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, rc), fx.layer) {
		t.Fatal("redirected blob differs")
	}
	seen := storage.authHeaders()
	if len(seen) != 1 || seen[0] != "" {
		t.Fatalf("storage saw Authorization %q", seen)
	}
}

func TestRetries(t *testing.T) {
	f := newFakeRegistry(t, "")
	fx := f.addImage(t, "app", "v1")
	r := openRepo(t, testClient(HostConfig{}, nil), fx.ref)
	ctx := context.Background()

	f.fail("/manifests/", 429, "1", 1)
	start := time.Now()
	if _, err := r.Resolve(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("Retry-After: 1 honoured for only %v", d)
	}

	before := len(f.requests())
	f.fail("/blobs/", 503, "", 2)
	if _, ok, err := r.BlobExists(ctx, fx.ldg); !ok || err != nil {
		t.Fatalf("after two 503s: %v, %v", ok, err)
	}
	if n := len(f.requests()) - before; n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}

	before = len(f.requests())
	f.fail("/blobs/", 500, "", 10)
	_, _, err := r.FetchBlob(ctx, fx.ldg, 0)
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("persistent 500: %v", err)
	}
	if n := len(f.requests()) - before; n != 1+maxRetries {
		t.Fatalf("%d requests, want %d", n, 1+maxRetries)
	}

	f.mu.Lock()
	f.failures = nil
	f.mu.Unlock()
	f.fail("/manifests/", 429, "3600", 5)
	_, _, _, err = r.Manifest(ctx, "")
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "toomanyrequests: try again") {
		t.Fatalf("long Retry-After: %v", err)
	}
}

func TestManifestChecks(t *testing.T) {
	f := newFakeRegistry(t, "")
	fx := f.addImage(t, "app", "v1")
	r := openRepo(t, testClient(HostConfig{}, nil), fx.ref)
	ctx := context.Background()

	f.configure(func(c *fakeConfig) { c.badDigest = true })
	if _, _, _, err := r.Manifest(ctx, "v1"); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Fatalf("wrong Docker-Content-Digest: %v", err)
	}

	f.configure(func(c *fakeConfig) { c.badDigest = false })

	// Content served under a digest it does not have.
	forged := digest.FromString("forged")
	f.mu.Lock()
	f.manifests["app"][string(forged)] = fakeManifest{mediaType: image.MediaTypeOCIManifest, body: fx.manifest}
	f.mu.Unlock()
	if _, _, _, err := r.Manifest(ctx, string(forged)); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Fatalf("forged digest: %v", err)
	}

	big := append([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"x":"`),
		bytes.Repeat([]byte("a"), MaxManifestSize)...)
	big = append(big, `"}}`...)
	f.putManifest("app", "big", image.MediaTypeOCIManifest, big)
	if _, _, _, err := r.Manifest(ctx, "big"); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("5 MiB manifest: %v", err)
	}
	bigRef, _ := fx.ref.WithTag("big")
	if _, err := openRepo(t, r.client, bigRef).Resolve(ctx); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("Resolve of a 5 MiB manifest: %v", err)
	}

	// A registry answering with a generic type: the type is read from the body.
	f.putManifest("app", "plain", "application/json", fx.manifest)
	if _, mt, _, err := r.Manifest(ctx, "plain"); err != nil || mt != image.MediaTypeOCIManifest {
		t.Fatalf("generic Content-Type: %q, %v", mt, err)
	}
	if _, _, _, err := r.Manifest(ctx, "../../etc"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("bad tag: %v", err)
	}
}

func TestTagsPagination(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	fx := f.addImage(t, "app", "v1")
	for _, tag := range []string{"v2", "v3", "v4", "latest"} {
		f.putManifest("app", tag, image.MediaTypeOCIManifest, fx.manifest)
	}
	f.configure(func(c *fakeConfig) { c.pageSize = 2 })
	tags, err := openRepo(t, testClient(HostConfig{}, nil), fx.ref).Tags(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tags, ",") != "latest,v1,v2,v3,v4" {
		t.Fatalf("tags = %v", tags)
	}
	pages := 0
	for _, r := range f.requests() {
		if r == "GET /v2/app/tags/list" {
			pages++
		}
	}
	if pages != 4 { // a 401, then three pages
		t.Fatalf("%d tag list requests, want 4: %v", pages, f.requests())
	}
}

func TestCatalogAndSearch(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	for _, name := range []string{"library/busybox", "library/alpine", "user/busybox-extra", "user/app"} {
		f.addImage(t, name, "latest")
	}
	f.configure(func(c *fakeConfig) { c.pageSize = 3 })
	c := testClient(HostConfig{}, nil)
	ctx := context.Background()
	repos, err := c.Catalog(ctx, f.host())
	if err != nil || strings.Join(repos, ",") != "library/alpine,library/busybox,user/app,user/busybox-extra" {
		t.Fatalf("Catalog = %v, %v", repos, err)
	}

	res, err := c.Search(ctx, f.host(), "busybox", 0)
	if err != nil || len(res) != 2 || res[0].Name != "library/busybox" || !res[0].IsOfficial ||
		res[0].StarCount != len("library/busybox") || res[1].Description != "about user/busybox-extra" {
		t.Fatalf("Search = %+v, %v", res, err)
	}
	if res, err := c.Search(ctx, f.host(), "busybox", 1); err != nil || len(res) != 1 {
		t.Fatalf("Search limit 1 = %+v, %v", res, err)
	}

	f.configure(func(c *fakeConfig) { c.noSearch = true })
	res, err = c.Search(ctx, f.host(), "BusyBox", 10)
	if err != nil || len(res) != 2 || res[0].Name != "library/busybox" || res[1].Name != "user/busybox-extra" {
		t.Fatalf("Search through the catalog = %+v, %v", res, err)
	}
}
