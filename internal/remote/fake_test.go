package remote

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
)

// fakeRegistry is a small in-process distribution registry with a token
// server, enough to exercise the client.
type fakeRegistry struct {
	srv *httptest.Server

	mu        sync.Mutex
	blobs     map[string]map[digest.Digest][]byte // repo -> digest -> content
	manifests map[string]map[string]fakeManifest  // repo -> tag or digest -> manifest
	uploads   map[string]*fakeUpload
	nextID    int
	grants    map[string]map[string]string // token -> scope resource -> actions
	failures  []*fakeFailure
	log       []string // "METHOD path"
	auths     []string // Authorization headers seen by the registry
	tokenAuth []string // Authorization headers seen by the token server
	cutOnce   int      // cut the next blob GET after this many bytes
	cancelled int      // DELETEd uploads

	cfg fakeConfig

	tokenGets  atomic.Int32
	tokenPosts atomic.Int32
	chunked    atomic.Int32 // PATCHes sent with chunked transfer encoding
}

// fakeConfig holds the registry's behaviour knobs; tests change them with
// configure, handlers read a copy.
type fakeConfig struct {
	authMode    string            // "", "basic", "bearer"
	users       map[string]string // user -> password
	private     map[string]bool   // repositories anonymous users cannot pull
	pageSize    int
	noMount     bool
	noSearch    bool
	ignoreRange bool
	badDigest   bool   // send a wrong Docker-Content-Digest for manifests
	blobsAt     string // redirect blob GETs to this base URL
	shortPatch  int64  // answer a PATCH after reading this many bytes
}

func (f *fakeRegistry) configure(change func(*fakeConfig)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(&f.cfg)
}

func (f *fakeRegistry) config() fakeConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
}

type fakeManifest struct {
	mediaType string
	body      []byte
}

type fakeUpload struct {
	repo string
	buf  bytes.Buffer
}

type fakeFailure struct {
	match      string // path substring
	status     int
	retryAfter string
	times      int
}

func newFakeRegistry(t *testing.T, authMode string) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{
		blobs:     map[string]map[digest.Digest][]byte{},
		manifests: map[string]map[string]fakeManifest{},
		uploads:   map[string]*fakeUpload{},
		grants:    map[string]map[string]string{},
		cfg:       fakeConfig{authMode: authMode, users: map[string]string{"alice": "secret"}},
	}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// host returns the server's host:port.
func (f *fakeRegistry) host() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *fakeRegistry) fail(match string, status int, retryAfter string, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, &fakeFailure{match: match, status: status, retryAfter: retryAfter, times: times})
}

func (f *fakeRegistry) putBlob(repo string, b []byte) digest.Digest {
	f.mu.Lock()
	defer f.mu.Unlock()
	dg := digest.FromBytes(b)
	if f.blobs[repo] == nil {
		f.blobs[repo] = map[digest.Digest][]byte{}
	}
	f.blobs[repo][dg] = b
	return dg
}

func (f *fakeRegistry) putManifest(repo, tag, mediaType string, body []byte) digest.Digest {
	f.mu.Lock()
	defer f.mu.Unlock()
	dg := digest.FromBytes(body)
	if f.manifests[repo] == nil {
		f.manifests[repo] = map[string]fakeManifest{}
	}
	m := fakeManifest{mediaType: mediaType, body: body}
	f.manifests[repo][string(dg)] = m
	if tag != "" {
		f.manifests[repo][tag] = m
	}
	return dg
}

func (f *fakeRegistry) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

