package registry

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// writeHtpasswd writes users (name -> password) as bcrypt entries.
func writeHtpasswd(t *testing.T, users map[string]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# test users\n\n")
	for u, p := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(u + ":" + string(h) + "\n")
	}
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// token fetches a bearer token for scopes with the given Authorization.
func (e *env) token(authz string, scopes ...string) (string, resp) {
	e.t.Helper()
	q := url.Values{"service": {serviceName}, "scope": scopes}
	saved := e.auth
	e.auth = authz
	r := e.do("GET", "/v2/token?"+q.Encode(), nil)
	e.auth = saved
	var tr tokenResponse
	if r.StatusCode == 200 {
		if err := json.Unmarshal(r.body, &tr); err != nil || tr.Token == "" || tr.Token != tr.AccessToken || tr.ExpiresIn <= 0 || tr.IssuedAt == "" {
			e.t.Fatalf("token response: %s", r.body)
		}
	}
	return tr.Token, r
}

func authConfig(t *testing.T) Config {
	return Config{
		Htpasswd: writeHtpasswd(t, map[string]string{"alice": "wonder", "bob": "builder", "carol": "singer"}),
		Access: []AccessRule{
			{User: "alice", Repos: "*", Actions: []string{"*"}},
			{User: "bob", Repos: "*", Actions: []string{"pull"}},
			{User: "bob", Repos: "bob/*", Actions: []string{"push"}},
			{User: "anonymous", Repos: "public/*", Actions: []string{"pull"}},
		},
		TokenKey: []byte("shared secret"),
	}
}

func TestAuthChallengeAndBasic(t *testing.T) {
	e := newEnv(t, nil, authConfig(t))
	r := e.do("GET", "/v2/", nil).want(t, 401, "UNAUTHORIZED")
	ch := r.Header.Get("WWW-Authenticate")
	wantRealm := `Bearer realm="` + e.ts.URL + `/v2/token",service="strata-registry"`
	if !strings.HasPrefix(ch, wantRealm) {
		t.Fatalf("challenge %q, want prefix %q", ch, wantRealm)
	}
	r = e.do("GET", "/v2/lib/x/tags/list", nil).want(t, 401, "UNAUTHORIZED")
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `scope="repository:lib/x:pull"`) {
		t.Fatalf("pull challenge %q", r.Header.Get("WWW-Authenticate"))
	}
	r = e.do("POST", "/v2/lib/x/blobs/uploads/", nil).want(t, 401)
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `scope="repository:lib/x:pull,push"`) {
		t.Fatalf("push challenge %q", r.Header.Get("WWW-Authenticate"))
	}
	e.do("GET", "/v2/_catalog", nil).want(t, 401)
	e.do("GET", "/v1/search?q=x", nil).want(t, 401)

	e.auth = basic("alice", "wrong")
	e.do("GET", "/v2/", nil).want(t, 401, "UNAUTHORIZED")
	e.auth = basic("nobody", "x")
	e.do("GET", "/v2/", nil).want(t, 401, "UNAUTHORIZED")

	e.auth = basic("alice", "wonder")
	e.do("GET", "/v2/", nil).want(t, 200)
	img := e.pushImage("lib/x", "v1", nil)
	e.do("GET", "/v2/_catalog", nil).want(t, 200)
	e.do("DELETE", "/v2/lib/x/manifests/v1", nil).want(t, 202)
	e.do("PUT", "/v2/lib/x/manifests/v1", img.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").want(t, 201)

	// bob may pull everything but push only under bob/.
	e.auth = basic("bob", "builder")
	e.do("GET", "/v2/lib/x/manifests/v1", nil).want(t, 200)
	e.do("POST", "/v2/lib/x/blobs/uploads/", nil).want(t, 403, "DENIED")
	e.do("DELETE", "/v2/lib/x/manifests/v1", nil).want(t, 403, "DENIED")
	e.do("POST", "/v2/bob/x/blobs/uploads/", nil).want(t, 202)
	// Mounts: from a repository bob can read works; from anywhere does
	// not, since bob may not read everything.
	e.do("POST", "/v2/bob/x/blobs/uploads/?mount="+img.layer.String()+"&from=lib/x", nil).want(t, 201)
	e.do("POST", "/v2/bob/y/blobs/uploads/?mount="+img.layer.String(), nil).want(t, 202)

	// carol has no rule: authenticated, but denied.
	e.auth = basic("carol", "singer")
	e.do("GET", "/v2/", nil).want(t, 200)
	e.do("GET", "/v2/lib/x/manifests/v1", nil).want(t, 403, "DENIED")
	r = e.do("GET", "/v2/_catalog", nil).want(t, 200)
	if !strings.Contains(string(r.body), `"repositories":[]`) {
		t.Fatalf("carol sees repositories: %s", r.body)
	}

	// Anonymous pull where a rule allows it.
	e.auth = basic("alice", "wonder")
	e.pushImage("public/img", "v1", nil)
	e.auth = ""
	e.do("GET", "/v2/public/img/manifests/v1", nil).want(t, 200)
	e.do("GET", "/v2/lib/x/manifests/v1", nil).want(t, 401)
	e.do("POST", "/v2/public/img/blobs/uploads/", nil).want(t, 401)
}

