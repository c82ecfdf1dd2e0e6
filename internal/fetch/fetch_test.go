package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

func TestIsURL(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"http://example.com/x":  true,
		"https://example.com/x": true,
		"HTTP://example.com/x":  false, // Docker's rule is case sensitive
		"ftp://example.com/x":   false,
		"git@github.com:a/b":    false,
		"./http://x":            false,
		"src/file.txt":          false,
		"":                      false,
	} {
		if got := IsURL(s); got != want {
			t.Errorf("IsURL(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestDownload(t *testing.T) {
	t.Parallel()
	body := []byte("hello, strata\n")
	modified := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if cd := r.URL.Query().Get("cd"); cd != "" {
			w.Header().Set("Content-Disposition", cd)
		}
		if r.URL.Query().Has("lm") {
			w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
		}
		w.Write(body)
	})
	tests := []struct {
		path, cd string
		lm       bool
		wantName string
	}{
		{path: "/dir/file.txt", wantName: "file.txt"},
		{path: "/", wantName: "download"},
		{path: "/get", cd: `attachment; filename="report.pdf"`, wantName: "report.pdf"},
		{path: "/get.bin", cd: `attachment; filename="../../x"`, wantName: "get.bin"},
		{path: "/f", lm: true, wantName: "f"},
	}
	for _, tt := range tests {
		q := url.Values{}
		if tt.cd != "" {
			q.Set("cd", tt.cd)
		}
		if tt.lm {
			q.Set("lm", "1")
		}
		dir := t.TempDir()
		u := srv.URL + tt.path + "?" + q.Encode()
		res, err := Download(context.Background(), u, dir, allow())
		if err != nil {
			t.Fatalf("Download(%s): %v", u, err)
		}
		got, err := os.ReadFile(res.Path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, body) {
			t.Errorf("%s: content %q, want %q", u, got, body)
		}
		if filepath.Dir(res.Path) != dir {
			t.Errorf("%s: file %s is not in %s", u, res.Path, dir)
		}
		if want := digest.FromBytes(body); res.Digest != want || res.Size != int64(len(body)) {
			t.Errorf("%s: digest %s size %d, want %s %d", u, res.Digest, res.Size, want, len(body))
		}
		if res.Name != tt.wantName {
			t.Errorf("%s: name %q, want %q", u, res.Name, tt.wantName)
		}
		if tt.lm {
			if !res.Modified.Equal(modified) {
				t.Errorf("%s: modified %v, want %v", u, res.Modified, modified)
			}
			if fi, err := os.Stat(res.Path); err != nil || !fi.ModTime().Equal(modified) {
				t.Errorf("%s: file mtime not set from Last-Modified: %v %v", u, fi.ModTime(), err)
			}
		} else if !res.Modified.IsZero() {
			t.Errorf("%s: modified %v without Last-Modified", u, res.Modified)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("%s: %d files in dir, want 1", u, len(ents))
		}
	}
}

func TestDownloadByteExact(t *testing.T) {
	t.Parallel()
	// A gzip-encoded response is stored as sent, not decoded by the client:
	// the digest and --checksum cover the server's bytes.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("layer "), 1000))
	zw.Close()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "" {
			t.Errorf("request asks for Accept-Encoding %q", r.Header.Get("Accept-Encoding"))
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gz.Bytes())
	})
	o := allow()
	o.Checksum = digest.FromBytes(gz.Bytes())
	res, err := Download(context.Background(), srv.URL+"/a.tar.gz", t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(res.Path)
	if !bytes.Equal(got, gz.Bytes()) {
		t.Fatalf("stored %d bytes, want the %d gzip bytes as sent", len(got), gz.Len())
	}
}

