package registry

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/registry/storage"
)

func TestBase(t *testing.T) {
	e := newEnv(t, nil, Config{})
	r := e.do("GET", "/v2/", nil).want(t, 200)
	if r.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Fatalf("missing API version header: %v", r.Header)
	}
	e.do("GET", "/v2", nil).want(t, 200)
	e.do("POST", "/v2/", nil).want(t, 405, "UNSUPPORTED")
	e.do("GET", "/v2/foo/bar", nil).want(t, 404)
	e.do("GET", "/nothing", nil).want(t, 404)
}

func TestBlobPushPull(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		e := newEnv(t, drv, Config{})
		data := randBytes(t, 3000)
		d := e.pushBlob("lib/app", data)

		r := e.do("GET", "/v2/lib/app/blobs/"+d.String(), nil).want(t, 200)
		if !bytes.Equal(r.body, data) || r.Header.Get("Docker-Content-Digest") != d.String() {
			t.Fatalf("GET blob: body or digest wrong (%d bytes, %q)", len(r.body), r.Header.Get("Docker-Content-Digest"))
		}
		r = e.do("HEAD", "/v2/lib/app/blobs/"+d.String(), nil).want(t, 200)
		if r.Header.Get("Content-Length") != "3000" || len(r.body) != 0 || r.Header.Get("Docker-Content-Digest") != d.String() {
			t.Fatalf("HEAD blob: %v, %d body bytes", r.Header, len(r.body))
		}
		// The blob is where the local content store expects it.
		if !e.has("blobs/sha256/" + d.Encoded()) {
			t.Fatal("blob not at blobs/sha256/<hex>")
		}

		// Ranges.
		r = e.do("GET", "/v2/lib/app/blobs/"+d.String(), nil, "Range", "bytes=10-19").want(t, 206)
		if !bytes.Equal(r.body, data[10:20]) || r.Header.Get("Content-Range") != "bytes 10-19/3000" {
			t.Fatalf("range: %q %q", r.Header.Get("Content-Range"), r.body)
		}
		r = e.do("GET", "/v2/lib/app/blobs/"+d.String(), nil, "Range", "bytes=-5").want(t, 206)
		if !bytes.Equal(r.body, data[2995:]) {
			t.Fatal("suffix range wrong")
		}
		r = e.do("GET", "/v2/lib/app/blobs/"+d.String(), nil, "Range", "bytes=2990-").want(t, 206)
		if !bytes.Equal(r.body, data[2990:]) {
			t.Fatal("open range wrong")
		}
		r = e.do("GET", "/v2/lib/app/blobs/"+d.String(), nil, "Range", "bytes=5000-6000").want(t, 416)
		if r.Header.Get("Content-Range") != "bytes */3000" {
			t.Fatalf("416 Content-Range %q", r.Header.Get("Content-Range"))
		}

		// Another repository cannot read it, even knowing the digest.
		e.do("GET", "/v2/other/blobs/"+d.String(), nil).want(t, 404, "BLOB_UNKNOWN")
		e.do("HEAD", "/v2/other/blobs/"+d.String(), nil).want(t, 404)
		// Unknown blob.
		e.do("GET", "/v2/lib/app/blobs/"+sha256Of([]byte("nope")).String(), nil).want(t, 404, "BLOB_UNKNOWN")

		// DELETE unlinks it from the repository only.
		e.pushBlob("second", data)
		e.do("DELETE", "/v2/lib/app/blobs/"+d.String(), nil).want(t, 202)
		e.do("GET", "/v2/lib/app/blobs/"+d.String(), nil).want(t, 404, "BLOB_UNKNOWN")
		e.do("DELETE", "/v2/lib/app/blobs/"+d.String(), nil).want(t, 404, "BLOB_UNKNOWN")
		e.do("GET", "/v2/second/blobs/"+d.String(), nil).want(t, 200)
	})
}

