package transfer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/reference"
	"github.com/strata-dev/strata/internal/registry"
	"github.com/strata-dev/strata/internal/registry/storage"
	"github.com/strata-dev/strata/internal/remote"
)

// counting wraps the registry and counts requests by method, and can cut
// the first blob download short.
type counting struct {
	h        http.Handler
	mu       sync.Mutex
	methods  map[string]int
	cutBlobs atomic.Int32 // blob GETs to cut after 64 KiB
	ranges   []string     // Range headers of blob GETs
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	blobGet := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:")
	c.mu.Lock()
	c.methods[r.Method]++
	if blobGet && r.Header.Get("Range") != "" {
		c.ranges = append(c.ranges, r.Header.Get("Range"))
	}
	c.mu.Unlock()
	if blobGet && c.cutBlobs.Load() > 0 {
		cw := &cutWriter{ResponseWriter: w, left: 64 << 10}
		c.h.ServeHTTP(cw, r)
		if cw.cut { // only blobs bigger than 64 KiB: the layer, not the config
			c.cutBlobs.Add(-1)
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}
		return
	}
	c.h.ServeHTTP(w, r)
}

func (c *counting) count(m string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.methods[m]
}

type cutWriter struct {
	http.ResponseWriter
	left int
	cut  bool
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if w.left <= 0 {
		w.cut = true
		return 0, http.ErrAbortHandler
	}
	if len(p) > w.left {
		p = p[:w.left]
		w.cut = true
	}
	w.left -= len(p)
	return w.ResponseWriter.Write(p)
}

