package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
)

const (
	// clientID names strata to token servers, as Docker sends "docker".
	clientID = "strata"
	// defaultTokenLifetime applies when a token server gives no expires_in
	// (the distribution spec's minimum).
	defaultTokenLifetime = 60 * time.Second
	maxTokenBody         = 1 << 20
)

// authUse records how a request was authorized.
type authUse struct {
	kind   string // "", "basic", "bearer"
	key    string // token cache key
	cached bool   // the token came from the cache
}

type tokenEntry struct {
	host    string // the API host the token is for
	mu      sync.Mutex
	token   string
	expires time.Time
}

// authorize adds the Authorization header the endpoint's known challenge
// asks for. Requests to other hosts than the endpoint's go out bare.
func (c *Client) authorize(ctx context.Context, ep *endpoint, req *http.Request, scopes []string) (authUse, error) {
	ch := ep.hs.getChallenge()
	if ch == nil || req.URL.Host != ep.hs.name {
		return authUse{}, nil
	}
	switch ch.scheme {
	case "basic":
		if !credentialsAllowed(req.URL) {
			return authUse{}, nil
		}
		if cr := c.credentials(ep.credHost); cr.Username != "" {
			req.SetBasicAuth(cr.Username, cr.Password)
			return authUse{kind: "basic"}, nil
		}
	case "bearer":
		tok, key, cached, err := c.token(ctx, ep, ch, scopes, req.URL)
		if err != nil {
			return authUse{}, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		return authUse{kind: "bearer", key: key, cached: cached}, nil
	}
	return authUse{}, nil
}

// learnChallenge reads a 401's challenge and reports whether repeating the
// request may now succeed.
func (c *Client) learnChallenge(ep *endpoint, resp *http.Response, used authUse) bool {
	ch := pickChallenge(parseChallenges(resp.Header.Values("WWW-Authenticate")))
	if ch == nil {
		return false
	}
	prev := ep.hs.setChallenge(ch)
	switch {
	case used.kind == "":
		return ch.scheme == "bearer" || (credentialsAllowed(resp.Request.URL) && c.credentials(ep.credHost).Username != "")
	case used.kind == "bearer" && used.cached:
		// A token lacking the scope is valid: fetching it again won't help.
		if ch.params["error"] == "insufficient_scope" && ch.sameAs(prev) {
			return false
		}
		c.dropToken(used.key)
		return true
	}
	return !ch.sameAs(prev)
}

func (c *Client) dropToken(key string) {
	c.mu.Lock()
	delete(c.tokens, key)
	c.mu.Unlock()
}

// token returns a bearer token for scopes from ch's realm, cached per host,
// realm, service, identity and scopes. Concurrent callers of one key wait for
// a single fetch.
func (c *Client) token(ctx context.Context, ep *endpoint, ch *challenge, scopes []string, target *url.URL) (tok, key string, cached bool, err error) {
	realm, err := parseRealm(ch.params["realm"])
	if err != nil {
		return "", "", false, err
	}
	var cr Credentials
	if credentialsAllowed(target) && credentialsAllowed(realm) {
		cr = c.credentials(ep.credHost)
	}
	scopes = slices.Sorted(slices.Values(scopes))
	scopes = slices.Compact(scopes)
	service := ch.params["service"]
	identity := cr.Username
	if cr.IdentityToken != "" {
		identity = "\x01identity:" + cr.Username
	}
	key = strings.Join([]string{ep.hs.name, realm.String(), service, identity, strings.Join(scopes, " ")}, "\x00")

	c.mu.Lock()
	e := c.tokens[key]
	if e == nil {
		e = &tokenEntry{host: ep.hs.name}
		c.tokens[key] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.token != "" && time.Now().Before(e.expires) {
		return e.token, key, true, nil
	}
	start := time.Now()
	tr, err := c.fetchToken(ctx, realm, service, scopes, cr, false)
	if err != nil {
		return "", key, false, err
	}
	e.token, e.expires = tr.token(), start.Add(tr.lifetime())
	return e.token, key, false, nil
}

func parseRealm(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errdefs.Newf(errdefs.ErrUnavailable, "registry sent an unusable token realm %q", s)
	}
	return u, nil
}

type tokenResponse struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

func (t tokenResponse) token() string {
	if t.Token != "" {
		return t.Token
	}
	return t.AccessToken
}

// lifetime is how long the token may be reused: its expires_in less a
// margin for the time requests take.
func (t tokenResponse) lifetime() time.Duration {
	d := defaultTokenLifetime
	if t.ExpiresIn > 0 && t.ExpiresIn < 365*24*3600 {
		d = time.Duration(t.ExpiresIn) * time.Second
	}
	return d - min(d/10, 10*time.Second)
}

// fetchToken asks realm for a token. With an identity token it POSTs an
// OAuth2 refresh_token grant; otherwise it GETs, with Basic credentials when
// there are some. offline asks for a refresh token too (login).
func (c *Client) fetchToken(ctx context.Context, realm *url.URL, service string, scopes []string, cr Credentials, offline bool) (tokenResponse, error) {
	hs, err := c.host(ctx, realm.Host)
	if err != nil {
		return tokenResponse{}, err
	}
	build := func() (*http.Request, error) {
		if cr.IdentityToken != "" {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cr.IdentityToken}, "client_id": {clientID}}
			if service != "" {
				form.Set("service", service)
			}
			if len(scopes) > 0 {
				form.Set("scope", strings.Join(scopes, " "))
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, realm.String(), strings.NewReader(form.Encode()))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			return c.withUA(req, err)
		}
		u := *realm
		q := u.Query()
		if service != "" {
			q.Set("service", service)
		}
		for _, s := range scopes {
			q.Add("scope", s)
		}
		if cr.Username != "" {
			q.Set("account", cr.Username)
		}
		if offline {
			q.Set("offline_token", "true")
			q.Set("client_id", clientID)
		}
		u.RawQuery = q.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err == nil && cr.Username != "" {
			req.SetBasicAuth(cr.Username, cr.Password)
		}
		return c.withUA(req, err)
	}
	resp, err := c.send(ctx, hs.client, maxRetries, build)
	if err != nil {
		return tokenResponse{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return tokenResponse{}, tokenError(resp)
	}
	var tr tokenResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxTokenBody)).Decode(&tr); err != nil {
		return tokenResponse{}, errdefs.Newf(errdefs.ErrUnavailable, "token server %s: invalid answer: %v", realm.Host, err)
	}
	if tr.token() == "" {
		return tokenResponse{}, errdefs.Newf(errdefs.ErrUnavailable, "token server %s: answer holds no token", realm.Host)
	}
	return tr, nil
}

