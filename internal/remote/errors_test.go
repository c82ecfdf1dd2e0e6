package remote

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

func TestResponseError(t *testing.T) {
	body := func(code, msg string) string {
		return `{"errors":[{"code":"` + code + `","message":"` + msg + `","detail":{"x":1}}]}`
	}
	tests := []struct {
		status    int
		method    string
		challenge string
		body      string
		class     error
		msg       string
	}{
		{404, "GET", "", body("MANIFEST_UNKNOWN", "manifest unknown"), errdefs.ErrNotFound, "manifest unknown: manifest unknown"},
		{404, "GET", "", body("BLOB_UNKNOWN", ""), errdefs.ErrNotFound, "blob unknown: blob unknown to registry"},
		{404, "GET", "", body("NAME_UNKNOWN", "repository name not known to registry"), errdefs.ErrNotFound, "name unknown: repository name not known to registry"},
		{401, "GET", "", body("UNAUTHORIZED", "authentication required"), errdefs.ErrPermission, "unauthorized: authentication required"},
		{401, "HEAD", "", "", errdefs.ErrPermission, "unauthorized: authentication required"},
		{401, "GET", `Bearer realm="r",error="insufficient_scope"`, body("UNAUTHORIZED", "authentication required"),
			errdefs.ErrPermission, "denied: requested access to the resource is denied"},
		{401, "GET", `Bearer realm="r",error="invalid_token",error_description="token expired"`, "", errdefs.ErrPermission, "unauthorized: token expired"},
		{403, "GET", "", body("DENIED", "requested access to the resource is denied"), errdefs.ErrPermission, "denied: requested access to the resource is denied"},
		{429, "GET", "", body("TOOMANYREQUESTS", "You have reached your pull rate limit."), errdefs.ErrUnavailable,
			"toomanyrequests: You have reached your pull rate limit."},
		{400, "PUT", "", body("MANIFEST_INVALID", "manifest invalid"), errdefs.ErrInvalidArgument, "manifest invalid: manifest invalid"},
		{400, "PUT", "", body("DIGEST_INVALID", "provided digest did not match uploaded content"), errdefs.ErrInvalidArgument,
			"digest invalid: provided digest did not match uploaded content"},
		{405, "DELETE", "", body("UNSUPPORTED", "The operation is unsupported."), errdefs.ErrUnsupported, "unsupported: The operation is unsupported."},
		{500, "GET", "", body("SOMETHING_NEW", "disk full"), errdefs.ErrUnavailable, "something new: disk full"},
		{502, "GET", "", "<html>bad gateway</html>", errdefs.ErrUnavailable, "unexpected status 502 Bad Gateway from GET https://r.example/v2/x"},
		{404, "HEAD", "", "", errdefs.ErrNotFound, "unexpected status 404 Not Found from HEAD https://r.example/v2/x"},
	}
	for _, tt := range tests {
		u, _ := url.Parse("https://r.example/v2/x?X-Amz-Signature=secret")
		resp := &http.Response{
			StatusCode: tt.status,
			Status:     strconv.Itoa(tt.status) + " " + http.StatusText(tt.status),
			Header:     http.Header{},
			Body:       io.NopCloser(strings.NewReader(tt.body)),
			Request:    &http.Request{Method: tt.method, URL: u},
		}
		if tt.challenge != "" {
			resp.Header.Set("WWW-Authenticate", tt.challenge)
		}
		err := responseError(resp)
		if !errors.Is(err, tt.class) || err.Error() != tt.msg {
			t.Errorf("%d %s %q:\n got %v (%v)\nwant %s (%v)", tt.status, tt.method, tt.body, err, errors.Is(err, tt.class), tt.msg, tt.class)
		}
	}
}

func TestLogin(t *testing.T) {
	ctx := context.Background()

	f := newFakeRegistry(t, "bearer")
	fx := f.addImage(t, "secret/app", "v1")
	f.configure(func(c *fakeConfig) { c.private = map[string]bool{"secret/app": true} })
	store := newMemStore("", Credentials{})
	c := testClient(HostConfig{}, store)
	err := c.Login(ctx, f.host(), Credentials{Username: "alice", Password: "nope"})
	if !errors.Is(err, errdefs.ErrPermission) || !strings.Contains(err.Error(), "incorrect username or password") {
		t.Fatalf("wrong password: %v", err)
	}
	if got := mustGet(t, store, f.host()); !got.IsZero() {
		t.Fatalf("failed login stored %+v", got)
	}
	if err := c.Login(ctx, f.host(), Credentials{Username: "alice", Password: "secret"}); err != nil {
		t.Fatal(err)
	}
	// The refresh token replaces the password, and later tokens come from it.
	if got := mustGet(t, store, f.host()); got != (Credentials{Username: "alice", IdentityToken: "refresh-alice"}) {
		t.Fatalf("stored %+v", got)
	}
	pullAll(t, openRepo(t, c, fx.ref), fx)
	if f.tokenPosts.Load() == 0 {
		t.Fatal("no refresh_token grant was used")
	}

	b := newFakeRegistry(t, "basic")
	if err := c.Login(ctx, b.host(), Credentials{Username: "alice", Password: "bad"}); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("wrong Basic password: %v", err)
	}
	if err := c.Login(ctx, b.host(), Credentials{Username: "alice", Password: "secret"}); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, store, b.host()); got != (Credentials{Username: "alice", Password: "secret"}) {
		t.Fatalf("stored %+v", got)
	}

	open := newFakeRegistry(t, "")
	if err := c.Login(ctx, open.host(), Credentials{Username: "x", Password: "y"}); err != nil {
		t.Fatalf("login to a registry without auth: %v", err)
	}

	// Credentials never go to a remote host over plain http.
	insecure := testClient(HostConfig{Insecure: []string{"registry.test"}}, store)
	insecure.dial = dialTo(b.host())
	before := len(b.authHeaders())
	if err := insecure.Login(ctx, "registry.test:5000", Credentials{Username: "alice", Password: "secret"}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("login over plain http: %v", err)
	}
	seen := b.authHeaders()[before:]
	if len(seen) == 0 {
		t.Fatal("the insecure registry was not reached")
	}
	for _, h := range seen {
		if h != "" {
			t.Fatalf("credentials sent over plain http: %q", h)
		}
	}
}
