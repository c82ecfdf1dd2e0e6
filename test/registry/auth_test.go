package registry

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/strata-dev/strata/test/testbin"
)

// writeHtpasswd writes users (name -> password) as bcrypt htpasswd lines.
func writeHtpasswd(t *testing.T, path string, users map[string]string) string {
	t.Helper()
	var b strings.Builder
	for u, p := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(u + ":" + string(h) + "\n")
	}
	return testbin.WriteFile(t, path, b.String())
}

// auths returns the "auths" entries of the sandbox's config.json.
func (s *sandbox) auths() map[string]struct{ Auth string } {
	s.t.Helper()
	data, err := os.ReadFile(filepath.Join(s.dockerConfig(), "config.json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		s.t.Fatal(err)
	}
	var cf struct {
		Auths map[string]struct{ Auth string }
	}
	if err := json.Unmarshal(data, &cf); err != nil {
		s.t.Fatalf("config.json: %v\n%s", err, data)
	}
	return cf.Auths
}

// wantUnauthorized checks a failed command said it was not allowed in.
func wantUnauthorized(t *testing.T, what, stderr string) {
	t.Helper()
	low := strings.ToLower(stderr)
	if !strings.Contains(low, "unauthorized") && !strings.Contains(low, "authentication required") {
		t.Errorf("%s: the error does not say unauthorized or authentication required: %q", what, stderr)
	}
}

func TestAuthHtpasswd(t *testing.T) {
	t.Parallel()
	requireBusybox(t)
	dir := t.TempDir()
	htpasswd := writeHtpasswd(t, filepath.Join(dir, "htpasswd"), map[string]string{"alice": "s3cret", "bob": "hunter2"})
	reg := startRegistry(t, dir, registryOpts{args: []string{"--htpasswd", htpasswd}})
	host := reg.addr
	s := newSandbox(t)
	ref := host + "/private/bb:v1"
	id := s.importBusybox(ref)

	// Anonymous: no push, no pull.
	wantUnauthorized(t, "anonymous push", s.fail(1, "push", ref).Stderr)
	wantUnauthorized(t, "anonymous pull", s.withRoot("anon").fail(1, "pull", ref).Stderr)

	// A wrong password does not log in and stores nothing.
	r := s.strata(strings.NewReader("wrong\n"), "login", "-u", "alice", "--password-stdin", host)
	if r.Code != 1 {
		t.Fatalf("login with a wrong password: %s", r)
	}
	wantUnauthorized(t, "login with a wrong password", r.Stderr)
	if a := s.auths(); len(a) != 0 {
		t.Errorf("a failed login stored credentials: %v", a)
	}

	r = s.strata(strings.NewReader("s3cret\n"), "login", "-u", "alice", "--password-stdin", host)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Login Succeeded") {
		t.Fatalf("login: %s", r)
	}
	entry, ok := s.auths()[host]
	if !ok {
		t.Fatalf("config.json has no auths entry for %s: %v", host, s.auths())
	}
	if dec, _ := base64.StdEncoding.DecodeString(entry.Auth); string(dec) != "alice:s3cret" {
		t.Errorf("auths[%s].auth decodes to %q", host, dec)
	}

	push := parsePush(t, s.ok("push", ref))
	if n := push.statuses(); n["Pushed"] < 1 {
		t.Errorf("authenticated push: %v", push.status)
	}
	var users []string
	for _, e := range reg.access() {
		if e.Method == "PUT" && e.Route == "manifest" {
			users = append(users, e.User)
		}
	}
	if len(users) != 1 || users[0] != "alice" {
		t.Errorf("the registry logged the manifest PUT as users %q, want alice", users)
	}
	p := s.withRoot("pulled")
	if pull := parsePull(t, p.ok("pull", ref)); pull.digest != push.digest {
		t.Errorf("authenticated pull digest %s, pushed %s", pull.digest, push.digest)
	}
	if got, ok := s.searchNames(host + "/private"); ok && !slices.Equal(got, []string{"private/bb"}) {
		t.Errorf("authenticated search: %v", got)
	}
	if got := p.out("inspect", "-f", "{{.Id}}", ref); got != id {
		t.Errorf("pulled ID %s, want %s", got, id)
	}

	// skopeo with --creds, and without (a home with no credentials).
	bare := newSandbox(t)
	if info := bare.skopeoInspect(ref, "--tls-verify=false", "--creds", "bob:hunter2"); info.Digest != push.digest {
		t.Errorf("skopeo --creds inspect digest %s, want %s", info.Digest, push.digest)
	}
	if r := bare.tool("skopeo", "--insecure-policy", "inspect", "--tls-verify=false", "docker://"+ref); r.Code == 0 {
		t.Errorf("skopeo without credentials inspected a private image:\n%s", r)
	}
	if r := bare.tool("skopeo", "--insecure-policy", "inspect", "--tls-verify=false", "--creds", "bob:wrong", "docker://"+ref); r.Code == 0 {
		t.Errorf("skopeo with a wrong password inspected a private image:\n%s", r)
	}
	bare.skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--src-creds", "bob:hunter2", "--dest-creds", "bob:hunter2",
		"docker://"+ref, "docker://"+host+"/private/copy:v1")
	if pull := parsePull(t, s.withRoot("copy").ok("pull", host+"/private/copy:v1")); pull.digest != push.digest {
		t.Errorf("pull of skopeo's authenticated copy: digest %s, want %s", pull.digest, push.digest)
	}

	// Logout removes the entry; push is refused again.
	out := s.ok("logout", host)
	testbin.WantContains(t, "logout", out, "Removing login credentials for "+host)
	if _, ok := s.auths()[host]; ok {
		t.Errorf("logout left the auths entry for %s", host)
	}
	wantUnauthorized(t, "push after logout", s.fail(1, "push", ref).Stderr)
}