func TestRefusesPrivate(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("secret"))
	})
	u := srv.URL + "/secret"
	mustFail(t, u, Options{}, errdefs.ErrPermission,
		"ADD "+u+": refusing to download from private address 127.0.0.1", "--allow-private-network")

	// A host name is judged by the address it resolves to.
	byName := strings.Replace(u, "127.0.0.1", "localhost", 1)
	mustFail(t, byName, Options{}, errdefs.ErrPermission, "ADD "+byName+": refusing to download from private address")

	if n := hits.Load(); n != 0 {
		t.Fatalf("the private server was reached %d times", n)
	}
}

func TestRedirectToPrivateRefused(t *testing.T) {
	t.Parallel()
	var inner atomic.Int32
	private := serve(t, func(w http.ResponseWriter, r *http.Request) {
		inner.Add(1)
		w.Write([]byte("secret"))
	})
	var outer atomic.Int32
	public := serve(t, func(w http.ResponseWriter, r *http.Request) {
		outer.Add(1)
		http.Redirect(w, r, private.URL+"/secret", http.StatusFound)
	})
	// Both servers are on loopback; the guard of this test lets only the
	// "public" one through, by port, to show that each redirect hop is
	// checked at dial time.
	publicPort := mustPort(t, public.URL)
	guard := func(ap netip.AddrPort) error {
		if ap.Port() == publicPort {
			return nil
		}
		return refusePrivate(ap)
	}
	dir := t.TempDir()
	_, err := download(context.Background(), public.URL+"/start", dir, Options{}, guard)
	if !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("err = %v, want a permission error", err)
	}
	if want := "redirected to " + private.URL + "/secret"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if outer.Load() != 1 || inner.Load() != 0 {
		t.Fatalf("hits: public %d, private %d; want 1 and 0", outer.Load(), inner.Load())
	}
	assertEmpty(t, dir)
}

func mustPort(t *testing.T, rawURL string) uint16 {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.ParseUint(u.Port(), 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return uint16(p)
}

func TestMaxSize(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("x"), 100)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("chunked") {
			// Flushing before the body is done forces chunked encoding:
			// no Content-Length to check up front.
			w.Write(body[:10])
			w.(http.Flusher).Flush()
			w.Write(body[10:])
			return
		}
		if r.URL.Query().Has("declared") {
			// Claims more than it sends: only the up-front check of
			// Content-Length reports the limit rather than a short body.
			w.Header().Set("Content-Length", "1000000")
			w.Write(body)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	o := allow()
	o.MaxSize = 1000
	mustFail(t, srv.URL+"/big?declared", o, errdefs.ErrLimitExceeded, "1000 bytes")

	for _, q := range []string{"", "?chunked"} {
		o := allow()
		o.MaxSize = 99
		u := srv.URL + "/big" + q
		mustFail(t, u, o, errdefs.ErrLimitExceeded, u, "99 bytes")

		o.MaxSize = 100
		res, err := Download(context.Background(), u, t.TempDir(), o)
		if err != nil || res.Size != 100 {
			t.Fatalf("exactly MaxSize bytes: %+v, %v", res, err)
		}
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("mid") {
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	t.Cleanup(func() { close(done) }) // runs before srv.Close
	for _, q := range []string{"", "?mid"} {
		o := allow()
		o.Timeout = 150 * time.Millisecond
		u := srv.URL + "/stall" + q
		start := time.Now()
		mustFail(t, u, o, errdefs.ErrUnavailable, "download of "+u+" timed out after 150ms")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %v with a 150ms timeout", u, d)
		}
	}
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	_, err := Download(ctx, srv.URL, dir, allow())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	assertEmpty(t, dir)
}

func TestChecksum(t *testing.T) {
	t.Parallel()
	body := []byte("checked content")
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA384, digest.SHA512} {
		o := allow()
		o.Checksum = alg.FromBytes(body)
		res, err := Download(context.Background(), srv.URL+"/f", t.TempDir(), o)
		if err != nil {
			t.Fatalf("%s checksum: %v", alg, err)
		}
		if res.Digest != digest.FromBytes(body) {
			t.Errorf("Digest %s is not the body's sha256", res.Digest)
		}

		o.Checksum = alg.FromString("something else")
		u := srv.URL + "/f"
		mustFail(t, u, o, errdefs.ErrCorrupt, fmt.Sprintf("checksum mismatch for %s: expected %s, got %s", u, o.Checksum, alg.FromBytes(body)))
	}
	o := allow()
	o.Checksum = "sha256:nothex"
	mustFail(t, srv.URL+"/f", o, errdefs.ErrInvalidArgument, "sha256:nothex")
}

func TestStatus(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code)
		w.Write([]byte("error page"))
	})
	for code, class := range map[int]error{
		404: errdefs.ErrNotFound,
		410: errdefs.ErrNotFound,
		403: errdefs.ErrPermission,
		400: errdefs.ErrInvalidArgument,
		429: errdefs.ErrUnavailable,
		503: errdefs.ErrUnavailable,
	} {
		u := fmt.Sprintf("%s/%d", srv.URL, code)
		mustFail(t, u, allow(), class, u, fmt.Sprintf("%d %s", code, http.StatusText(code)))
	}
}

