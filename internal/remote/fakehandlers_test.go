package remote

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
)

// authorize checks the request's credentials for resource ("repository:x")
// and action, answering 401 with a challenge when they fall short.
func (f *fakeRegistry) authorize(w http.ResponseWriter, r *http.Request, cfg fakeConfig, resource, action string) bool {
	switch cfg.authMode {
	case "basic":
		if u, p, ok := r.BasicAuth(); ok && cfg.users[u] == p {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
		writeErr(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return false
	case "bearer":
		tok, hasToken := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		grant, known := f.grants[tok]
		f.mu.Unlock()
		if hasToken && known && (resource == "" || strings.Contains(","+grant[resource]+",", ","+action+",")) {
			return true
		}
		ch := fmt.Sprintf(`Bearer realm="%s/token",service="fake"`, f.srv.URL)
		if resource != "" {
			ch += fmt.Sprintf(`,scope="%s:%s"`, resource, action)
		}
		switch {
		case hasToken && known:
			ch += `,error="insufficient_scope"`
		case hasToken:
			ch += `,error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", ch)
		writeErr(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return false
	}
	return true
}

func (f *fakeRegistry) serveToken(w http.ResponseWriter, r *http.Request, cfg fakeConfig) {
	user := ""
	var scopes []string
	var refresh string
	if r.Method == http.MethodPost {
		f.tokenPosts.Add(1)
		r.ParseForm()
		rt := r.PostForm.Get("refresh_token")
		u, ok := strings.CutPrefix(rt, "refresh-")
		if r.PostForm.Get("grant_type") != "refresh_token" || !ok || cfg.users[u] == "" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"details":"invalid refresh token"}`)
			return
		}
		user = u
		scopes = strings.Fields(r.PostForm.Get("scope"))
	} else {
		f.tokenGets.Add(1)
		if u, p, ok := r.BasicAuth(); ok {
			if cfg.users[u] != p {
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"details":"incorrect username or password"}`)
				return
			}
			user = u
			if r.URL.Query().Get("offline_token") == "true" {
				refresh = "refresh-" + u
			}
		}
		scopes = r.URL.Query()["scope"]
	}
	grant := map[string]string{}
	for _, s := range scopes {
		i := strings.LastIndex(s, ":")
		if i < 0 {
			continue
		}
		resource, asked := s[:i], s[i+1:]
		var ok []string
		for _, a := range strings.Split(asked, ",") {
			name := strings.TrimPrefix(resource, "repository:")
			switch {
			case a == "pull" && (user != "" || !cfg.private[name]):
				ok = append(ok, a)
			case a == "*" || (a == "push" && user != ""):
				ok = append(ok, a)
			}
		}
		grant[resource] = strings.Join(ok, ",")
	}
	f.mu.Lock()
	tok := fmt.Sprintf("tok-%d", len(f.grants)+1)
	f.grants[tok] = grant
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_in": 300, "refresh_token": refresh})
}

func (f *fakeRegistry) serveUpload(w http.ResponseWriter, r *http.Request, cfg fakeConfig, repo, id string) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodPost {
		if from, dg := q.Get("from"), digest.Digest(q.Get("mount")); from != "" && !cfg.noMount {
			if b, ok := f.blobs[from][dg]; ok {
				if f.blobs[repo] == nil {
					f.blobs[repo] = map[digest.Digest][]byte{}
				}
				f.blobs[repo][dg] = b
				w.Header().Set("Location", "/v2/"+repo+"/blobs/"+string(dg))
				w.WriteHeader(http.StatusCreated)
				return
			}
		}
		f.nextID++
		id := strconv.Itoa(f.nextID)
		f.uploads[id] = &fakeUpload{repo: repo}
		w.Header().Set("Location", "/v2/"+repo+"/blobs/uploads/"+id+"?_state=s"+id)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	up, ok := f.uploads[id]
	if !ok || up.repo != repo || q.Get("_state") != "s"+id {
		writeErr(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
		return
	}
	switch r.Method {
	case http.MethodPatch:
		if slices.Contains(r.TransferEncoding, "chunked") {
			f.chunked.Add(1)
		}
		if f.cfg.shortPatch > 0 {
			io.CopyN(&up.buf, r.Body, f.cfg.shortPatch)
		} else {
			io.Copy(&up.buf, r.Body)
		}
		w.Header().Set("Location", "/v2/"+repo+"/blobs/uploads/"+id+"?_state=s"+id)
		w.WriteHeader(http.StatusAccepted)
	case http.MethodPut:
		io.Copy(&up.buf, r.Body)
		dg := digest.FromBytes(up.buf.Bytes())
		if q.Get("digest") != string(dg) {
			writeErr(w, http.StatusBadRequest, "DIGEST_INVALID", "provided digest did not match uploaded content")
			return
		}
		if f.blobs[repo] == nil {
			f.blobs[repo] = map[digest.Digest][]byte{}
		}
		f.blobs[repo][dg] = bytes.Clone(up.buf.Bytes())
		delete(f.uploads, id)
		w.Header().Set("Docker-Content-Digest", string(dg))
		w.WriteHeader(http.StatusCreated)
	case http.MethodDelete:
		delete(f.uploads, id)
		f.cancelled++
		w.WriteHeader(http.StatusNoContent)
	}
}

func (f *fakeRegistry) repoNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for k := range f.manifests {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// serveList answers one page of a sorted list, paginated after ?last= by
// ?n= or the registry's page size.
func (f *fakeRegistry) serveList(w http.ResponseWriter, r *http.Request, cfg fakeConfig, field string, all []string) {
	q := r.URL.Query()
	n := cfg.pageSize
	if v, err := strconv.Atoi(q.Get("n")); err == nil {
		n = v
	}
	if last := q.Get("last"); last != "" {
		i, _ := slices.BinarySearch(all, last)
		for i < len(all) && all[i] <= last {
			i++
		}
		all = all[i:]
	}
	if n > 0 && len(all) > n {
		all = all[:n]
		next := url.Values{"last": {all[n-1]}, "n": {strconv.Itoa(n)}}
		w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, next.Encode()))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{field: all})
}

func (f *fakeRegistry) serveSearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	var results []SearchResult
	for _, name := range f.repoNames() {
		if strings.Contains(name, q) && len(results) < n {
			results = append(results, SearchResult{Name: name, Description: "about " + name,
				StarCount: len(name), IsOfficial: strings.HasPrefix(name, "library/")})
		}
	}
	json.NewEncoder(w).Encode(map[string]any{"num_results": len(results), "query": q, "results": results})
}

// memStore is an AuthStore in memory.
type memStore struct {
	mu sync.Mutex
	m  map[string]Credentials
}

func newMemStore(host string, c Credentials) *memStore {
	s := &memStore{m: map[string]Credentials{}}
	if host != "" {
		s.m[host] = c
	}
	return s
}

func (s *memStore) Get(host string) (Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[host], nil
}

func (s *memStore) Store(host string, c Credentials) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[host] = c
	return nil
}

func (s *memStore) Erase(host string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, host)
	return nil
}