func TestBlobSinglePOSTAndSHA512(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		e := newEnv(t, drv, Config{})
		data := randBytes(t, 1234)
		d := sha256Of(data)
		r := e.do("POST", "/v2/mono/blobs/uploads/?digest="+d.String(), data).want(t, 201)
		if r.Header.Get("Location") != "/v2/mono/blobs/"+d.String() || r.Header.Get("Docker-Content-Digest") != d.String() {
			t.Fatalf("single POST headers: %v", r.Header)
		}
		e.do("GET", "/v2/mono/blobs/"+d.String(), nil).want(t, 200)
		// The same blob again: hashed, not stored twice, linked.
		e.do("POST", "/v2/mono2/blobs/uploads/?digest="+d.String(), data).want(t, 201)
		e.do("GET", "/v2/mono2/blobs/"+d.String(), nil).want(t, 200)
		// ...but a lying body gains nothing, in one POST or POST+PUT.
		e.do("POST", "/v2/thief/blobs/uploads/?digest="+d.String(), []byte("other")).want(t, 400, "DIGEST_INVALID")
		loc := e.startUpload("thief")
		e.do("PUT", loc+"?digest="+d.String(), []byte("other")).want(t, 400, "DIGEST_INVALID")
		e.do("GET", loc, nil).want(t, 404, "BLOB_UPLOAD_UNKNOWN")
		e.do("GET", "/v2/thief/blobs/"+d.String(), nil).want(t, 404, "BLOB_UNKNOWN")
		// Chunked onto an existing blob: completes through the stored data.
		loc = e.startUpload("mono3")
		e.do("PATCH", loc, data[:1000], "Content-Range", "0-999").want(t, 202)
		e.do("PUT", loc+"?digest="+d.String(), data[1000:], "Content-Range", "1000-1233").want(t, 201)
		e.do("GET", "/v2/mono3/blobs/"+d.String(), nil).want(t, 200)

		// sha512, single POST and chunked with digest-algorithm.
		d512 := sha512Of(data)
		e.do("POST", "/v2/mono/blobs/uploads/?digest="+d512.String(), data).want(t, 201)
		r = e.do("GET", "/v2/mono/blobs/"+d512.String(), nil).want(t, 200)
		if !bytes.Equal(r.body, data) || !e.has("blobs/sha512/"+d512.Encoded()) {
			t.Fatal("sha512 blob wrong")
		}
		data2 := randBytes(t, 500)
		d2 := sha512Of(data2)
		r = e.do("POST", "/v2/mono/blobs/uploads/?digest-algorithm=sha512", nil).want(t, 202)
		loc = r.Header.Get("Location")
		e.do("PATCH", loc, data2[:200], "Content-Range", "0-199").want(t, 202)
		e.do("PUT", loc+"?digest="+d2.String(), data2[200:], "Content-Range", "200-499").want(t, 201)
		e.do("GET", "/v2/mono/blobs/"+d2.String(), nil).want(t, 200)
		e.do("POST", "/v2/mono/blobs/uploads/?digest-algorithm=md5", nil).want(t, 400, "DIGEST_INVALID")
		// A sha256 session completed with a sha512 digest rehashes.
		data3 := randBytes(t, 77)
		loc = e.startUpload("mono")
		e.do("PATCH", loc, data3).want(t, 202)
		e.do("PUT", loc+"?digest="+sha512Of(data3).String(), nil).want(t, 201)
	})
}