// login logs the sandbox in to host.
func (s *sandbox) login(host, user, password string) {
	s.t.Helper()
	r := s.strata(strings.NewReader(password+"\n"), "login", "-u", user, "--password-stdin", host)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Login Succeeded") {
		s.t.Fatalf("login %s as %s: %s", host, user, r)
	}
}

// TestAuthAccessRules gives users and anonymous clients different rights
// through the configuration file's access rules.
func TestAuthAccessRules(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	htpasswd := writeHtpasswd(t, filepath.Join(dir, "htpasswd"), map[string]string{"alice": "a-pass", "bob": "b-pass"})
	conf := testbin.WriteFile(t, filepath.Join(dir, "registry.yml"), `storage:
  filesystem:
    root: `+filepath.Join(dir, "store")+`
auth:
  htpasswd: `+htpasswd+`
access:
  - {user: alice, repos: "*", actions: ["*"]}
  - {user: bob, repos: "public/*", actions: [pull]}
  - {user: anonymous, repos: "public/*", actions: [pull]}
`)
	reg := startRegistry(t, dir, registryOpts{noRoot: true, args: []string{"--config", conf}})
	host := reg.addr
	layers := randomLayers(t, 90, 1, 8192)

	alice := newSandbox(t)
	alice.login(host, "alice", "a-pass")
	alice.loadLayers(host+"/public/app:v1", layers)
	alice.ok("tag", host+"/public/app:v1", host+"/private/app:v1")
	alice.ok("push", host+"/public/app:v1")
	alice.ok("push", host+"/private/app:v1")
	if got, ok := alice.searchNames(host + "/app"); ok && !slices.Equal(got, []string{"private/app", "public/app"}) {
		t.Errorf("alice's search: %v", got)
	}
	// crane reads the credentials strata's login stored.
	if got := alice.crane("ls", host+"/private/app"); got != "v1\n" {
		t.Errorf("crane ls with strata's login: %q", got)
	}

	anon := newSandbox(t)
	anon.ok("pull", host+"/public/app:v1")
	wantUnauthorized(t, "anonymous pull of a private repository", anon.fail(1, "pull", host+"/private/app:v1").Stderr)
	anon.ok("tag", host+"/public/app:v1", host+"/public/app:anon")
	r := anon.fail(1, "push", host+"/public/app:anon")
	wantDenied(t, "anonymous push to a pull-only repository", r.Stderr)
	wantUnauthorized(t, "anonymous search", anon.fail(1, "search", host+"/app").Stderr)

	bob := newSandbox(t)
	bob.login(host, "bob", "b-pass")
	bob.ok("pull", host+"/public/app:v1")
	wantDenied(t, "bob's pull of a private repository", bob.fail(1, "pull", host+"/private/app:v1").Stderr)
	bob.ok("tag", host+"/public/app:v1", host+"/public/app:bob")
	wantDenied(t, "bob's push to a pull-only repository", bob.fail(1, "push", host+"/public/app:bob").Stderr)
	if got, ok := bob.searchNames(host + "/app"); ok && !slices.Equal(got, []string{"public/app"}) {
		t.Errorf("bob's search shows %q, want only public/app", got)
	}
	if _, _, code := manifestOf(t, reg.url(), "public/app", "bob"); code == http.StatusOK {
		t.Error("a refused push created a tag")
	}
}

// wantDenied checks a refused command said so.
func wantDenied(t *testing.T, what, stderr string) {
	t.Helper()
	low := strings.ToLower(stderr)
	for _, w := range []string{"denied", "unauthorized", "authentication required", "insufficient"} {
		if strings.Contains(low, w) {
			return
		}
	}
	t.Errorf("%s: the error does not say denied or unauthorized: %q", what, stderr)
}

// searchNames runs `search --format {{.Name}} term` and returns the sorted
// names; a failed search is a test error (ok false).
func (s *sandbox) searchNames(term string) ([]string, bool) {
	s.t.Helper()
	r := s.run("search", "--format", "{{.Name}}", term)
	if r.Code != 0 {
		s.t.Errorf("search %s as a logged-in user: %s", term, r)
		return nil, false
	}
	return sorted(testbin.Lines(r.Stdout)), true
}