func (c *Client) withUA(req *http.Request, err error) (*http.Request, error) {
	if err == nil && c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	return req, err
}

// tokenError describes a token server's refusal: a registry error body,
// Docker Hub's {"details": ...}, or an OAuth2 {"error": ...}.
func tokenError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Errors           []errorInfo `json:"errors"`
		Details          string      `json:"details"`
		Error            string      `json:"error"`
		ErrorDescription string      `json:"error_description"`
	}
	// A body that is not JSON leaves the fields empty; the status then
	// describes the refusal.
	_ = json.Unmarshal(b, &body)
	var info errorInfo
	switch {
	case len(body.Errors) > 0:
		info = body.Errors[0]
	case body.Details != "":
		info = errorInfo{Message: body.Details}
	case body.ErrorDescription != "":
		info = errorInfo{Message: body.ErrorDescription}
	case body.Error != "":
		info = errorInfo{Message: body.Error}
	}
	permission := resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden
	if permission && info.Code == "" {
		info.Code = codeUnauthorized
	}
	if info.Code == "" && info.Message == "" {
		info = statusError(resp)
	}
	if !permission && info.Code == "" {
		info.Message = fmt.Sprintf("token server %s: %s", resp.Request.URL.Host, info.Message)
	}
	return &registryError{status: resp.StatusCode, errs: []errorInfo{info}, class: classOf(info.Code, resp.StatusCode)}
}
