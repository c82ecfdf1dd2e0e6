package imagearchive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/reference"
)

// testStore is a real image store in a temporary directory.
type testStore struct {
	*imagestore.Store
	root string
}

func newStore(t testing.TB) *testStore {
	t.Helper()
	dir := t.TempDir()
	c, err := content.Open(filepath.Join(dir, "content"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := metadata.Open(filepath.Join(dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	s, err := imagestore.New(c, m, filepath.Join(dir, "locks"))
	if err != nil {
		t.Fatal(err)
	}
	return &testStore{Store: s, root: dir}
}

// blobs returns the digests of every committed blob.
func (ts *testStore) blobs(t testing.TB) []digest.Digest {
	t.Helper()
	var out []digest.Digest
	if err := ts.Content.Walk(func(i content.Info) error { out = append(out, i.Digest); return nil }); err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ingests returns the names of ingest directories left behind.
func (ts *testStore) ingests(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(ts.root, "content", "ingest"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func (ts *testStore) images(t testing.TB) []metadata.Image {
	t.Helper()
	imgs, err := ts.Meta.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return imgs
}

// file is one entry of a tar built by buildTar.
type file struct {
	name     string
	body     string
	typeflag byte // 0 means regular file
	linkname string
}

func buildTar(t testing.TB, files ...file) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Typeflag: f.typeflag, Linkname: f.linkname, Mode: 0o644, ModTime: time.Unix(1, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.body))
		}
		if h.Typeflag == tar.TypeChar {
			h.Devmajor, h.Devminor = 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(f.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// diffID is the sha256 of a layer's uncompressed bytes, computed without
// any validation (so it works for hostile layers too).
func diffID(t testing.TB, layer []byte) digest.Digest {
	t.Helper()
	rc, _, err := archive.Decompress(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatal(err)
	}
	return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil)))
}

// configFor returns a config for layers; label makes it unique.
func configFor(t testing.TB, label string, layers ...[]byte) []byte {
	t.Helper()
	cfg := image.Config{Architecture: runtime.GOARCH, OS: "linux", RootFS: image.RootFS{Type: "layers", DiffIDs: []digest.Digest{}}}
	cfg.Config.Labels = map[string]string{"test": label}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID(t, l))
	}
	raw, _, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// addImage stores an image made of layers (stored as given: plain, gzip or
// zstd) and tags it.
func addImage(t testing.TB, s *testStore, label string, tags []string, layers ...[]byte) metadata.Image {
	t.Helper()
	release, err := s.Lease()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var ls []imagestore.Layer
	for _, l := range layers {
		info, err := archive.Scan(bytes.NewReader(l), nil, archive.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		blob, err := s.Content.Ingest(bytes.NewReader(l), int64(len(l)), "")
		if err != nil {
			t.Fatal(err)
		}
		mt := image.LayerMediaType(compressionName(info.Compression), false)
		ls = append(ls, imagestore.Layer{Digest: blob.Digest, Size: blob.Size, MediaType: mt, DiffID: info.DiffID, DiffSize: info.Size})
	}
	var refs []reference.Reference
	for _, tag := range tags {
		r, err := reference.Parse(tag)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	img, _, err := s.Commit(context.Background(), imagestore.NewImage{Config: configFor(t, label, layers...), Layers: ls}, refs, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Meta.Get(context.Background(), img.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// readTar returns the headers and bodies of a tar, in order.
func readTar(t testing.TB, b []byte) ([]*tar.Header, map[string][]byte) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var hdrs []*tar.Header
	bodies := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hdrs, bodies
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := bodies[h.Name]; dup {
			t.Fatalf("entry %s written twice", h.Name)
		}
		hdrs = append(hdrs, h)
		bodies[h.Name] = body
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// layerTar is a small valid layer whose content depends on seed.
func layerTar(t testing.TB, seed string) []byte {
	return buildTar(t,
		file{name: "etc/", typeflag: tar.TypeDir},
		file{name: "etc/" + seed, body: fmt.Sprintf("content of %s\n", seed)},
	)
}
