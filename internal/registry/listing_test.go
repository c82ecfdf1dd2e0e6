package registry

import (
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/strata-dev/strata/internal/registry/storage"
)

var linkRE = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// collect follows Link headers from first, decoding field of each page.
func collect(t *testing.T, e *env, first, field string) (all []string, pages int) {
	t.Helper()
	next := first
	for next != "" {
		r := e.do("GET", next, nil).want(t, 200)
		var body map[string]json.RawMessage
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		var items []string
		if err := json.Unmarshal(body[field], &items); err != nil || items == nil {
			t.Fatalf("%s: %s is not a list: %s", next, field, r.body)
		}
		all = append(all, items...)
		pages++
		next = ""
		if l := r.Header.Get("Link"); l != "" {
			m := linkRE.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("bad Link header %q", l)
			}
			next = m[1]
		}
		if pages > 100 {
			t.Fatal("pagination does not end")
		}
	}
	return all, pages
}

func TestTagsList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		e := newEnv(t, drv, Config{MaxPageSize: 3})
		img := e.pushImage("tagged", "a", nil)
		want := []string{"A1", "B", "a", "b", "c", "latest", "v1.0"}
		for _, tag := range want[1:] {
			if tag == "a" {
				continue
			}
			e.do("PUT", "/v2/tagged/manifests/"+tag, img.manifest, "Content-Type", v1.MediaTypeImageManifest).want(t, 201)
		}
		e.do("PUT", "/v2/tagged/manifests/A1", img.manifest, "Content-Type", v1.MediaTypeImageManifest).want(t, 201)

		got, pages := collect(t, e, "/v2/tagged/tags/list?n=2", "tags")
		if !slices.Equal(got, want) || pages != 4 {
			t.Fatalf("n=2: %v in %d pages, want %v in 4", got, pages, want)
		}
		// No n: the page size is the clamp.
		got, pages = collect(t, e, "/v2/tagged/tags/list", "tags")
		if !slices.Equal(got, want) || pages != 3 {
			t.Fatalf("no n: %v in %d pages", got, pages)
		}
		// A huge n is clamped, with a Link to the rest.
		r := e.do("GET", "/v2/tagged/tags/list?n=100000000", nil).want(t, 200)
		if !strings.Contains(string(r.body), `"tags":["A1","B","a"]`) || r.Header.Get("Link") == "" {
			t.Fatalf("huge n: %s %v", r.body, r.Header)
		}
		// last.
		r = e.do("GET", "/v2/tagged/tags/list?last=b&n=2", nil).want(t, 200)
		if !strings.Contains(string(r.body), `"tags":["c","latest"]`) {
			t.Fatalf("last=b: %s", r.body)
		}
		// n=0: empty and no Link.
		r = e.do("GET", "/v2/tagged/tags/list?n=0", nil).want(t, 200)
		if !strings.Contains(string(r.body), `"tags":[]`) || r.Header.Get("Link") != "" {
			t.Fatalf("n=0: %s %v", r.body, r.Header)
		}
		r = e.do("GET", "/v2/tagged/tags/list?last=zzz", nil).want(t, 200)
		if !strings.Contains(string(r.body), `"tags":[]`) {
			t.Fatalf("past the end: %s", r.body)
		}
		e.do("GET", "/v2/missing/tags/list", nil).want(t, 404, "NAME_UNKNOWN")
	})
}