func newStore(t *testing.T) *imagestore.Store {
	t.Helper()
	root := t.TempDir()
	cs, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := metadata.Open(filepath.Join(root, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := imagestore.New(cs, db, filepath.Join(root, "locks"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// randomBytes is n random bytes.
func randomBytes(n int) []byte {
	data := make([]byte, n)
	_, _ = rand.Read(data)
	return data
}

// randomTar is a layer of one file of n random bytes.
func randomTar(t *testing.T, n int) []byte {
	t.Helper()
	data := randomBytes(n)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "data", Mode: 0o644, Size: int64(n), Typeflag: tar.TypeReg})
	_, _ = tw.Write(data)
	_ = tw.Close()
	return buf.Bytes()
}

func newRegistry(t *testing.T) (*counting, string) {
	t.Helper()
	fs, err := storage.NewFilesystem(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := registry.New(registry.Config{Storage: fs})
	if err != nil {
		t.Fatal(err)
	}
	c := &counting{h: srv.Handler(), methods: map[string]int{}}
	ts := httptest.NewServer(c)
	t.Cleanup(ts.Close)
	return c, strings.TrimPrefix(ts.URL, "http://")
}

func repo(t *testing.T, host, path string, actions ...string) (*remote.Repository, reference.Reference) {
	t.Helper()
	ref, err := reference.Parse(host + "/" + path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := remote.NewClient(remote.HostConfig{}, nil, "test").Repository(context.Background(), ref, actions...)
	if err != nil {
		t.Fatal(err)
	}
	return r, ref
}

func TestPushPullRoundTrip(t *testing.T) {
	ctx := context.Background()
	reg, host := newRegistry(t)
	src := newStore(t)
	img, err := src.Import(ctx, bytes.NewReader(randomTar(t, 3<<20)), imagestore.ImportOptions{Source: "-", Platform: image.HostPlatform()})
	if err != nil {
		t.Fatal(err)
	}
	r, ref := repo(t, host, "team/app:1", "pull", "push")
	p := &Pusher{Images: src}
	dst := Destination{Registry: ref.Domain, Repo: ref.Path, Tag: "1"}
	dg1, _, err := p.Push(ctx, r, dst, img)
	if err != nil {
		t.Fatal(err)
	}
	uploads := reg.count(http.MethodPatch) + reg.count(http.MethodPost)
	if uploads == 0 {
		t.Fatal("the first push uploaded nothing")
	}
	dg2, _, err := p.Push(ctx, r, dst, img)
	if err != nil || dg2 != dg1 {
		t.Fatalf("second push: %s %v, want %s", dg2, err, dg1)
	}
	if again := reg.count(http.MethodPatch) + reg.count(http.MethodPost); again != uploads {
		t.Fatalf("pushing the same image twice uploaded again: %d upload requests, was %d", again, uploads)
	}
	// Another repository of the same registry: the layer is mounted.
	r2, ref2 := repo(t, host, "other/app:1", "pull", "push")
	var events []string
	p.Progress = func(e Event) { events = append(events, e.Status) }
	if _, _, err := p.Push(ctx, r2, Destination{Registry: ref2.Domain, Repo: ref2.Path, Tag: "1"}, img); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(events, ","), "Mounted from team/app") {
		t.Fatalf("push to a second repository did not mount: %v", events)
	}

	// Pull into another store with every blob download cut short: the
	// pull fails, and the next one resumes from the bytes on disk.
	reg.cutBlobs.Store(1000)
	dstStore := newStore(t)
	pr, pref := repo(t, host, "team/app:1", "pull")
	pl := &Puller{Images: dstStore, Platform: image.HostPlatform()}
	if _, err := pl.Pull(ctx, pr, pref); err == nil {
		t.Fatal("a pull whose downloads all break succeeded")
	}
	reg.cutBlobs.Store(0)
	reg.mu.Lock()
	reg.ranges = nil
	reg.mu.Unlock()
	res, err := pl.Pull(ctx, pr, pref)
	if err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	resumed := strings.Join(reg.ranges, ",")
	reg.mu.Unlock()
	if !strings.Contains(resumed, "bytes=") || strings.Contains(resumed, "bytes=0-") {
		t.Fatalf("the second pull did not resume from the stored bytes: ranges %q", resumed)
	}
	if res.Image.ID != img.ID || res.Digest != dg1 || !res.Fresh {
		t.Fatalf("pulled %s (digest %s fresh %v), want %s and %s", res.Image.ID, res.Digest, res.Fresh, img.ID, dg1)
	}
	got, err := dstStore.Meta.Get(ctx, img.ID)
	if err != nil || len(got.RepoDigests) != 1 || !strings.HasSuffix(got.RepoDigests[0], "@"+dg1.String()) {
		t.Fatalf("repo digests = %v, %v", got.RepoDigests, err)
	}
	// The uncompressed size comes from the gzip trailer, not a second pass.
	if got.Size != img.Size {
		t.Fatalf("pulled image size %d, pushed image size %d", got.Size, img.Size)
	}
	res, err = pl.Pull(ctx, pr, pref)
	if err != nil || res.Fresh {
		t.Fatalf("second pull: fresh=%v %v", res.Fresh, err)
	}
	if rep, err := dstStore.Check(ctx, false); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check after pull: %+v %v", rep, err)
	}
}

func TestManifestListPushAndPlatformPull(t *testing.T) {
	ctx := context.Background()
	_, host := newRegistry(t)
	src := newStore(t)
	arm := image.HostPlatform()
	arm.Architecture, arm.Variant = "arm64", "v8"
	var entries []ListEntry
	for i, plat := range []ocispec.Platform{image.HostPlatform(), arm} {
		img, err := src.Import(ctx, bytes.NewReader(randomTar(t, 1000+i)), imagestore.ImportOptions{Source: "-", Platform: plat})
		if err != nil {
			t.Fatal(err)
		}
		tag := []string{"host", "arm"}[i]
		r, ref := repo(t, host, "parts/img:"+tag, "pull", "push")
		if _, _, err := (&Pusher{Images: src}).Push(ctx, r, Destination{Registry: ref.Domain, Repo: ref.Path, Tag: tag}, img); err != nil {
			t.Fatal(err)
		}
		e, err := Entry(ctx, r, ref.String(), tag)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	if entries[1].Descriptor.Platform.Architecture != "arm64" {
		t.Fatalf("entry platform = %+v", entries[1].Descriptor.Platform)
	}
	store := ListStore{Dir: t.TempDir()}
	list := &ManifestList{Name: host + "/multi/app:1", Entries: entries}
	if err := store.Put(list); err != nil {
		t.Fatal(err)
	}
	list, err := store.Get(list.Name)
	if err != nil {
		t.Fatal(err)
	}
	lr, lref := repo(t, host, "multi/app:1", "pull", "push")
	repoOf := func(s string) (string, string, error) {
		r, err := reference.Parse(s)
		return r.Domain, r.Path, err
	}
	if _, err := PushList(ctx, lr, list, "1", repoOf, lref.Domain, lref.Path); err != nil {
		t.Fatal(err)
	}
	for _, plat := range []ocispec.Platform{image.HostPlatform(), arm} {
		res, err := (&Puller{Images: newStore(t), Platform: plat}).Pull(ctx, lr, lref)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := src.Content.ReadAll(res.Image.ID, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := image.ParseConfig(raw)
		if cfg.Architecture != plat.Architecture {
			t.Fatalf("pull for %s got an image for %s", plat.Architecture, cfg.Architecture)
		}
	}
	if err := store.Remove(list.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(list.Name); err == nil {
		t.Fatal("a removed list is still there")
	}
}

// TestPushKnownDigest: a layer pushed once is compressed again for
// another registry with the digest already known, and lands under it; a
// recorded digest the bytes no longer match is refused by the registry,
// and the push falls back to hashing them on the way.
func TestPushKnownDigest(t *testing.T) {
	ctx := context.Background()
	src := newStore(t)
	img, err := src.Import(ctx, bytes.NewReader(randomTar(t, 2<<20)), imagestore.ImportOptions{Source: "-", Platform: image.HostPlatform()})
	if err != nil {
		t.Fatal(err)
	}
	p := &Pusher{Images: src}
	push := func() (*counting, digest.Digest) {
		t.Helper()
		reg, host := newRegistry(t)
		r, ref := repo(t, host, "team/app:1", "pull", "push")
		dg, _, err := p.Push(ctx, r, Destination{Registry: ref.Domain, Repo: ref.Path, Tag: "1"}, img)
		if err != nil {
			t.Fatal(err)
		}
		return reg, dg
	}
	_, first := push()
	cfgRaw, _ := src.Content.ReadAll(img.ID, -1)
	cfg, err := image.ParseConfig(cfgRaw)
	if err != nil {
		t.Fatal(err)
	}
	diffID := cfg.RootFS.DiffIDs[0]
	gz := image.MediaTypeOCILayerGzip
	rec, err := src.Meta.Compressed(ctx, diffID, gz)
	if err != nil {
		t.Fatal(err)
	}
	reg, second := push()
	if second != first || reg.count(http.MethodPost) != 2 { // the layer and the config
		t.Fatalf("push with the digest known: %s after %d uploads, want %s after 2", second, reg.count(http.MethodPost), first)
	}

	wrong := metadata.Compressed{DiffID: diffID, MediaType: gz, Digest: digest.FromString("stale"), Size: rec.Size}
	if err := src.Meta.PutCompressed(ctx, wrong); err != nil {
		t.Fatal(err)
	}
	reg, third := push()
	if third != first || reg.count(http.MethodPost) != 3 {
		t.Fatalf("push with a stale digest: %s after %d uploads, want %s after 3", third, reg.count(http.MethodPost), first)
	}
	if got, err := src.Meta.Compressed(ctx, diffID, gz); err != nil || got.Digest != rec.Digest {
		t.Fatalf("recorded digest after the fallback: %s %v, want %s", got.Digest, err, rec.Digest)
	}
}