func TestAuthTokenFlow(t *testing.T) {
	cfg := authConfig(t)
	e := newEnv(t, nil, cfg)
	tok, _ := e.token(basic("alice", "wonder"), "repository:lib/y:pull,push")
	e.auth = "Bearer " + tok
	img := e.pushImage("lib/y", "v1", nil)
	e.do("GET", "/v2/lib/y/manifests/v1", nil).want(t, 200)
	// The token does not cover another repository: a challenge, so the
	// client fetches a better token.
	r := e.do("GET", "/v2/lib/z/tags/list", nil).want(t, 401)
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("challenge %q", r.Header.Get("WWW-Authenticate"))
	}
	e.do("GET", "/v2/_catalog", nil).want(t, 401)
	tok, _ = e.token(basic("alice", "wonder"), "registry:catalog:*")
	e.auth = "Bearer " + tok
	e.do("GET", "/v2/_catalog", nil).want(t, 200)

	// No credentials, bad credentials.
	_, r = e.token("", "repository:lib/y:pull")
	if r.StatusCode != 200 {
		t.Fatalf("anonymous token (an anonymous rule exists): %d", r.StatusCode)
	}
	_, r = e.token(basic("alice", "nope"), "repository:lib/y:pull")
	r.want(t, 401, "UNAUTHORIZED")

	// A mount whose token lacks the source's scope still works when the
	// user may read the source.
	tok, _ = e.token(basic("alice", "wonder"), "repository:lib/w:pull,push")
	e.auth = "Bearer " + tok
	e.do("POST", "/v2/lib/w/blobs/uploads/?mount="+img.layer.String()+"&from=lib/y", nil).want(t, 201)
	tok, _ = e.token(basic("bob", "builder"), "repository:bob/w:pull,push")
	e.auth = "Bearer " + tok
	e.do("POST", "/v2/bob/w/blobs/uploads/?mount="+img.layer.String()+"&from=lib/y", nil).want(t, 201)
	tok, _ = e.token(basic("carol", "singer"), "repository:lib/y:pull")
	e.auth = "Bearer " + tok
	e.do("GET", "/v2/lib/y/manifests/v1", nil).want(t, 403, "DENIED")

	// bob asks for push on lib/y and gets pull only: pushing is denied.
	tok, _ = e.token(basic("bob", "builder"), "repository:lib/y:pull,push")
	c, err := e.srv.auth.tokens.verify(tok, time.Now())
	if err != nil || len(c.Access) != 1 || strings.Join(c.Access[0].Actions, ",") != "pull" {
		t.Fatalf("bob's grant: %+v %v", c, err)
	}
	e.auth = "Bearer " + tok
	e.do("GET", "/v2/lib/y/manifests/v1", nil).want(t, 200)
	e.do("POST", "/v2/lib/y/blobs/uploads/", nil).want(t, 403, "DENIED")
	e.do("PUT", "/v2/lib/y/manifests/v2", img.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").want(t, 403, "DENIED")

	// Tampered and expired tokens.
	e.auth = "Bearer " + tok[:len(tok)-2] + "xx"
	e.do("GET", "/v2/lib/y/manifests/v1", nil).want(t, 401, "UNAUTHORIZED")
	old := e.srv.auth.tokens.sign(tokenClaims{Subject: "alice", Expires: time.Now().Add(-time.Minute).Unix(),
		Access: []grant{{Type: "repository", Name: "lib/y", Actions: []string{"pull"}}}})
	e.auth = "Bearer " + old
	e.do("GET", "/v2/lib/y/manifests/v1", nil).want(t, 401, "UNAUTHORIZED")
	e.auth = "Bearer garbage"
	e.do("GET", "/v2/", nil).want(t, 401)

	// Another process with the same key honours the token; another key
	// does not.
	tok, _ = e.token(basic("alice", "wonder"), "repository:lib/y:pull")
	e2 := newEnv(t, e.drv, cfg)
	e2.auth = "Bearer " + tok
	e2.do("GET", "/v2/lib/y/manifests/v1", nil).want(t, 200)
	cfg3 := cfg
	cfg3.TokenKey = []byte("other")
	e3 := newEnv(t, e.drv, cfg3)
	e3.auth = "Bearer " + tok
	e3.do("GET", "/v2/lib/y/manifests/v1", nil).want(t, 401)

	// OAuth2 password grant (containerd).
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wonder"},
		"scope": {"repository:lib/y:pull"}, "service": {serviceName}}
	e.auth = ""
	r = e.do("POST", "/v2/token", []byte(form.Encode()), "Content-Type", "application/x-www-form-urlencoded").want(t, 200)
	var tr tokenResponse
	json.Unmarshal(r.body, &tr)
	e.auth = "Bearer " + tr.AccessToken
	e.do("GET", "/v2/lib/y/manifests/v1", nil).want(t, 200)
}

