package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
)

// HostConfig holds per-registry connection settings, taken from strata's
// configuration.
type HostConfig struct {
	// Mirrors maps a registry host ("docker.io", "myreg:5000") to mirror
	// endpoints ("https://mirror.example", "mirror:5000"), tried in order
	// before the registry itself, for pulls only.
	Mirrors map[string][]string
	// Insecure lists hosts (host or host:port) and CIDRs reachable over
	// plain HTTP or TLS without certificate checks. Loopback hosts always
	// are, as in Docker.
	Insecure []string
	// CertsDir is a certs.d-style directory:
	// <CertsDir>/<host[:port]>/{*.crt (CA roots), *.cert + *.key (client
	// certificates)}. Empty means /etc/strata/certs.d, then /etc/docker/certs.d.
	CertsDir string
}

const (
	dockerHubDomain  = "docker.io"
	dockerHubAPIHost = "registry-1.docker.io"
	dockerHubIndex   = "index.docker.io"
	dockerHubAuthKey = "https://index.docker.io/v1/"
)

func defaultCertsDirs() []string {
	return []string{"/etc/strata/certs.d", "/etc/docker/certs.d"}
}

// normalizeHost turns what a user may type for a registry
// ("https://index.docker.io/v1/", "MyReg:5000/", "") into host[:port], with
// Docker Hub's aliases folded into "docker.io".
func normalizeHost(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	s = strings.ToLower(s)
	switch s {
	case "", dockerHubDomain, dockerHubIndex, dockerHubAPIHost, "registry.hub.docker.com":
		return dockerHubDomain
	}
	return s
}

// apiHost returns the host that serves the registry API for a registry name.
func apiHost(registry string) string {
	if registry == dockerHubDomain {
		return dockerHubAPIHost
	}
	return registry
}

// isLoopbackHost reports whether a host name (without port) names this
// machine: "localhost", "*.localhost" or a loopback address.
func isLoopbackHost(h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return err == nil && ip.Unmap().IsLoopback()
}

// credentialsAllowed reports whether credentials may travel to u: over TLS,
// or to this machine.
func credentialsAllowed(u *url.URL) bool {
	return u.Scheme == "https" || isLoopbackHost(u.Hostname())
}

// hostState is what the Client knows about one host[:port].
type hostState struct {
	name     string
	insecure bool
	client   *http.Client

	mu        sync.Mutex
	scheme    string     // "https" or "http"; "" while an insecure host is untried
	challenge *challenge // the host's auth challenge, nil until a 401
}

func (h *hostState) currentScheme() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.scheme == "" {
		return "https"
	}
	return h.scheme
}

func (h *hostState) settle(scheme string) {
	h.mu.Lock()
	if h.scheme == "" {
		h.scheme = scheme
	}
	h.mu.Unlock()
}

func (h *hostState) unsettled() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.scheme == ""
}

func (h *hostState) getChallenge() *challenge {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.challenge
}

// setChallenge records ch and returns the challenge it replaced.
func (h *hostState) setChallenge(ch *challenge) *challenge {
	h.mu.Lock()
	defer h.mu.Unlock()
	prev := h.challenge
	h.challenge = ch
	return prev
}

// host returns the state of host[:port] name, creating it on first use.
func (c *Client) host(ctx context.Context, name string) (*hostState, error) {
	name = strings.ToLower(name)
	c.mu.Lock()
	hs := c.states[name]
	c.mu.Unlock()
	if hs != nil {
		return hs, nil
	}
	insecure := c.isInsecure(ctx, name)
	conf, err := c.tlsConfig(name, insecure)
	if err != nil {
		return nil, err
	}
	hs = &hostState{name: name, insecure: insecure, client: c.newHTTPClient(conf)}
	if !insecure {
		hs.scheme = "https"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if existing := c.states[name]; existing != nil {
		return existing, nil
	}
	c.states[name] = hs
	return hs, nil
}

// isInsecure reports whether host[:port] may be reached without TLS checks.
func (c *Client) isInsecure(ctx context.Context, hostport string) bool {
	hostname := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		hostname = h
	}
	if isLoopbackHost(hostname) {
		return true
	}
	var prefixes []netip.Prefix
	for _, entry := range c.hosts.Insecure {
		entry = strings.ToLower(strings.TrimSpace(entry))
		if i := strings.Index(entry, "://"); i >= 0 {
			entry = entry[i+3:]
		}
		entry = strings.TrimSuffix(entry, "/")
		if entry == hostport || entry == hostname {
			return true
		}
		if p, err := netip.ParsePrefix(entry); err == nil {
			prefixes = append(prefixes, p.Masked())
		}
	}
	if len(prefixes) == 0 {
		return false
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(strings.Trim(hostname, "[]")); err == nil {
		addrs = []netip.Addr{ip}
	} else if resolved, err := net.DefaultResolver.LookupNetIP(ctx, "ip", hostname); err == nil {
		addrs = resolved
	}
	for _, a := range addrs {
		for _, p := range prefixes {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
	}
	return false
}

// tlsConfig builds the TLS settings for host[:port]: the system roots plus
// the certs.d CA files, certs.d client certificates, and no verification for
// insecure hosts.
func (c *Client) tlsConfig(hostport string, insecure bool) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure}
	dirs := defaultCertsDirs()
	if c.hosts.CertsDir != "" {
		dirs = []string{c.hosts.CertsDir}
	}
	for _, base := range dirs {
		dir := filepath.Join(base, hostport)
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		if err := loadCertsDir(conf, dir, entries); err != nil {
			return nil, err
		}
		break
	}
	return conf, nil
}