func (f *fakeRegistry) authHeaders() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.auths)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.log = append(f.log, r.Method+" "+r.URL.Path)
	if r.URL.Path != "/token" {
		f.auths = append(f.auths, r.Header.Get("Authorization"))
	} else {
		f.tokenAuth = append(f.tokenAuth, r.Header.Get("Authorization"))
	}
	for _, fl := range f.failures {
		if fl.times > 0 && strings.Contains(r.URL.Path, fl.match) {
			fl.times--
			f.mu.Unlock()
			if fl.retryAfter != "" {
				w.Header().Set("Retry-After", fl.retryAfter)
			}
			code := "UNAVAILABLE"
			if fl.status == http.StatusTooManyRequests {
				code = "TOOMANYREQUESTS"
			}
			writeErr(w, fl.status, code, "try again")
			return
		}
	}
	f.mu.Unlock()

	cfg := f.config()
	switch p := r.URL.Path; {
	case p == "/token":
		f.serveToken(w, r, cfg)
	case p == "/v1/search" && !cfg.noSearch:
		if f.authorize(w, r, cfg, "", "") {
			f.serveSearch(w, r)
		}
	case p == "/v2/":
		if f.authorize(w, r, cfg, "", "") {
			w.WriteHeader(http.StatusOK)
		}
	case p == "/v2/_catalog":
		if f.authorize(w, r, cfg, "registry:catalog", "*") {
			f.serveList(w, r, cfg, "repositories", f.repoNames())
		}
	case strings.HasPrefix(p, "/v2/"):
		f.serveRepo(w, r, cfg, strings.TrimPrefix(p, "/v2/"))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeRegistry) serveRepo(w http.ResponseWriter, r *http.Request, cfg fakeConfig, rest string) {
	action := "pull"
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		action = "push"
	}
	var repo, kind, arg string
	for _, k := range []string{"/manifests/", "/blobs/uploads/", "/blobs/", "/tags/list"} {
		if i := strings.LastIndex(rest, k); i > 0 {
			repo, kind, arg = rest[:i], strings.Trim(k, "/"), rest[i+len(k):]
			break
		}
	}
	if repo == "" {
		http.NotFound(w, r)
		return
	}
	if !f.authorize(w, r, cfg, "repository:"+repo, action) {
		return
	}
	if kind == "blobs/uploads" && r.URL.Query().Get("from") != "" {
		if !f.authorize(w, r, cfg, "repository:"+r.URL.Query().Get("from"), "pull") {
			return
		}
	}
	switch kind {
	case "manifests":
		f.serveManifest(w, r, cfg, repo, arg)
	case "blobs":
		f.serveBlob(w, r, cfg, repo, digest.Digest(arg))
	case "blobs/uploads":
		f.serveUpload(w, r, cfg, repo, arg)
	case "tags/list":
		f.mu.Lock()
		var tags []string
		for k := range f.manifests[repo] {
			if !strings.Contains(k, ":") {
				tags = append(tags, k)
			}
		}
		f.mu.Unlock()
		if tags == nil {
			writeErr(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
			return
		}
		slices.Sort(tags)
		f.serveList(w, r, cfg, "tags", tags)
	}
}

func (f *fakeRegistry) serveManifest(w http.ResponseWriter, r *http.Request, cfg fakeConfig, repo, ref string) {
	if r.Method == http.MethodPut {
		body, _ := io.ReadAll(r.Body)
		dg := f.putManifest(repo, ref, r.Header.Get("Content-Type"), body)
		w.Header().Set("Docker-Content-Digest", string(dg))
		w.WriteHeader(http.StatusCreated)
		return
	}
	f.mu.Lock()
	m, ok := f.manifests[repo][ref]
	_, repoKnown := f.manifests[repo]
	f.mu.Unlock()
	if !ok {
		if !repoKnown {
			writeErr(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
			return
		}
		writeErr(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
		return
	}
	dg := digest.FromBytes(m.body)
	if cfg.badDigest {
		dg = digest.FromString("something else")
	}
	w.Header().Set("Content-Type", m.mediaType)
	w.Header().Set("Docker-Content-Digest", string(dg))
	w.Header().Set("Content-Length", strconv.Itoa(len(m.body)))
	if r.Method == http.MethodGet {
		w.Write(m.body)
	}
}

func (f *fakeRegistry) serveBlob(w http.ResponseWriter, r *http.Request, cfg fakeConfig, repo string, dg digest.Digest) {
	f.mu.Lock()
	b, ok := f.blobs[repo][dg]
	cut := f.cutOnce
	f.cutOnce = 0
	f.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")
		return
	}
	if r.Method == http.MethodGet && cfg.blobsAt != "" {
		http.Redirect(w, r, cfg.blobsAt+r.URL.Path, http.StatusTemporaryRedirect)
		return
	}
	serveContent(w, r, b, cfg.ignoreRange, cut)
}

// serveContent answers a blob GET or HEAD, honouring "Range: bytes=N-"
// unless ignoreRange, and cutting the connection after cut bytes if cut > 0.
func serveContent(w http.ResponseWriter, r *http.Request, b []byte, ignoreRange bool, cut int) {
	status, start := http.StatusOK, 0
	if rng := r.Header.Get("Range"); rng != "" && !ignoreRange {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rng, "bytes="), "-"))
		if err != nil || n >= len(b) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(b)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		status, start = http.StatusPartialContent, n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(b)-1, len(b)))
	}
	body := b[start:]
	if cut > 0 && r.Method == http.MethodGet {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n", status, http.StatusText(status), len(body))
		if status == http.StatusPartialContent {
			fmt.Fprintf(buf, "Content-Range: %s\r\n", w.Header().Get("Content-Range"))
		}
		buf.WriteString("\r\n")
		buf.Write(body[:cut])
		buf.Flush()
		conn.Close()
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}