func TestCatalogAndSearch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		e := newEnv(t, drv, Config{MaxPageSize: 2})
		repos := []string{"a", "a-b", "a/b", "a/b/c", "library/busybox", "library/debian", "z"}
		for _, r := range repos {
			e.pushBlob(r, []byte(r))
		}
		// n=3 is clamped to the page size 2.
		got, pages := collect(t, e, "/v2/_catalog?n=3", "repositories")
		if !slices.Equal(got, repos) || pages != 4 {
			t.Fatalf("catalog %v in %d pages, want %v", got, pages, repos)
		}
		got, _ = collect(t, e, "/v2/_catalog?n=999999", "repositories")
		if !slices.Equal(got, repos) {
			t.Fatalf("catalog with huge n: %v", got)
		}
		r := e.do("GET", "/v2/_catalog?n=2&last="+url.QueryEscape("a/b"), nil).want(t, 200)
		if !strings.Contains(string(r.body), `["a/b/c","library/busybox"]`) {
			t.Fatalf("catalog last: %s", r.body)
		}

		r = e.do("GET", "/v1/search?q=library", nil).want(t, 200)
		var sr struct {
			NumResults int            `json:"num_results"`
			Query      string         `json:"query"`
			Results    []searchResult `json:"results"`
		}
		if err := json.Unmarshal(r.body, &sr); err != nil {
			t.Fatal(err)
		}
		if sr.NumResults != 2 || sr.Query != "library" || len(sr.Results) != 2 || sr.Results[0].Name != "library/busybox" {
			t.Fatalf("search: %s", r.body)
		}
		r = e.do("GET", "/v1/search?q=a&n=2&page=2", nil).want(t, 200)
		json.Unmarshal(r.body, &sr)
		if sr.NumResults != 6 || len(sr.Results) != 2 || sr.Results[0].Name != "a/b" || sr.Results[1].Name != "a/b/c" {
			t.Fatalf("search page 2: %s", r.body)
		}
	})
}

func TestNamesAndPathTricks(t *testing.T) {
	e := newEnv(t, nil, Config{})
	e.pushBlob("ok/name", []byte("x"))
	long := strings.Repeat("a", 256)
	cases := []struct {
		path   string
		status int
		code   string
	}{
		{"/v2/UPPER/tags/list", 400, "NAME_INVALID"},
		{"/v2/-lead/tags/list", 400, "NAME_INVALID"},
		{"/v2/a__b_/tags/list", 400, "NAME_INVALID"},
		{"/v2/" + long + "/tags/list", 400, "NAME_INVALID"},
		{"/v2/ok//name/tags/list", 400, "NAME_INVALID"},
		{"/v2//ok/name/tags/list", 400, "NAME_INVALID"},
		{"/v2/ok/../ok/name/tags/list", 400, "NAME_INVALID"},
		{"/v2/ok/./name/tags/list", 400, "NAME_INVALID"},
		{"/v2/ok/%2e%2e/ok/name/tags/list", 400, "NAME_INVALID"},
		{"/v2/ok%2fname/tags/list", 400, "NAME_INVALID"},
		{"/v2/ok/name/manifests/%2e%2e", 400, "NAME_INVALID"},
		{"/v2/ok/name/manifests/..", 400, "MANIFEST_INVALID"},
		{"/v2/ok/name/manifests/.hidden", 400, "MANIFEST_INVALID"},
		{"/v2/ok/name/blobs/..", 400, "DIGEST_INVALID"},
		{"/v2/ok/name/blobs/sha256:../../../etc/passwd", 404, ""},
		{"/v2/_catalog/x/tags/list", 400, "NAME_INVALID"},
		{"/v2/ok/name/tags/list", 200, ""},
		{"/v2/a.b-c__d/e/tags/list", 404, "NAME_UNKNOWN"},
	}
	for _, c := range cases {
		req, _ := newRawRequest(e, "GET", c.path)
		r := e.send(req)
		if c.code == "" {
			if r.StatusCode != c.status {
				t.Errorf("%s: status %d, want %d", c.path, r.StatusCode, c.status)
			}
			continue
		}
		var eb errorBody
		json.Unmarshal(r.body, &eb)
		if r.StatusCode != c.status || len(eb.Errors) == 0 || eb.Errors[0].Code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.path, r.StatusCode, r.body, c.status, c.code)
		}
	}
	if repos, _ := e.srv.store.repositories(t.Context()); len(repos) != 1 || repos[0] != "ok/name" {
		t.Fatal("storage changed by path tricks")
	}
}
