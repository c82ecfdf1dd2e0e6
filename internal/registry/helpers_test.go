package registry

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/strata-dev/strata/internal/registry/storage"
)

// backends are the drivers every conformance test runs on.
var backends = []struct {
	name string
	new  func(t testing.TB) storage.Driver
}{
	{"fs", func(t testing.TB) storage.Driver {
		d, err := storage.NewFilesystem(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}},
	{"mem", func(t testing.TB) storage.Driver { return newMemDriver() }},
}

// env is one registry under test.
type env struct {
	t    testing.TB
	drv  storage.Driver
	srv  *Server
	ts   *httptest.Server
	auth string // Authorization header sent by do, if set
}

// forEachBackend runs fn as a parallel subtest per storage backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, drv storage.Driver)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.new(t))
		})
	}
}

func newEnv(t testing.TB, drv storage.Driver, cfg Config) *env {
	t.Helper()
	if drv == nil {
		drv = newMemDriver()
	}
	cfg.Storage = drv
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &env{t: t, drv: drv, srv: srv, ts: ts}
}

// resp is a read response.
type resp struct {
	*http.Response
	body []byte
}

// do sends a request; headers are "Key", "Value" pairs.
func (e *env) do(method, path string, body []byte, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = e.ts.URL + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if e.auth != "" {
		req.Header.Set("Authorization", e.auth)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) resp {
	e.t.Helper()
	r, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{r, b}
}

// want checks the status and, for errors, the code of the first entry.
func (r resp) want(t testing.TB, status int, code ...string) resp {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL, r.StatusCode, status, r.body)
	}
	if len(code) > 0 {
		var eb errorBody
		if err := json.Unmarshal(r.body, &eb); err != nil || len(eb.Errors) == 0 {
			t.Fatalf("%s %s: want error %s, body %q", r.Request.Method, r.Request.URL, code[0], r.body)
		}
		if eb.Errors[0].Code != code[0] {
			t.Fatalf("%s %s: error code %s, want %s (%s)", r.Request.Method, r.Request.URL, eb.Errors[0].Code, code[0], r.body)
		}
	}
	return r
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Of(b []byte) digest.Digest { return digest.FromBytes(b) }

func sha512Of(b []byte) digest.Digest {
	s := sha512.Sum512(b)
	return digest.NewDigestFromBytes(digest.SHA512, s[:])
}

// startUpload opens an upload session and returns its location.
func (e *env) startUpload(name string) string {
	e.t.Helper()
	r := e.do("POST", "/v2/"+name+"/blobs/uploads/", nil).want(e.t, 202)
	loc := r.Header.Get("Location")
	if loc == "" || r.Header.Get("Docker-Upload-UUID") == "" {
		e.t.Fatalf("POST upload: no Location or Docker-Upload-UUID: %v", r.Header)
	}
	return loc
}

// pushBlob uploads data with POST then PUT.
func (e *env) pushBlob(name string, data []byte) digest.Digest {
	e.t.Helper()
	d := sha256Of(data)
	loc := e.startUpload(name)
	e.do("PUT", loc+"?digest="+d.String(), data, "Content-Type", "application/octet-stream").want(e.t, 201)
	return d
}

// image is a pushed image manifest.
type image struct {
	config, layer digest.Digest
	manifest      []byte
	digest        digest.Digest
}

// pushImage pushes a config, a layer and an OCI manifest tagged tag (or
// by digest when tag is "").
func (e *env) pushImage(name, tag string, extra func(*v1.Manifest)) image {
	e.t.Helper()
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rand":%q}`, randBytes(e.t, 8)))
	layer := randBytes(e.t, 100)
	img := image{config: e.pushBlob(name, cfg), layer: e.pushBlob(name, layer)}
	m := v1.Manifest{
		MediaType: v1.MediaTypeImageManifest,
		Config:    v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: img.config, Size: int64(len(cfg))},
		Layers:    []v1.Descriptor{{MediaType: v1.MediaTypeImageLayerGzip, Digest: img.layer, Size: int64(len(layer))}},
	}
	m.SchemaVersion = 2
	if extra != nil {
		extra(&m)
	}
	img.manifest, _ = json.Marshal(m)
	img.digest = sha256Of(img.manifest)
	ref := tag
	if ref == "" {
		ref = img.digest.String()
	}
	r := e.do("PUT", "/v2/"+name+"/manifests/"+ref, img.manifest, "Content-Type", v1.MediaTypeImageManifest).want(e.t, 201)
	if got := r.Header.Get("Docker-Content-Digest"); got != img.digest.String() {
		e.t.Fatalf("manifest digest %s, want %s", got, img.digest)
	}
	return img
}

// ageBlob makes blob dg, its link in repository name and its lease look
// older by d, as if pushed that long ago.
func (e *env) ageBlob(name string, dg digest.Digest, d time.Duration) {
	e.t.Helper()
	e.age(blobPath(dg), d)
	e.age(layerLinkPath(name, dg), d)
	e.age(gcUsedPath(dg), d)
}

// age makes a stored file look older by d.
func (e *env) age(p string, d time.Duration) {
	e.t.Helper()
	switch drv := e.drv.(type) {
	case *memDriver:
		drv.age(p, d)
	case *storage.Filesystem:
		sub := "registry"
		if strings.HasPrefix(p, "blobs/") {
			sub = "content"
		}
		full := filepath.Join(drv.Dir(), sub, filepath.FromSlash(p))
		fi, err := os.Stat(full)
		if err != nil {
			e.t.Fatal(err)
		}
		mt := fi.ModTime().Add(-d)
		if err := os.Chtimes(full, mt, mt); err != nil {
			e.t.Fatal(err)
		}
	default:
		e.t.Fatalf("cannot age files on %T", drv)
	}
}

// has reports whether a path exists in storage.
func (e *env) has(p string) bool {
	e.t.Helper()
	ok, err := e.srv.store.exists(e.t.Context(), p)
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

// newRawRequest sends path exactly as written, with no cleaning or
// escaping by the client.
func newRawRequest(e *env, method, path string) (*http.Request, error) {
	req, err := http.NewRequest(method, e.ts.URL, nil)
	if err != nil {
		return nil, err
	}
	req.URL.Path, req.URL.RawPath = "", ""
	req.URL.Opaque = path
	if e.auth != "" {
		req.Header.Set("Authorization", e.auth)
	}
	return req, nil
}
