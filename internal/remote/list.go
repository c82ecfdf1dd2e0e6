package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
)

const (
	// maxPages bounds Link pagination.
	maxPages = 10000
	// maxListBody bounds one page of a listing.
	maxListBody = 16 << 20
	// DefaultSearchLimit is the number of search results when none is asked,
	// as in Docker.
	DefaultSearchLimit = 25
)

// Tags lists the repository's tags, following Link pagination. It asks the
// registry, never a mirror.
func (r *Repository) Tags(ctx context.Context) ([]string, error) {
	var tags []string
	err := r.client.paginate(ctx, r.registry(), r.path("tags", "list"), r.scopes, func(body io.Reader) error {
		var page struct {
			Tags []string `json:"tags"`
		}
		if err := json.NewDecoder(body).Decode(&page); err != nil {
			return errdefs.Newf(errdefs.ErrUnavailable, "tag list of %s: invalid answer: %v", r.ref.Name(), err)
		}
		tags = append(tags, page.Tags...)
		return nil
	})
	if err != nil {
		return nil, r.pullError("", err)
	}
	return tags, nil
}

// Catalog lists the repositories of a registry (GET /v2/_catalog, following
// Link pagination).
func (c *Client) Catalog(ctx context.Context, host string) ([]string, error) {
	ep, err := c.registryEndpoint(ctx, host)
	if err != nil {
		return nil, err
	}
	var repos []string
	err = c.paginate(ctx, ep, "/v2/_catalog", []string{"registry:catalog:*"}, func(body io.Reader) error {
		var page struct {
			Repositories []string `json:"repositories"`
		}
		if err := json.NewDecoder(body).Decode(&page); err != nil {
			return errdefs.Newf(errdefs.ErrUnavailable, "catalog of %s: invalid answer: %v", ep.hs.name, err)
		}
		repos = append(repos, page.Repositories...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the repositories of %s: %w", normalizeHost(host), err)
	}
	return repos, nil
}

// paginate GETs path and then every rel="next" Link, handing each page's
// body to page.
func (c *Client) paginate(ctx context.Context, ep *endpoint, path string, scopes []string, page func(io.Reader) error) error {
	rq := &request{method: http.MethodGet, path: path, scopes: scopes, retry: true}
	seen := map[string]bool{}
	for range maxPages {
		resp, err := c.do(ctx, ep, rq)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			err := responseError(resp)
			resp.Body.Close()
			return err
		}
		err = page(io.LimitReader(resp.Body, maxListBody))
		next := nextLink(resp.Header.Values("Link"))
		base := resp.Request.URL
		resp.Body.Close()
		if err != nil || next == "" {
			return err
		}
		u, err := base.Parse(next)
		if err != nil || u.Host != base.Host || (u.Scheme != "https" && u.Scheme != "http") {
			return errdefs.Newf(errdefs.ErrUnavailable, "registry %s sent an unusable next-page link %q", ep.hs.name, next)
		}
		if seen[u.String()] {
			return nil
		}
		seen[u.String()] = true
		rq = &request{method: http.MethodGet, url: u, scopes: scopes, retry: true}
	}
	return errdefs.Newf(errdefs.ErrLimitExceeded, "registry %s: more than %d pages", ep.hs.name, maxPages)
}

// SearchResult is one hit of Search, as Docker's /v1/search returns it.
type SearchResult struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	StarCount   int    `json:"star_count"`
	IsOfficial  bool   `json:"is_official"`
	IsAutomated bool   `json:"is_automated"`
}

// Search looks for repositories matching term on a registry with Docker's
// GET /v1/search?q=&n= (on index.docker.io for docker.io). Registries
// without it (404) are searched by filtering their catalog on names
// containing term. limit <= 0 means DefaultSearchLimit.
func (c *Client) Search(ctx context.Context, host, term string, limit int) ([]SearchResult, error) {
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	host = normalizeHost(host)
	ep, err := c.searchEndpoint(ctx, host)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, ep, &request{
		method: http.MethodGet, path: "/v1/search", retry: true, scopes: []string{"registry:catalog:*"},
		query: url.Values{"q": {term}, "n": {strconv.Itoa(limit)}},
	})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return c.searchCatalog(ctx, host, term, limit)
	default:
		return nil, fmt.Errorf("searching %s: %w", host, responseError(resp))
	}
	var body struct {
		Results []SearchResult `json:"results"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxListBody)).Decode(&body); err != nil {
		return nil, errdefs.Newf(errdefs.ErrUnavailable, "searching %s: invalid answer: %v", host, err)
	}
	if len(body.Results) > limit {
		body.Results = body.Results[:limit]
	}
	return body.Results, nil
}

func (c *Client) searchEndpoint(ctx context.Context, host string) (*endpoint, error) {
	if host != dockerHubDomain {
		return c.registryEndpoint(ctx, host)
	}
	hs, err := c.host(ctx, dockerHubIndex)
	if err != nil {
		return nil, err
	}
	return &endpoint{hs: hs, credHost: dockerHubDomain}, nil
}

func (c *Client) searchCatalog(ctx context.Context, host, term string, limit int) ([]SearchResult, error) {
	repos, err := c.Catalog(ctx, host)
	if err != nil {
		return nil, err
	}
	term = strings.ToLower(term)
	var out []SearchResult
	for _, name := range repos {
		if len(out) == limit {
			break
		}
		if strings.Contains(strings.ToLower(name), term) {
			out = append(out, SearchResult{Name: name})
		}
	}
	return out, nil
}