func TestBlobChunked(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		e := newEnv(t, drv, Config{})
		data := randBytes(t, 10000)
		d := sha256Of(data)
		r := e.do("POST", "/v2/chunky/blobs/uploads/", nil).want(t, 202)
		if r.Header.Get("Range") != "0-0" || r.Header.Get("OCI-Chunk-Min-Length") == "" {
			t.Fatalf("POST headers: %v", r.Header)
		}
		loc := r.Header.Get("Location")
		r = e.do("PATCH", loc, data[:4000], "Content-Range", "0-3999", "Content-Type", "application/octet-stream").want(t, 202)
		if r.Header.Get("Range") != "0-3999" {
			t.Fatalf("PATCH Range %q", r.Header.Get("Range"))
		}
		loc = r.Header.Get("Location")
		// Out of order: 416 with the current Range.
		r = e.do("PATCH", loc, data[5000:6000], "Content-Range", "5000-5999").want(t, 416)
		if r.Header.Get("Range") != "0-3999" {
			t.Fatalf("416 Range %q", r.Header.Get("Range"))
		}
		e.do("PATCH", loc, data[:10], "Content-Range", "0-9").want(t, 416)
		// Content-Range and Content-Length disagree.
		e.do("PATCH", loc, data[4000:4010], "Content-Range", "4000-4019").want(t, 400, "SIZE_INVALID")
		e.do("PATCH", loc, data[4000:4010], "Content-Range", "banana").want(t, 416)
		// Status.
		r = e.do("GET", loc, nil).want(t, 204)
		if r.Header.Get("Range") != "0-3999" || r.Header.Get("Location") == "" {
			t.Fatalf("status headers: %v", r.Header)
		}
		// Streamed chunk: no Content-Range.
		r = e.do("PATCH", loc, data[4000:8000]).want(t, 202)
		if r.Header.Get("Range") != "0-7999" {
			t.Fatalf("streamed PATCH Range %q", r.Header.Get("Range"))
		}
		// Final chunk in the PUT.
		e.do("PUT", loc+"?digest="+d.String(), data[8000:], "Content-Range", "8000-9999").want(t, 201)
		r = e.do("GET", "/v2/chunky/blobs/"+d.String(), nil).want(t, 200)
		if !bytes.Equal(r.body, data) {
			t.Fatal("chunked blob content wrong")
		}
		// The session is gone.
		e.do("GET", loc, nil).want(t, 404, "BLOB_UPLOAD_UNKNOWN")
		e.do("PATCH", loc, data[:1], "Content-Range", "0-0").want(t, 404, "BLOB_UPLOAD_UNKNOWN")

		// Cancel.
		loc = e.startUpload("chunky")
		e.do("PATCH", loc, data[:100]).want(t, 202)
		e.do("DELETE", loc, nil).want(t, 204)
		e.do("GET", loc, nil).want(t, 404, "BLOB_UPLOAD_UNKNOWN")
		e.do("DELETE", loc, nil).want(t, 404, "BLOB_UPLOAD_UNKNOWN")

		// Empty blob and a missing digest.
		loc = e.startUpload("chunky")
		e.do("PUT", loc, nil).want(t, 400, "DIGEST_INVALID")
		e.do("PUT", loc+"?digest="+sha256Of(nil).String(), nil).want(t, 201)
		r = e.do("GET", "/v2/chunky/blobs/"+sha256Of(nil).String(), nil).want(t, 200)
		if len(r.body) != 0 {
			t.Fatal("empty blob not empty")
		}
	})
}

func TestDigestMismatchStoresNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		e := newEnv(t, drv, Config{})
		data := randBytes(t, 2048)
		wrong := sha256Of([]byte("something else"))
		loc := e.startUpload("mis")
		e.do("PATCH", loc, data[:1000], "Content-Range", "0-999").want(t, 202)
		e.do("PUT", loc+"?digest="+wrong.String(), data[1000:]).want(t, 400, "DIGEST_INVALID")
		if e.has("blobs/sha256/"+sha256Of(data).Encoded()) || e.has("blobs/sha256/"+wrong.Encoded()) {
			t.Fatal("a blob was stored despite the digest mismatch")
		}
		e.do("GET", loc, nil).want(t, 404, "BLOB_UPLOAD_UNKNOWN")
		if e.has("uploads") && len(mustList(t, e, "uploads")) != 0 {
			t.Fatalf("upload left behind: %v", mustList(t, e, "uploads"))
		}
		e.do("POST", "/v2/mis/blobs/uploads/?digest="+wrong.String(), data).want(t, 400, "DIGEST_INVALID")
		e.do("GET", "/v2/mis/blobs/"+wrong.String(), nil).want(t, 404)
		if e.has("blobs/sha256/" + wrong.Encoded()) {
			t.Fatal("single POST stored a mismatching blob")
		}
		// Malformed digests.
		for _, bad := range []string{"sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:" + string(bytes.Repeat([]byte("Z"), 64)), "nodigest"} {
			loc := e.startUpload("mis")
			e.do("PUT", loc+"?digest="+bad, data).want(t, 400, "DIGEST_INVALID")
			e.do("GET", "/v2/mis/blobs/"+bad, nil).want(t, 400, "DIGEST_INVALID")
		}
	})
}

