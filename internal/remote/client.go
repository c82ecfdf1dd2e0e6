package remote

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

const (
	// maxRetries is how often an idempotent request is repeated.
	maxRetries = 3
	// maxRetryAfter is the longest Retry-After strata waits out; a longer
	// one fails the request at once.
	maxRetryAfter    = 30 * time.Second
	defaultRetryBase = 300 * time.Millisecond
)

// Client talks to registries. It is safe for concurrent use; a process needs
// only one, so that connections, challenges and tokens are shared.
type Client struct {
	hosts     HostConfig
	mirrors   map[string][]string // by normalized registry host
	auth      AuthStore
	userAgent string

	mu     sync.Mutex
	states map[string]*hostState
	creds  map[string]Credentials
	tokens map[string]*tokenEntry

	// Test hooks, set before first use.
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	retryBase time.Duration
}

// NewClient returns a client with the given host settings, credentials
// (nil: anonymous only) and User-Agent.
func NewClient(hosts HostConfig, auth AuthStore, userAgent string) *Client {
	mirrors := map[string][]string{}
	for reg, ms := range hosts.Mirrors {
		key := normalizeHost(reg)
		mirrors[key] = append(mirrors[key], ms...)
	}
	return &Client{
		hosts:     hosts,
		mirrors:   mirrors,
		auth:      auth,
		userAgent: userAgent,
		states:    map[string]*hostState{},
		creds:     map[string]Credentials{},
		tokens:    map[string]*tokenEntry{},
		retryBase: defaultRetryBase,
	}
}

// request describes one API call.
type request struct {
	method string
	path   string     // API path under the endpoint, "/v2/..."
	query  url.Values // for path
	url    *url.URL   // an absolute URL instead (upload locations, next pages)
	header http.Header
	body   []byte    // a body that can be sent again
	stream io.Reader // a one-shot body: no retry, no repeat after a 401; closed by the transport if an io.ReadCloser
	length int64     // stream length, -1 when unknown
	scopes []string  // token scopes
	retry  bool      // idempotent: may be repeated on errors, 5xx and 429
	noAuth bool      // send without credentials and keep 401s
}

func (rq *request) newHTTP(ctx context.Context, u *url.URL, userAgent string) (*http.Request, error) {
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if rq.stream != nil {
		rc, ok := rq.stream.(io.ReadCloser)
		if !ok {
			rc = io.NopCloser(rq.stream)
		}
		req.Body, req.GetBody, req.ContentLength = rc, nil, rq.length
		if rq.length == 0 {
			req.Body = http.NoBody
		}
	}
	for k, v := range rq.header {
		req.Header[k] = v
	}
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	return req, nil
}

// do sends rq to ep: over the scheme that works, authorized, repeated on
// errors when rq.retry is set, and once more after a 401 that taught a new
// challenge or invalidated a cached token. The caller checks the status and
// closes the body.
func (c *Client) do(ctx context.Context, ep *endpoint, rq *request) (*http.Response, error) {
	authRetried := false
	for {
		resp, used, err := c.attempt(ctx, ep, rq)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized || authRetried || rq.noAuth || rq.stream != nil {
			return resp, nil
		}
		if !c.learnChallenge(ep, resp, used) {
			return resp, nil
		}
		authRetried = true
		discard(resp)
	}
}

// attempt sends rq once (plus retries). On the first contact with an
// insecure host an https failure switches the host to plain http.
func (c *Client) attempt(ctx context.Context, ep *endpoint, rq *request) (*http.Response, authUse, error) {
	var used authUse
	build := func(u *url.URL) func() (*http.Request, error) {
		return func() (*http.Request, error) {
			req, err := rq.newHTTP(ctx, u, c.userAgent)
			if err != nil || rq.noAuth {
				return req, err
			}
			used, err = c.authorize(ctx, ep, req, rq.scopes)
			return req, err
		}
	}
	retries := 0
	if rq.retry && rq.stream == nil && !ep.mirror {
		retries = maxRetries
	}
	if rq.url == nil && rq.stream == nil && ep.mayFallBack() {
		u := ep.url(rq.path, rq.query)
		resp, err := c.send(ctx, ep.hs.client, 0, build(u))
		switch {
		case err == nil:
			ep.hs.settle("https")
			if retries == 0 || !retryableStatus(resp.StatusCode) {
				return resp, used, nil
			}
			discard(resp)
		case ctx.Err() != nil || !isTransportError(err):
			return nil, used, err
		default:
			// The host is settled on http only once http answers.
			plain := *u
			plain.Scheme = "http"
			resp, err := c.send(ctx, ep.hs.client, retries, build(&plain))
			if err == nil {
				ep.hs.settle("http")
			}
			return resp, used, err
		}
	}
	u := rq.url
	if u == nil {
		u = ep.url(rq.path, rq.query)
	}
	resp, err := c.send(ctx, ep.hs.client, retries, build(u))
	return resp, used, err
}

// send performs the request build makes, repeating it up to retries times on
// connection errors and on 429 and 5xx answers.
func (c *Client) send(ctx context.Context, hc *http.Client, retries int, build func() (*http.Request, error)) (*http.Response, error) {
	for try := 0; ; try++ {
		req, err := build()
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			if try < retries && !isCertificateError(err) {
				if err := sleep(ctx, c.backoff(try)); err != nil {
					return nil, err
				}
				continue
			}
			return nil, &transportError{err}
		}
		if try < retries && retryableStatus(resp.StatusCode) {
			wait := c.backoff(try)
			if ra, ok := retryAfter(resp.Header, time.Now()); ok {
				wait = ra
			}
			if wait <= maxRetryAfter {
				discard(resp)
				if err := sleep(ctx, wait); err != nil {
					return nil, err
				}
				continue
			}
		}
		return resp, nil
	}
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoff returns the pause before retry number try+1: base·2^try, ±20%.
func (c *Client) backoff(try int) time.Duration {
	d := c.retryBase << try
	return d - d/5 + rand.N(d/5*2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// discard drains a little of an unwanted body, so the connection can be
// reused, and closes it.
func discard(resp *http.Response) {
	// Best effort: a failed read only means the connection is not reused.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

// credentials returns the stored credentials for host, cached for the
// process. A failing store counts as none: anonymous access may still work,
// as with Docker.
func (c *Client) credentials(host string) Credentials {
	if c.auth == nil {
		return Credentials{}
	}
	c.mu.Lock()
	cr, ok := c.creds[host]
	c.mu.Unlock()
	if ok {
		return cr
	}
	cr, err := c.auth.Get(host)
	if err != nil {
		cr = Credentials{}
	}
	c.mu.Lock()
	c.creds[host] = cr
	c.mu.Unlock()
	return cr
}

// forget drops what is cached about host's credentials and tokens.
func (c *Client) forget(credHost, apiHost string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.creds, credHost)
	for k, e := range c.tokens {
		if e.host == apiHost {
			delete(c.tokens, k)
		}
	}
}

// isCertificateError reports a TLS verification failure: asking again
// cannot fix it, so it is reported at once.
func isCertificateError(err error) bool {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &host) || errors.As(err, &verify)
}