func TestTruncatedBody(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte("only a little"))
	})
	mustFail(t, srv.URL+"/t", allow(), errdefs.ErrUnavailable, srv.URL+"/t")
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case r.URL.Path == "/file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
			if n == 0 {
				w.Write([]byte("arrived"))
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusMovedPermanently)
		}
	})
	res, err := Download(context.Background(), srv.URL+"/hop/10", t.TempDir(), allow())
	if err != nil || res.Size != int64(len("arrived")) {
		t.Fatalf("10 redirects: %+v, %v", res, err)
	}
	if res.Name != "10" {
		t.Errorf("name %q, want the requested URL's last segment", res.Name)
	}
	mustFail(t, srv.URL+"/hop/11", allow(), errdefs.ErrLimitExceeded, srv.URL+"/hop/11", "too many redirects")
	mustFail(t, srv.URL+"/loop", allow(), errdefs.ErrLimitExceeded, "too many redirects")
	mustFail(t, srv.URL+"/file", allow(), errdefs.ErrInvalidArgument, `"file"`)
}

func TestBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"ftp://example.com/x",
		"file:///etc/passwd",
		"git://example.com/r.git",
		"/local/path",
		"http://",
		"https:///nohost",
		"http://[::1",
		"",
	} {
		mustFail(t, u, allow(), errdefs.ErrInvalidArgument)
	}
	// The password never shows in a message.
	err := mustFail(t, "ftp://user:hunter2@example.com/x", allow(), errdefs.ErrInvalidArgument)
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestTLSClient(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("over tls"))
	}))
	t.Cleanup(srv.Close)

	o := allow()
	o.Client = srv.Client()
	res, err := Download(context.Background(), srv.URL+"/t.txt", t.TempDir(), o)
	if err != nil || res.Digest != digest.FromString("over tls") {
		t.Fatalf("TLS download with the test roots: %+v, %v", res, err)
	}

	// The caller's client does not bypass the address check.
	mustFail(t, srv.URL+"/t.txt", Options{Client: srv.Client()}, errdefs.ErrPermission, "127.0.0.1")

	// Without the test roots the certificate is not trusted.
	mustFail(t, srv.URL+"/t.txt", allow(), errdefs.ErrUnavailable, "certificate")

	// A transport whose TLS settings cannot be taken is refused.
	o.Client = &http.Client{Transport: roundTripperFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("must not be used")
	})}
	mustFail(t, srv.URL+"/t.txt", o, errdefs.ErrInvalidArgument, "*http.Transport")
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestClientUsesNoProxy(t *testing.T) {
	t.Parallel()
	// Go skips environment proxies for loopback hosts, so a live test with
	// HTTP_PROXY cannot tell; check the transport instead.
	tr, ok := newClient(refusePrivate, nil).Transport.(*http.Transport)
	if !ok || tr.Proxy != nil {
		t.Fatal("the download transport must not use a proxy")
	}
}
