package registry

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// paginate returns the page of sorted items after last, at most n long (n
// from the query, clamped to max; absent means max), and whether more
// follow.
func paginate(items []string, q url.Values, max int) (page []string, n int, more bool) {
	n = max
	if v := q.Get("n"); v != "" {
		if x, err := strconv.Atoi(v); err == nil && x >= 0 {
			n = min(x, max)
		}
	}
	if last := q.Get("last"); last != "" {
		i := sort.Search(len(items), func(i int) bool { return items[i] > last })
		items = items[i:]
	}
	if n == 0 {
		return []string{}, 0, false
	}
	if len(items) > n {
		return items[:n], n, true
	}
	if items == nil {
		items = []string{}
	}
	return items, n, false
}

func setNextLink(w http.ResponseWriter, base string, n int, last string) {
	v := url.Values{"n": {strconv.Itoa(n)}, "last": {last}}
	w.Header().Set("Link", "<"+base+"?"+v.Encode()+`>; rel="next"`)
}

// serveTags handles GET /v2/<name>/tags/list.
func (s *Server) serveTags(w http.ResponseWriter, r *http.Request, rq *request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, http.MethodGet, http.MethodHead)
	}
	name := rq.route.name
	if _, err := s.authorize(r, rq, repoNeed(name, actionPull)); err != nil {
		return err
	}
	tags, err := s.store.tags(r.Context(), name)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		ok, err := s.store.repoExists(r.Context(), name)
		if err != nil {
			return err
		}
		if !ok {
			return newError(codeNameUnknown, "repository %s not known to registry", name).withDetail(map[string]string{"name": name})
		}
	}
	page, n, more := paginate(tags, r.URL.Query(), s.cfg.MaxPageSize)
	if more {
		setNextLink(w, "/v2/"+name+"/tags/list", n, page[len(page)-1])
	}
	return writeJSON(w, http.StatusOK, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, page})
}

// visibleRepositories lists the repositories id may pull.
func (s *Server) visibleRepositories(r *http.Request, id identity) ([]string, error) {
	all, err := s.store.repositories(r.Context())
	if err != nil || !s.auth.enabled {
		return all, err
	}
	out := all[:0]
	for _, name := range all {
		if s.auth.allowed(id, repoNeed(name, actionPull)) {
			out = append(out, name)
		}
	}
	return out, nil
}

// catalogRepositories answers the start of a catalog-wide GET (the
// catalog, search): the method, the caller's right to the catalog, and the
// repositories it may see.
func (s *Server) catalogRepositories(w http.ResponseWriter, r *http.Request, rq *request) ([]string, error) {
	if r.Method != http.MethodGet {
		return nil, methodNotAllowed(w, http.MethodGet)
	}
	id, err := s.authorize(r, rq, need{"registry", "catalog", "*"})
	if err != nil {
		return nil, err
	}
	return s.visibleRepositories(r, id)
}

// serveCatalog handles GET /v2/_catalog.
func (s *Server) serveCatalog(w http.ResponseWriter, r *http.Request, rq *request) error {
	repos, err := s.catalogRepositories(w, r, rq)
	if err != nil {
		return err
	}
	page, n, more := paginate(repos, r.URL.Query(), s.cfg.MaxPageSize)
	if more {
		setNextLink(w, "/v2/_catalog", n, page[len(page)-1])
	}
	return writeJSON(w, http.StatusOK, struct {
		Repositories []string `json:"repositories"`
	}{page})
}

type searchResult struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	StarCount   int    `json:"star_count"`
	IsOfficial  bool   `json:"is_official"`
	IsAutomated bool   `json:"is_automated"`
}

// serveSearch handles Docker's GET /v1/search?q=&n=&page= from the catalog.
func (s *Server) serveSearch(w http.ResponseWriter, r *http.Request, rq *request) error {
	repos, err := s.catalogRepositories(w, r, rq)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	term := strings.ToLower(q.Get("q"))
	n := 25
	if x, err := strconv.Atoi(q.Get("n")); err == nil && x > 0 {
		n = min(x, 100)
	}
	pageNo := 1
	if x, err := strconv.Atoi(q.Get("page")); err == nil && x > 0 {
		pageNo = x
	}
	var hits []searchResult
	for _, name := range repos {
		if strings.Contains(name, term) {
			hits = append(hits, searchResult{Name: name})
		}
	}
	total := len(hits)
	from := min((pageNo-1)*n, total)
	results := hits[from:min(from+n, total)]
	if results == nil {
		results = []searchResult{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"num_results": total,
		"num_pages":   (total + n - 1) / n,
		"page":        pageNo,
		"page_size":   n,
		"query":       q.Get("q"),
		"results":     results,
	})
}

// serveReferrers handles GET /v2/<name>/referrers/<digest>: an image index
// of the manifests whose subject is digest, optionally filtered by
// artifactType. Always 200, even for an unknown repository or digest.
func (s *Server) serveReferrers(w http.ResponseWriter, r *http.Request, rq *request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, http.MethodGet, http.MethodHead)
	}
	rt := rq.route
	if _, err := s.authorize(r, rq, repoNeed(rt.name, actionPull)); err != nil {
		return err
	}
	ctx := r.Context()
	dir := referrersDir(rt.name, rt.dgst)
	entries, err := s.store.list(ctx, dir)
	if err != nil {
		return err
	}
	filter := r.URL.Query().Get("artifactType")
	descs := []v1.Descriptor{}
	for _, e := range entries {
		b, err := s.store.d.GetContent(ctx, dir+"/"+e)
		if isNotFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		var d v1.Descriptor
		if json.Unmarshal(b, &d) != nil {
			continue
		}
		if filter != "" && d.ArtifactType != filter {
			continue
		}
		descs = append(descs, d)
	}
	if filter != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: descs}
	idx.SchemaVersion = 2
	body, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", v1.MediaTypeImageIndex)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, err = w.Write(body)
	}
	return err
}
