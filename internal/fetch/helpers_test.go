package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// serve starts a loopback test server that is closed when the test ends.
func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// allow is the Options of a test that talks to its own loopback server.
func allow() Options { return Options{AllowPrivate: true} }

// assertEmpty fails the test if dir holds anything: a failed download must
// leave no temp file behind.
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind in %s: %s", dir, e.Name())
	}
}

// mustFail runs Download, expects an error of class, and that the message
// contains every piece of want; it returns the error.
func mustFail(t *testing.T, url string, o Options, class error, want ...string) error {
	t.Helper()
	dir := t.TempDir()
	res, err := Download(context.Background(), url, dir, o)
	if err == nil {
		t.Fatalf("Download(%s) = %+v, want an error", url, res)
	}
	if !errors.Is(err, class) {
		t.Fatalf("Download(%s) error %q is not %v", url, err, class)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	assertEmpty(t, dir)
	return err
}
