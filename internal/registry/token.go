package registry

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Bearer tokens are "s1.<payload>.<mac>": base64url (unpadded) of the JSON
// claims and of HMAC-SHA256(key, "s1."+payload). Any process holding the
// key verifies any other's tokens; nothing is remembered.
const tokenPrefix = "s1."

type tokenClaims struct {
	Subject  string  `json:"sub,omitempty"`
	Service  string  `json:"aud,omitempty"`
	IssuedAt int64   `json:"iat"`
	Expires  int64   `json:"exp"`
	Access   []grant `json:"access"`
}

type tokenSigner struct {
	key []byte
	ttl time.Duration
}

func (t tokenSigner) sign(c tokenClaims) string {
	payload, _ := json.Marshal(c)
	body := tokenPrefix + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, t.key)
	mac.Write([]byte(body))
	return body + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// verify checks a token's MAC and lifetime and returns its claims.
func (t tokenSigner) verify(tok string, now time.Time) (tokenClaims, error) {
	var c tokenClaims
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok {
		return c, errors.New("unknown token format")
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return c, errors.New("token has no signature")
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return c, errors.New("malformed token signature")
	}
	mac := hmac.New(sha256.New, t.key)
	mac.Write([]byte(tokenPrefix + payload))
	if !hmac.Equal(got, mac.Sum(nil)) {
		return c, errors.New("bad token signature")
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return c, errors.New("malformed token payload")
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, errors.New("malformed token claims")
	}
	if now.Unix() >= c.Expires {
		return c, errors.New("token expired")
	}
	return c, nil
}

// parseScopes reads token scopes ("repository:<name>:pull,push",
// "registry:catalog:*"); several may share one value, space-separated.
// Malformed scopes are dropped, as Docker's token servers do.
func parseScopes(values []string) []grant {
	var out []grant
	for _, v := range values {
		for _, s := range strings.Fields(v) {
			typ, rest, ok := strings.Cut(s, ":")
			i := strings.LastIndexByte(rest, ':')
			if !ok || i <= 0 {
				continue
			}
			name, acts := rest[:i], strings.Split(rest[i+1:], ",")
			if typ == "repository" && !validName(name) {
				continue
			}
			if typ != "repository" && typ != "registry" {
				continue
			}
			out = append(out, grant{Type: typ, Name: name, Actions: acts})
		}
	}
	return out
}

// grantFor narrows requested scopes to what id may have.
func (a *authorizer) grantFor(id identity, req []grant) []grant {
	out := []grant{}
	for _, g := range req {
		var acts []string
		for _, act := range g.Actions {
			cands := []string{act}
			if act == "*" && g.Type == "repository" {
				cands = []string{actionPull, actionPush, actionDelete}
			}
			for _, c := range cands {
				if !slices.Contains(acts, c) && a.allowed(id, need{g.Type, g.Name, c}) {
					acts = append(acts, c)
				}
			}
		}
		if len(acts) > 0 {
			out = append(out, grant{Type: g.Type, Name: g.Name, Actions: acts})
		}
	}
	return out
}

type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
}

// serveToken is the token endpoint: GET with Basic credentials (Docker) or
// POST with an OAuth2 password grant (containerd).
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, rq *request) error {
	var (
		user, pass string
		hasCreds   bool
		scopes     []string
	)
	switch r.Method {
	case http.MethodGet:
		user, pass, hasCreds = r.BasicAuth()
		scopes = r.URL.Query()["scope"]
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			return newError(codeUnsupported, "bad token request form: %v", err)
		}
		if gt := r.PostForm.Get("grant_type"); gt != "password" {
			return &apiError{code: codeUnsupported, msg: "unsupported grant_type " + gt}
		}
		user, pass, hasCreds = r.PostForm.Get("username"), r.PostForm.Get("password"), true
		scopes = r.PostForm["scope"]
	default:
		return methodNotAllowed(w, http.MethodGet, http.MethodPost)
	}
	a := s.auth
	id := identity{anonymous: true}
	switch {
	case !a.enabled:
	case hasCreds:
		if !a.checkPassword(user, pass) {
			return newError(codeUnauthorized, "incorrect username or password").
				withHeader("WWW-Authenticate", `Basic realm="`+serviceName+`"`)
		}
		id = identity{user: user}
	case !a.anonymousAllowed():
		return newError(codeUnauthorized, "credentials required").
			withHeader("WWW-Authenticate", `Basic realm="`+serviceName+`"`)
	}
	rq.user = id.user
	req := parseScopes(scopes)
	granted := req
	if a.enabled {
		granted = a.grantFor(id, req)
	}
	now := time.Now()
	tok := s.auth.tokens.sign(tokenClaims{
		Subject:  id.user,
		Service:  r.URL.Query().Get("service"),
		IssuedAt: now.Unix(),
		Expires:  now.Add(s.auth.tokens.ttl).Unix(),
		Access:   granted,
	})
	return writeJSON(w, http.StatusOK, tokenResponse{
		Token:       tok,
		AccessToken: tok,
		ExpiresIn:   int(s.auth.tokens.ttl / time.Second),
		IssuedAt:    now.UTC().Format(time.RFC3339),
	})
}
