package registry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// apiError is the first error of a distribution-spec error body.
func apiError(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Errors []struct{ Code string }
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 {
		t.Errorf("error body %q is not {\"errors\":[...]}", body)
		return ""
	}
	return e.Errors[0].Code
}

// do sends one request and returns the status, headers and body.
func do(t *testing.T, method, u string, body []byte, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := insecureClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

// wantError checks a status among statuses and the error code.
func wantError(t *testing.T, what string, status int, body []byte, code string, statuses ...int) {
	t.Helper()
	if !slices.Contains(statuses, status) {
		t.Errorf("%s: status %d, want one of %v (%s)", what, status, statuses, body)
	}
	if got := apiError(t, body); got != code {
		t.Errorf("%s: error code %q, want %q (%s)", what, got, code, body)
	}
}

// TestHTTPBadInput sends requests no well-behaved client sends.
func TestHTTPBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := filepath.Join(dir, "store")
	conf := testbin.WriteFile(t, filepath.Join(dir, "registry.yml"), fmt.Sprintf(`storage:
  filesystem:
    root: %s
limits:
  max_page_size: 2
`, root))
	reg := startRegistry(t, dir, registryOpts{noRoot: true, args: []string{"--config", conf}})
	base := reg.url()

	t.Run("manifest with a missing blob", func(t *testing.T) {
		layer := tinyLayer(t, 60)
		cfg := bytesBlob(imageConfig([]string{layer.digest}))
		uploadBlob(t, base, "bad/missing", cfg) // the layer is never uploaded
		code, body := putManifest(t, base, "bad/missing", "v1", mtOCIManifest, ociManifest(cfg, []blob{layer}))
		wantError(t, "PUT manifest", code, body, "MANIFEST_BLOB_UNKNOWN", http.StatusNotFound, http.StatusBadRequest)
		if _, _, code := manifestOf(t, base, "bad/missing", "v1"); code != http.StatusNotFound {
			t.Errorf("the refused manifest is served: %d", code)
		}
	})

	t.Run("blob with a wrong digest", func(t *testing.T) {
		data := randomBytes(61, 4096)
		wrong := digestOf([]byte("something else"))
		// POST then PUT.
		code, hdr, _ := do(t, http.MethodPost, base+"/v2/bad/digest/blobs/uploads/", nil, nil)
		if code != http.StatusAccepted {
			t.Fatalf("POST: %d", code)
		}
		loc := uploadURL(t, base, &http.Response{Header: hdr}, url.Values{"digest": {wrong}})
		code, _, body := do(t, http.MethodPut, loc, data, map[string]string{"Content-Type": "application/octet-stream"})
		wantError(t, "PUT with a wrong digest", code, body, "DIGEST_INVALID", http.StatusBadRequest)
		// Monolithic POST.
		code, _, body = do(t, http.MethodPost, base+"/v2/bad/digest/blobs/uploads/?digest="+wrong, data,
			map[string]string{"Content-Type": "application/octet-stream"})
		wantError(t, "monolithic POST with a wrong digest", code, body, "DIGEST_INVALID", http.StatusBadRequest)
		for _, dg := range []string{wrong, digestOf(data)} {
			if _, code := getBlob(t, base, "bad/digest", dg); code != http.StatusNotFound {
				t.Errorf("GET %s after the refused uploads: %d, want 404", dg, code)
			}
		}
		if files := blobFiles(t, root); files[digestOf(data)] || files[wrong] {
			t.Errorf("a refused blob is on disk: %v", files)
		}
		// A malformed digest.
		code, _, body = do(t, http.MethodPost, base+"/v2/bad/digest/blobs/uploads/?digest=sha256:xyz", data, nil)
		wantError(t, "monolithic POST with a malformed digest", code, body, "DIGEST_INVALID", http.StatusBadRequest)
	})

	t.Run("another repository's blob", func(t *testing.T) {
		b := bytesBlob(randomBytes(62, 2048))
		uploadBlob(t, base, "bad/owner", b)
		if data, code := getBlob(t, base, "bad/owner", b.digest); code != http.StatusOK || !bytes.Equal(data, randomBytes(62, 2048)) {
			t.Fatalf("GET in its own repository: %d", code)
		}
		code, _, body := do(t, http.MethodGet, base+"/v2/bad/stranger/blobs/"+b.digest, nil, nil)
		wantError(t, "GET from another repository", code, body, "BLOB_UNKNOWN", http.StatusNotFound)
		if code, _, _ := do(t, http.MethodHead, base+"/v2/bad/stranger/blobs/"+b.digest, nil, nil); code != http.StatusNotFound {
			t.Errorf("HEAD from another repository: %d, want 404", code)
		}
		// A mount from a repository that lacks the blob starts an upload
		// instead of linking it.
		code, _, _ = do(t, http.MethodPost, base+"/v2/bad/stranger/blobs/uploads/?mount="+b.digest+"&from=bad/nobody", nil, nil)
		if code != http.StatusAccepted {
			t.Errorf("mount from a repository without the blob: %d, want 202", code)
		}
		if _, code := getBlob(t, base, "bad/stranger", b.digest); code != http.StatusNotFound {
			t.Errorf("the failed mount linked the blob: %d", code)
		}
		// An upload session belongs to its repository.
		code, hdr, _ := do(t, http.MethodPost, base+"/v2/bad/owner/blobs/uploads/", nil, nil)
		if code != http.StatusAccepted {
			t.Fatalf("POST: %d", code)
		}
		loc := uploadURL(t, base, &http.Response{Header: hdr}, nil)
		stolen := strings.Replace(loc, "/bad/owner/", "/bad/stranger/", 1)
		code, _, body = do(t, http.MethodPatch, stolen, []byte("data"), map[string]string{"Content-Type": "application/octet-stream"})
		wantError(t, "PATCH of another repository's upload", code, body, "BLOB_UPLOAD_UNKNOWN", http.StatusNotFound)
	})

	t.Run("bad names", func(t *testing.T) {
		for _, path := range []string{"/v2/a/../b/tags/list", "/v2/../etc/tags/list", "/v2/a/%2e%2e/b/tags/list", "/v2/UPPER/tags/list", "/v2/a//b/tags/list"} {
			code, _, body := rawRequest(t, reg.addr, "GET", path)
			if code != http.StatusBadRequest && code != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 400 or 404 (%s)", path, code, body)
			}
			if code == http.StatusBadRequest {
				if c := apiError(t, body); c != "NAME_INVALID" {
					t.Errorf("GET %s: code %q, want NAME_INVALID", path, c)
				}
			}
		}
		code, _, body := rawRequest(t, reg.addr, "PUT", "/v2/a/../b/manifests/v1")
		if code != http.StatusBadRequest && code != http.StatusNotFound {
			t.Errorf("PUT through ..: %d %s", code, body)
		}
	})

	t.Run("bad manifests", func(t *testing.T) {
		code, _, body := do(t, http.MethodPut, base+"/v2/bad/man/manifests/v1", []byte("notjson"), map[string]string{"Content-Type": mtOCIManifest})
		wantError(t, "PUT of invalid JSON", code, body, "MANIFEST_INVALID", http.StatusBadRequest)
		big := bytes.Repeat([]byte(" "), 5<<20)
		code, _, body = do(t, http.MethodPut, base+"/v2/bad/man/manifests/v1", big, map[string]string{"Content-Type": mtOCIManifest})
		if code != http.StatusRequestEntityTooLarge && code != http.StatusBadRequest {
			t.Errorf("PUT of a 5 MiB manifest: %d %s", code, body)
		}
		cfg := bytesBlob(imageConfig(nil))
		uploadBlob(t, base, "bad/man", cfg)
		raw := ociManifest(cfg, nil)
		other := digestOf([]byte("not this manifest"))
		code, _, body = do(t, http.MethodPut, base+"/v2/bad/man/manifests/"+other, raw, map[string]string{"Content-Type": mtOCIManifest})
		wantError(t, "PUT by a digest the body does not have", code, body, "DIGEST_INVALID", http.StatusBadRequest)
		if _, _, code := manifestOf(t, base, "bad/man", digestOf(raw)); code != http.StatusNotFound {
			t.Errorf("a refused manifest is served by its real digest: %d", code)
		}
	})

	t.Run("page size is clamped", func(t *testing.T) {
		cfg := bytesBlob(imageConfig(nil))
		for _, repo := range []string{"page/a", "page/b", "page/c"} {
			uploadBlob(t, base, repo, cfg)
		}
		raw := ociManifest(cfg, nil)
		for _, repo := range []string{"page/a", "page/b", "page/c"} {
			for _, tag := range []string{"t1", "t2", "t3"} {
				if code, body := putManifest(t, base, repo, tag, mtOCIManifest, raw); code != http.StatusCreated {
					t.Fatalf("PUT %s:%s: %d %s", repo, tag, code, body)
				}
			}
		}
		var tags []string
		next := "/v2/page/a/tags/list?n=1000000000"
		for pages := 0; next != ""; pages++ {
			if pages > 3 {
				t.Fatal("tags/list pages do not end")
			}
			var page struct{ Tags []string }
			code, hdr, body := do(t, http.MethodGet, base+next, nil, nil)
			if code != http.StatusOK || json.Unmarshal(body, &page) != nil {
				t.Fatalf("GET %s: %d %s", next, code, body)
			}
			if len(page.Tags) > 2 {
				t.Errorf("GET %s returned %d tags, the limit is 2", next, len(page.Tags))
			}
			tags = append(tags, page.Tags...)
			next = linkNext(hdr.Get("Link"))
		}
		if !slices.Equal(tags, []string{"t1", "t2", "t3"}) {
			t.Errorf("tags over all pages: %v", tags)
		}
		var cat struct{ Repositories []string }
		code, hdr, body := do(t, http.MethodGet, base+"/v2/_catalog?n=99999999999999999999", nil, nil)
		if code >= 500 {
			t.Errorf("catalog with an overflowing n: %d", code)
		}
		if code == http.StatusOK {
			if json.Unmarshal(body, &cat) != nil || len(cat.Repositories) != 2 || hdr.Get("Link") == "" {
				t.Errorf("catalog with an overflowing n: %s, Link %q; want 2 repositories and a next page", body, hdr.Get("Link"))
			}
		}
	})

	t.Run("blob ranges", func(t *testing.T) {
		data := randomBytes(63, 10000)
		b := bytesBlob(data)
		uploadBlob(t, base, "bad/range", b)
		code, hdr, body := do(t, http.MethodGet, base+"/v2/bad/range/blobs/"+b.digest, nil, map[string]string{"Range": "bytes=100-199"})
		if code != http.StatusPartialContent || !bytes.Equal(body, data[100:200]) || hdr.Get("Content-Range") != "bytes 100-199/10000" {
			t.Errorf("GET with Range bytes=100-199: %d, %d bytes, Content-Range %q", code, len(body), hdr.Get("Content-Range"))
		}
		code, _, body = do(t, http.MethodGet, base+"/v2/bad/range/blobs/"+b.digest, nil, map[string]string{"Range": "bytes=9000-"})
		if code != http.StatusPartialContent || !bytes.Equal(body, data[9000:]) {
			t.Errorf("GET with Range bytes=9000-: %d, %d bytes", code, len(body))
		}
		code, _, _ = do(t, http.MethodGet, base+"/v2/bad/range/blobs/"+b.digest, nil, map[string]string{"Range": "bytes=20000-"})
		if code != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("GET with a Range past the end: %d, want 416", code)
		}
		// A chunk that does not start where the upload is refused.
		code, hdr, _ = do(t, http.MethodPost, base+"/v2/bad/range/blobs/uploads/", nil, nil)
		if code != http.StatusAccepted {
			t.Fatalf("POST: %d", code)
		}
		loc := uploadURL(t, base, &http.Response{Header: hdr}, nil)
		loc = patchChunk(t, base, loc, data[:100], 0)
		code, _, body = do(t, http.MethodPatch, loc, data[200:300], map[string]string{
			"Content-Type": "application/octet-stream", "Content-Range": "200-299"})
		if code != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("PATCH at 200 of an upload at 100: %d %s, want 416", code, body)
		}
	})
}

// linkNext extracts the path of a Link: <...>; rel="next" header.
func linkNext(link string) string {
	if link == "" {
		return ""
	}
	start, end := strings.Index(link, "<"), strings.Index(link, ">")
	if start < 0 || end < start {
		return ""
	}
	u, err := url.Parse(link[start+1 : end])
	if err != nil {
		return ""
	}
	return u.RequestURI()
}

// rawRequest sends a request with the path exactly as given (no cleaning
// or escaping) over a plain TCP connection.
func rawRequest(t *testing.T, addr, method, path string) (int, http.Header, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", method, path, addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}
