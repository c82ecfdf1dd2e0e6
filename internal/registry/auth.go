package registry

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/strata-dev/strata/internal/errdefs"
)

const (
	actionPull   = "pull"
	actionPush   = "push"
	actionDelete = "delete"

	anonymousUser = "anonymous"
	serviceName   = "strata-registry"
)

// need is one right a request requires: ("repository", name, action) or
// ("registry", "catalog", "*").
type need struct {
	typ, name, action string
}

// grant is one entry of a bearer token's access list (the shape Docker's
// token servers use).
type grant struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// identity is who sent a request.
type identity struct {
	user      string // "" when anonymous
	bearer    bool   // authenticated by token: grants bound the rights
	grants    []grant
	anonymous bool
}

// authorizer checks credentials and rights. Its only mutable state is a
// cache of verified passwords, which saves a bcrypt per request but is
// never needed for a correct answer.
type authorizer struct {
	enabled bool
	rules   []AccessRule
	tokens  tokenSigner
	dummy   []byte // bcrypt hash compared for unknown users

	mu       sync.Mutex
	verified map[[32]byte]time.Time // sha256(user, password, hash) -> expiry
	htpasswd htpasswdFile
}

// htpasswdFile is the users file, read again when it changes (looked at
// once a second at most), so users are added, removed or given new
// passwords without a restart. A file that no longer parses leaves the
// users as they were.
type htpasswdFile struct {
	path    string
	users   map[string][]byte // user -> bcrypt hash
	mod     time.Time         // of the file read
	size    int64
	checked time.Time
}

func newAuthorizer(cfg *Config, tokens tokenSigner) (*authorizer, error) {
	a := &authorizer{rules: cfg.Access, tokens: tokens, verified: map[[32]byte]time.Time{}}
	if err := validateAccess(cfg.Access); err != nil {
		return nil, errdefs.Classed(errdefs.ErrInvalidArgument, err)
	}
	if cfg.Htpasswd == "" {
		return a, nil
	}
	a.htpasswd.path = cfg.Htpasswd
	if err := a.htpasswd.load(); err != nil {
		return nil, err
	}
	a.enabled = true
	var err error
	a.dummy, err = bcrypt.GenerateFromPassword([]byte("strata"), bcrypt.DefaultCost)
	return a, err
}

// load reads and parses the file.
func (h *htpasswdFile) load() error {
	f, err := os.Open(h.path)
	if err != nil {
		return fmt.Errorf("read htpasswd: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read htpasswd: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return fmt.Errorf("read htpasswd: %w", err)
	}
	users, err := parseHtpasswd(data)
	if err != nil {
		return fmt.Errorf("htpasswd %s: %w", h.path, err)
	}
	h.users, h.mod, h.size, h.checked = users, fi.ModTime(), fi.Size(), time.Now()
	return nil
}

// current returns the users, reading the file again if it changed since
// it was last looked at (at most once a second). The caller holds a.mu.
func (h *htpasswdFile) current() map[string][]byte {
	if time.Since(h.checked) < time.Second {
		return h.users
	}
	h.checked = time.Now()
	if fi, err := os.Stat(h.path); err == nil && (!fi.ModTime().Equal(h.mod) || fi.Size() != h.size) {
		_ = h.load() // a broken file keeps the users as they were
	}
	return h.users
}

// parseHtpasswd reads "user:bcrypt-hash" lines; blank lines and # comments
// are skipped. Other hash schemes are refused rather than silently locking
// the user out.
func parseHtpasswd(data []byte) (map[string][]byte, error) {
	users := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "line %d: want user:hash", n)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil || !isBcryptPrefix(hash) {
			return nil, errdefs.Newf(errdefs.ErrUnsupported, "line %d: user %q: hash is not bcrypt (create it with htpasswd -B)", n, user)
		}
		users[user] = []byte(hash)
	}
	return users, sc.Err()
}

func isBcryptPrefix(h string) bool {
	for _, p := range []string{"$2a$", "$2b$", "$2y$"} {
		if strings.HasPrefix(h, p) {
			return true
		}
	}
	return false
}