func TestAuthDefaultsAndNoAnonymous(t *testing.T) {
	e := newEnv(t, nil, Config{Htpasswd: writeHtpasswd(t, map[string]string{"u": "p"})})
	// No anonymous rule: the token endpoint wants credentials.
	_, r := e.token("", "repository:x:pull")
	r.want(t, 401, "UNAUTHORIZED")
	// Without rules every user may do everything.
	tok, _ := e.token(basic("u", "p"), "repository:x:pull,push,delete", "repository:BAD NAME:pull")
	e.auth = "Bearer " + tok
	e.pushImage("x", "t", nil)
	e.do("DELETE", "/v2/x/manifests/t", nil).want(t, 202)
	// And anonymous mounts from anywhere are allowed.
	d := e.pushBlob("x", []byte("blob"))
	e.auth = basic("u", "p")
	e.do("POST", "/v2/y/blobs/uploads/?mount="+d.String(), nil).want(t, 201)

	// Auth off: the token endpoint still answers, anonymously.
	open := newEnv(t, nil, Config{})
	_, r = open.token("", "repository:x:pull")
	r.want(t, 200)
}

func TestHtpasswdRejectsNonBcrypt(t *testing.T) {
	p := filepath.Join(t.TempDir(), "htpasswd")
	os.WriteFile(p, []byte("u:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"), 0o600)
	if _, err := New(Config{Storage: newMemDriver(), Htpasswd: p}); err == nil || !strings.Contains(err.Error(), "bcrypt") {
		t.Fatalf("non-bcrypt htpasswd accepted: %v", err)
	}
	if _, err := New(Config{Storage: newMemDriver(), Htpasswd: p + ".missing"}); err == nil {
		t.Fatal("missing htpasswd accepted")
	}
	if _, err := New(Config{Storage: newMemDriver(), Access: []AccessRule{{User: "u", Repos: "*", Actions: []string{"fly"}}}}); err == nil {
		t.Fatal("unknown action accepted")
	}
}

func TestScopeString(t *testing.T) {
	got := scopeString([]need{repoNeed("a", actionPush), repoNeed("a", actionPull), repoNeed("b", actionPull), {"registry", "catalog", "*"}})
	if got != "repository:a:pull,push repository:b:pull registry:catalog:*" {
		t.Fatalf("scopeString = %q", got)
	}
}

// TestHtpasswdReload: a changed users file takes effect without a
// restart (new user, new password, removed user); a file that no longer
// parses leaves the users as they were.
func TestHtpasswdReload(t *testing.T) {
	p := writeHtpasswd(t, map[string]string{"alice": "one", "carol": "gone soon"})
	srv, err := New(Config{Storage: newMemDriver(), Htpasswd: p})
	if err != nil {
		t.Fatal(err)
	}
	a := srv.auth
	check := func(user, pass string, want bool) {
		t.Helper()
		if got := a.checkPassword(user, pass); got != want {
			t.Errorf("checkPassword(%s, %s) = %v, want %v", user, pass, got, want)
		}
	}
	check("alice", "one", true)
	check("carol", "gone soon", true)
	replace := func(content []byte) {
		t.Helper()
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		a.mu.Lock()
		a.htpasswd.checked = time.Time{} // as if a second went by
		a.mu.Unlock()
	}
	updated, err := os.ReadFile(writeHtpasswd(t, map[string]string{"alice": "two", "bob": "new"}))
	if err != nil {
		t.Fatal(err)
	}
	replace(updated)
	check("alice", "one", false)
	check("alice", "two", true)
	check("bob", "new", true)
	check("carol", "gone soon", false)

	replace([]byte("alice:not-a-bcrypt-hash\n"))
	check("alice", "two", true)
	check("bob", "new", true)
}