func mustList(t *testing.T, e *env, dir string) []string {
	t.Helper()
	names, err := e.srv.store.list(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// rawRequest writes a request whose body stops short of its
// Content-Length, then closes the write side.
func rawTruncated(t *testing.T, e *env, method, path string, declared int, sent []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n\r\n", method, path, declared)
	conn.Write(sent)
	conn.(*net.TCPConn).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := conn.Read(buf); err != nil {
			return
		}
	}
}

func TestTruncatedUpload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		e := newEnv(t, drv, Config{})
		data := randBytes(t, 1000)
		d := sha256Of(data)
		// Monolithic PUT cut short: nothing stored, the session survives
		// at the offset that arrived and can be finished.
		loc := e.startUpload("trunc")
		rawTruncated(t, e, "PUT", loc+"?digest="+d.String(), len(data), data[:400])
		waitFor(t, func() bool { return !e.has("blobs/sha256/"+d.Encoded()) && e.do("GET", loc, nil).StatusCode == 204 })
		r := e.do("GET", loc, nil).want(t, 204)
		if r.Header.Get("Range") != "0-399" {
			t.Fatalf("after a truncated PUT, Range = %q, want 0-399", r.Header.Get("Range"))
		}
		e.do("PUT", loc+"?digest="+d.String(), data[400:], "Content-Range", "400-"+strconv.Itoa(len(data)-1)).want(t, 201)
		r = e.do("GET", "/v2/trunc/blobs/"+d.String(), nil).want(t, 200)
		if !bytes.Equal(r.body, data) {
			t.Fatal("resumed blob content wrong")
		}
		// Single POST cut short: nothing at all remains.
		d2 := sha256Of(data[:999])
		rawTruncated(t, e, "POST", "/v2/trunc/blobs/uploads/?digest="+d2.String(), 999, data[:500])
		waitFor(t, func() bool { return len(mustList(t, e, "uploads")) == 0 })
		if e.has("blobs/sha256/" + d2.Encoded()) {
			t.Fatal("truncated single POST stored a blob")
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not reached in 5s")
}

func TestMount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		e := newEnv(t, drv, Config{})
		data := randBytes(t, 300)
		d := e.pushBlob("src", data)
		r := e.do("POST", "/v2/dst/blobs/uploads/?mount="+d.String()+"&from=src", nil).want(t, 201)
		if r.Header.Get("Location") != "/v2/dst/blobs/"+d.String() || r.Header.Get("Docker-Content-Digest") != d.String() {
			t.Fatalf("mount headers: %v", r.Header)
		}
		e.do("GET", "/v2/dst/blobs/"+d.String(), nil).want(t, 200)
		// The source lacks it: a fresh upload instead.
		other := sha256Of([]byte("absent"))
		r = e.do("POST", "/v2/dst/blobs/uploads/?mount="+other.String()+"&from=src", nil).want(t, 202)
		if r.Header.Get("Location") == "" {
			t.Fatal("fallback upload has no Location")
		}
		// From a repository that exists but without the blob.
		e.pushBlob("lacking", []byte("x"))
		e.do("POST", "/v2/dst2/blobs/uploads/?mount="+d.String()+"&from=lacking", nil).want(t, 202)
		// Anonymous mount: from anywhere.
		e.do("POST", "/v2/anon/blobs/uploads/?mount="+d.String(), nil).want(t, 201)
		e.do("GET", "/v2/anon/blobs/"+d.String(), nil).want(t, 200)
		e.do("POST", "/v2/anon/blobs/uploads/?mount="+other.String(), nil).want(t, 202)
		// Bad parameters.
		e.do("POST", "/v2/dst/blobs/uploads/?mount=sha256:zz&from=src", nil).want(t, 400, "DIGEST_INVALID")
		e.do("POST", "/v2/dst/blobs/uploads/?mount="+d.String()+"&from=BAD", nil).want(t, 400, "NAME_INVALID")
	})
}

func TestUploadBoundToRepository(t *testing.T) {
	e := newEnv(t, nil, Config{})
	loc := e.startUpload("owner")
	id := loc[len("/v2/owner/blobs/uploads/"):]
	data := []byte("hello")
	// The session URL moved to another repository is unknown there.
	for _, m := range []string{"GET", "PATCH", "PUT", "DELETE"} {
		e.do(m, "/v2/intruder/blobs/uploads/"+id+"?digest="+sha256Of(data).String(), data).want(t, 404, "BLOB_UPLOAD_UNKNOWN")
	}
	e.do("PATCH", loc, data).want(t, 202)
	// Forged ids: well formed but unknown, and malformed.
	forged := newUUID()
	e.do("PATCH", "/v2/owner/blobs/uploads/"+forged, data).want(t, 404, "BLOB_UPLOAD_UNKNOWN")
	for _, bad := range []string{"notauuid", "ABCDEF00-0000-4000-8000-000000000000", "..", "state", id + "x"} {
		e.do("GET", "/v2/owner/blobs/uploads/"+bad, nil).want(t, 404, "BLOB_UPLOAD_UNKNOWN")
	}
	e.do("PUT", loc+"?digest="+sha256Of(data).String(), nil).want(t, 201)
}
