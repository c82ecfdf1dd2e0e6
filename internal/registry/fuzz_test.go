package registry

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/registry/storage"
)

// FuzzParseRoute checks that whatever parseRoute accepts is valid and maps
// to storage paths the driver accepts, with nothing escaping the
// repository.
func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{
		"/v2/", "/v2/_catalog", "/v2/token", "/metrics", "/v1/search",
		"/v2/library/busybox/manifests/latest",
		"/v2/a/b/c/manifests/sha256:" + strings.Repeat("a", 64),
		"/v2/x/blobs/sha512:" + strings.Repeat("0", 128),
		"/v2/x/blobs/uploads/", "/v2/x/blobs/uploads",
		"/v2/x/blobs/uploads/0f0e0d0c-0b0a-4908-8706-050403020100",
		"/v2/x/blobs/blobs/uploads/", "/v2/x/tags/list", "/v2/x/referrers/sha256:" + strings.Repeat("b", 64),
		"/v2/x/../y/tags/list", "/v2/x/%2e%2e/tags/list", "/v2//x/tags/list", "/v2/x/manifests/..",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt, err := parseRoute(p)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("%q: error %T is not an apiError", p, err)
			}
			return
		}
		var paths []string
		switch rt.kind {
		case routeBase, routeCatalog, routeToken, routeSearch, routeMetrics:
			return
		case routeBlob, routeReferrers:
			if _, err := parseDigest(rt.dgst.String()); err != nil {
				t.Fatalf("%q: accepted digest %q", p, rt.dgst)
			}
			paths = append(paths, layerLinkPath(rt.name, rt.dgst), blobPath(rt.dgst), referrersDir(rt.name, rt.dgst))
		case routeManifest:
			if rt.dgst != "" {
				paths = append(paths, revisionLinkPath(rt.name, rt.dgst))
			} else if !validTag(rt.ref) {
				t.Fatalf("%q: accepted tag %q", p, rt.ref)
			} else {
				paths = append(paths, tagLinkPath(rt.name, rt.ref))
			}
		case routeUpload:
			if !uuidRE.MatchString(rt.ref) {
				t.Fatalf("%q: accepted upload id %q", p, rt.ref)
			}
			paths = append(paths, uploadStatePath(rt.ref))
		case routeUploads, routeTags:
		default:
			t.Fatalf("%q: unexpected kind %q", p, rt.kind)
		}
		if !validName(rt.name) {
			t.Fatalf("%q: accepted name %q", p, rt.name)
		}
		paths = append(paths, tagsDir(rt.name))
		for _, sp := range paths {
			if err := storage.CheckPath(sp); err != nil {
				t.Fatalf("%q: storage path %q: %v", p, sp, err)
			}
			if slices.Contains(strings.Split(sp, "/"), "..") {
				t.Fatalf("%q: storage path %q escapes", p, sp)
			}
		}
	})
}

// FuzzRanges checks the Range and Content-Range parsers stay in bounds.
func FuzzRanges(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=5-", "bytes=-3", "bytes=3-1", "bytes=0-1,2-3", "0-99", "bytes 10-20/30", "bytes=+1-2", "-1-5", ""} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 { // MinInt64
			return
		}
		start, length, partial, err := parseRange(h, size)
		if err == nil {
			if start < 0 || length < 0 || start+length > size || (!partial && (start != 0 || length != size)) {
				t.Fatalf("parseRange(%q, %d) = %d, %d, %v", h, size, start, length, partial)
			}
			if partial && length == 0 {
				t.Fatalf("parseRange(%q, %d): empty partial range", h, size)
			}
		}
		if s, e, ok := parseContentRange(h); ok && (s < 0 || e < s) {
			t.Fatalf("parseContentRange(%q) = %d, %d", h, s, e)
		}
	})
}

// FuzzToken checks that signed claims verify to themselves and that
// arbitrary strings never verify or panic.
func FuzzToken(f *testing.F) {
	f.Add("alice", "lib/app", "s1.e30.AAAA")
	f.Add("", "x", "s1..")
	f.Fuzz(func(t *testing.T, sub, name, tok string) {
		ts := tokenSigner{key: []byte("fuzz key"), ttl: time.Minute}
		now := time.Now()
		c := tokenClaims{Subject: sub, IssuedAt: now.Unix(), Expires: now.Add(time.Minute).Unix(),
			Access: []grant{{Type: "repository", Name: name, Actions: []string{"pull"}}}}
		got, err := ts.verify(ts.sign(c), now)
		if err != nil || got.Subject != c.Subject || len(got.Access) != 1 || got.Access[0].Name != c.Access[0].Name {
			if strings.ToValidUTF8(sub, "") == sub && strings.ToValidUTF8(name, "") == name {
				t.Fatalf("round trip: %+v %v", got, err)
			}
		}
		if _, err := ts.verify(tok, now); err == nil && !strings.HasPrefix(tok, tokenPrefix) {
			t.Fatalf("verified %q", tok)
		}
		parseScopes([]string{tok, sub + ":" + name + ":pull"})
	})
}

// FuzzParseScopes checks every parsed scope is well formed.
func FuzzParseScopes(f *testing.F) {
	f.Add("repository:library/busybox:pull,push registry:catalog:*")
	f.Add("repository:host:5000/x:pull")
	f.Add(":::")
	f.Fuzz(func(t *testing.T, s string) {
		for _, g := range parseScopes([]string{s}) {
			if g.Type == "repository" && !validName(g.Name) {
				t.Fatalf("%q: scope names %q", s, g.Name)
			}
			if g.Type != "repository" && g.Type != "registry" {
				t.Fatalf("%q: scope type %q", s, g.Type)
			}
		}
	})
}

// FuzzHtpasswd checks the htpasswd parser accepts only bcrypt entries.
func FuzzHtpasswd(f *testing.F) {
	f.Add([]byte("# c\nu:$2y$05$abcdefghijklmnopqrstuuJqOOaKx4hpz5j4QvNCWcR6o7Mxe1i2e\n\n"))
	f.Add([]byte("u:{SHA}x\n"))
	f.Add([]byte(":\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		users, err := parseHtpasswd(data)
		if err != nil {
			return
		}
		for u, h := range users {
			if u == "" || strings.Contains(u, ":") || !strings.HasPrefix(string(h), "$2") {
				t.Fatalf("accepted %q:%q", u, h)
			}
		}
	})
}

// FuzzParseManifest checks that an accepted manifest only references
// digests the registry can name in storage.
func FuzzParseManifest(f *testing.F) {
	f.Add(mtOCIManifest, []byte(`{"schemaVersion":2,"config":{"digest":"sha256:`+strings.Repeat("a", 64)+`"},"layers":[]}`))
	f.Add(mtOCIIndex, []byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:x"}]}`))
	f.Add("application/x", []byte(`{"subject":{"digest":"../../x"}}`))
	f.Fuzz(func(t *testing.T, mt string, body []byte) {
		m, err := parseManifest(mt, body)
		if err != nil {
			return
		}
		refs := m.references()
		if m.Subject != nil {
			refs = append(refs, *m.Subject)
		}
		for _, d := range refs {
			if _, err := parseDigest(d.Digest.String()); err != nil {
				t.Fatalf("accepted reference %q", d.Digest)
			}
			if err := storage.CheckPath(blobPath(d.Digest)); err != nil {
				t.Fatal(err)
			}
		}
		if json.Valid(body) && m.MediaType != "" && m.MediaType != mt {
			t.Fatalf("mediaType %q accepted under Content-Type %q", m.MediaType, mt)
		}
	})
}