func loadCertsDir(conf *tls.Config, dir string, entries []os.DirEntry) error {
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		switch filepath.Ext(name) {
		case ".crt":
			pem, err := os.ReadFile(path)
			if err != nil {
				return errdefs.Newf(errdefs.ErrInvalidArgument, "reading CA certificate: %v", err)
			}
			if conf.RootCAs == nil {
				if conf.RootCAs, err = x509.SystemCertPool(); err != nil {
					conf.RootCAs = x509.NewCertPool()
				}
			}
			if !conf.RootCAs.AppendCertsFromPEM(pem) {
				return errdefs.Newf(errdefs.ErrInvalidArgument, "CA certificate %s: no PEM certificate found", path)
			}
		case ".cert":
			keyPath := strings.TrimSuffix(path, ".cert") + ".key"
			pair, err := tls.LoadX509KeyPair(path, keyPath)
			if err != nil {
				return errdefs.Newf(errdefs.ErrInvalidArgument, "client certificate %s: %v", path, err)
			}
			conf.Certificates = append(conf.Certificates, pair)
		case ".key":
			certPath := strings.TrimSuffix(path, ".key") + ".cert"
			if _, err := os.Stat(certPath); err != nil {
				return errdefs.Newf(errdefs.ErrInvalidArgument, "client key %s has no matching certificate %s", path, filepath.Base(certPath))
			}
		}
	}
	return nil
}

func (c *Client) newHTTPClient(conf *tls.Config) *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       conf,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Blobs are compressed already, and manifests are hashed byte for byte.
		DisableCompression: true,
	}
	if c.dial != nil {
		tr.Proxy = nil
		tr.DialContext = c.dial
	}
	return &http.Client{Transport: tr, CheckRedirect: checkRedirect}
}

// checkRedirect follows up to 10 redirects and drops the Authorization header
// when one leads to another host (an S3 presigned URL must not see the
// registry token).
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return fmt.Errorf("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		req.Header.Del("Authorization")
	}
	return nil
}

// endpoint is one place a repository's API is served: a mirror or the
// registry itself.
type endpoint struct {
	hs       *hostState
	scheme   string // the scheme a mirror URL was written with; "" = the host's
	prefix   string // path prefix of a mirror URL, without trailing slash
	credHost string // AuthStore key of the credentials for this endpoint
	mirror   bool
	ns       string // the registry a mirror stands in for, sent as ?ns=
}

func (e *endpoint) schemeNow() string {
	if e.scheme != "" {
		return e.scheme
	}
	return e.hs.currentScheme()
}

// mayFallBack reports whether e's first https contact may be retried over
// plain http.
func (e *endpoint) mayFallBack() bool {
	return e.scheme == "" && e.hs.insecure && e.hs.unsettled()
}

func (e *endpoint) url(path string, q url.Values) *url.URL {
	if e.ns != "" {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = v
		}
		q2.Set("ns", e.ns)
		q = q2
	}
	return &url.URL{Scheme: e.schemeNow(), Host: e.hs.name, Path: e.prefix + path, RawQuery: q.Encode()}
}

// registryEndpoint returns the endpoint of the registry named registry
// ("docker.io", "myreg:5000").
func (c *Client) registryEndpoint(ctx context.Context, registry string) (*endpoint, error) {
	registry = normalizeHost(registry)
	hs, err := c.host(ctx, apiHost(registry))
	if err != nil {
		return nil, err
	}
	return &endpoint{hs: hs, credHost: registry}, nil
}

// endpoints returns where to reach registry: its mirrors first when pull is
// set, then the registry.
func (c *Client) endpoints(ctx context.Context, registry string, pull bool) ([]*endpoint, error) {
	registry = normalizeHost(registry)
	var eps []*endpoint
	if pull {
		for _, m := range c.mirrors[registry] {
			ep, err := c.mirrorEndpoint(ctx, registry, m)
			if err != nil {
				return nil, err
			}
			eps = append(eps, ep)
		}
	}
	ep, err := c.registryEndpoint(ctx, registry)
	if err != nil {
		return nil, err
	}
	return append(eps, ep), nil
}

func (c *Client) mirrorEndpoint(ctx context.Context, registry, mirror string) (*endpoint, error) {
	ep := &endpoint{mirror: true, ns: registry}
	host := mirror
	if strings.Contains(mirror, "://") {
		u, err := url.Parse(mirror)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "mirror %q of %s: want https://host[:port][/path] or host[:port]", mirror, registry)
		}
		host, ep.scheme, ep.prefix = u.Host, u.Scheme, strings.TrimSuffix(u.Path, "/")
	}
	hs, err := c.host(ctx, host)
	if err != nil {
		return nil, err
	}
	ep.hs, ep.credHost = hs, hs.name
	return ep, nil
}