// checkPassword verifies a user's password against htpasswd.
func (a *authorizer) checkPassword(user, pass string) bool {
	a.mu.Lock()
	hash, ok := a.htpasswd.current()[user]
	a.mu.Unlock()
	if !ok {
		// Spend the same time as a real check so user names do not leak.
		// The result is meaningless: only the time spent matters.
		_ = bcrypt.CompareHashAndPassword(a.dummy, []byte(pass))
		return false
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", user, pass, hash)
	var key [32]byte
	h.Sum(key[:0])
	now := time.Now()
	a.mu.Lock()
	exp, hit := a.verified[key]
	a.mu.Unlock()
	if hit && now.Before(exp) {
		return true
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return false
	}
	a.mu.Lock()
	if len(a.verified) > 4096 {
		clear(a.verified)
	}
	a.verified[key] = now.Add(5 * time.Minute)
	a.mu.Unlock()
	return true
}

// allowed applies the access rules to a user (not a token).
func (a *authorizer) allowed(id identity, n need) bool {
	if !a.enabled {
		return true
	}
	if n.typ == "registry" {
		return n.name == "catalog" && !id.anonymous
	}
	if n.typ != "repository" {
		return false
	}
	if len(a.rules) == 0 {
		return !id.anonymous
	}
	for _, r := range a.rules {
		if !ruleUserMatches(r.User, id) || !repoMatches(r.Repos, n.name) {
			continue
		}
		if slices.Contains(r.Actions, n.action) || slices.Contains(r.Actions, "*") {
			return true
		}
	}
	return false
}

func ruleUserMatches(ruleUser string, id identity) bool {
	if id.anonymous {
		return ruleUser == anonymousUser
	}
	return ruleUser == "*" || ruleUser == id.user
}

func repoMatches(glob, name string) bool {
	if glob == "*" {
		return true
	}
	ok, _ := path.Match(glob, name)
	return ok
}

// pullsEverything reports whether id may read every repository, which is
// what an anonymous (from-less) cross mount needs.
func (a *authorizer) pullsEverything(id identity) bool {
	return !a.enabled || (len(a.rules) == 0 && !id.anonymous)
}

// anonymousAllowed reports whether any rule serves anonymous requests.
func (a *authorizer) anonymousAllowed() bool {
	for _, r := range a.rules {
		if r.User == anonymousUser {
			return true
		}
	}
	return false
}

// authenticate reads the Authorization header. No header is anonymous.
func (a *authorizer) authenticate(r *http.Request) (identity, error) {
	h := r.Header.Get("Authorization")
	if h == "" || !a.enabled {
		return identity{anonymous: true}, nil
	}
	if user, pass, ok := r.BasicAuth(); ok {
		if !a.checkPassword(user, pass) {
			return identity{}, newError(codeUnauthorized, "incorrect username or password")
		}
		return identity{user: user}, nil
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return identity{}, newError(codeUnauthorized, "unsupported authorization scheme %q", scheme)
	}
	claims, err := a.tokens.verify(strings.TrimSpace(tok), time.Now())
	if err != nil {
		return identity{}, newError(codeUnauthorized, "invalid bearer token: %v", err)
	}
	return identity{user: claims.Subject, anonymous: claims.Subject == "", bearer: true, grants: claims.Access}, nil
}

// authorize authenticates r and checks every need. Failures are 401 with a
// challenge when better credentials could help (none given, or a token
// lacking a scope the user does hold) and 403 DENIED when the user simply
// lacks the right.
func (a *authorizer) authorize(r *http.Request, needs ...need) (identity, error) {
	if !a.enabled {
		return identity{anonymous: true}, nil
	}
	id, err := a.authenticate(r)
	if err != nil {
		return id, a.challenge(r, toAPIError(err), "invalid_token", needs)
	}
	if len(needs) == 0 && id.anonymous {
		return id, a.challenge(r, newError(codeUnauthorized, "authentication required"), "", needs)
	}
	for _, n := range needs {
		if id.bearer && tokenGrants(id.grants, n) || !id.bearer && a.allowed(id, n) {
			continue
		}
		switch {
		case a.allowed(id, n): // a token that lacks a scope its holder may get
			return id, a.challenge(r, newError(codeUnauthorized, "token does not grant %s on %s", n.action, n.name), "insufficient_scope", needs)
		case id.anonymous:
			return id, a.challenge(r, newError(codeUnauthorized, "authentication required"), "", needs)
		default:
			return id, newError(codeDenied, "requested access to the resource is denied").
				withDetail([]grant{{Type: n.typ, Name: n.name, Actions: []string{n.action}}})
		}
	}
	return id, nil
}

// challenge adds the WWW-Authenticate header pointing at the token endpoint.
func (a *authorizer) challenge(r *http.Request, e *apiError, errParam string, needs []need) *apiError {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	v := fmt.Sprintf(`Bearer realm="%s://%s/v2/token",service="%s"`, scheme, r.Host, serviceName)
	if s := scopeString(needs); s != "" {
		v += fmt.Sprintf(`,scope="%s"`, s)
	}
	if errParam != "" {
		v += fmt.Sprintf(`,error="%s"`, errParam)
	}
	return e.withHeader("WWW-Authenticate", v)
}

// scopeString renders needs as token scopes, grouping actions per
// resource; push implies pull, as Docker clients expect.
func scopeString(needs []need) string {
	var order []string
	acts := map[string][]string{}
	for _, n := range needs {
		key := n.typ + ":" + n.name
		if _, ok := acts[key]; !ok {
			order = append(order, key)
		}
		add := []string{n.action}
		if n.action == actionPush {
			add = []string{actionPull, actionPush}
		}
		for _, x := range add {
			if !slices.Contains(acts[key], x) {
				acts[key] = append(acts[key], x)
			}
		}
	}
	parts := make([]string, 0, len(order))
	for _, k := range order {
		parts = append(parts, k+":"+strings.Join(acts[k], ","))
	}
	return strings.Join(parts, " ")
}

func tokenGrants(grants []grant, n need) bool {
	for _, g := range grants {
		if g.Type == n.typ && g.Name == n.name &&
			(slices.Contains(g.Actions, n.action) || slices.Contains(g.Actions, "*")) {
			return true
		}
	}
	return false
}
