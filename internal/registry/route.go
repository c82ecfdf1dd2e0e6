package registry

import (
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

// routeKind names an endpoint family; it is also the "route" label of the
// access log and the metrics.
type routeKind string

const (
	routeBase      routeKind = "base"
	routeCatalog   routeKind = "catalog"
	routeToken     routeKind = "token"
	routeSearch    routeKind = "search"
	routeMetrics   routeKind = "metrics"
	routeBlob      routeKind = "blob"
	routeUpload    routeKind = "upload"    // /v2/<name>/blobs/uploads/<uuid>
	routeUploads   routeKind = "uploads"   // /v2/<name>/blobs/uploads/
	routeManifest  routeKind = "manifest"  // /v2/<name>/manifests/<ref>
	routeTags      routeKind = "tags"      // /v2/<name>/tags/list
	routeReferrers routeKind = "referrers" // /v2/<name>/referrers/<digest>
	routeUnknown   routeKind = "unknown"
)

// route is a parsed request path.
type route struct {
	kind routeKind
	name string        // repository
	ref  string        // tag (manifests) or upload uuid
	dgst digest.Digest // blob, referrers, manifest by digest
}

var (
	nameRE  = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE   = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	uuidRE  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	hexLens = map[string]int{"sha256": 64, "sha512": 128}
)

const maxNameLen = 255

// validName reports whether s is a repository name of the distribution
// grammar.
func validName(s string) bool {
	return len(s) <= maxNameLen && nameRE.MatchString(s)
}

func validTag(s string) bool { return tagRE.MatchString(s) }

// parseDigest accepts the digests the registry can verify: sha256 and sha512
// with lowercase hex of the right length.
func parseDigest(s string) (digest.Digest, error) {
	alg, hex, ok := strings.Cut(s, ":")
	n, known := hexLens[alg]
	if !ok || !known {
		return "", newError(codeDigestInvalid, "unsupported or malformed digest %q", s)
	}
	if len(hex) != n || !isLowerHex(hex) {
		return "", newError(codeDigestInvalid, "malformed digest %q", s)
	}
	return digest.Digest(s), nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// parseRoute maps a /v2/ request path to an endpoint. escaped is the path as
// sent (r.URL.EscapedPath()); percent-escapes are refused outright since no
// valid name, tag, digest or upload id needs one, which also shuts out
// "%2e%2e" and "%2f" tricks.
func parseRoute(escaped string) (route, error) {
	if strings.Contains(escaped, "%") {
		return route{kind: routeUnknown}, newError(codeNameInvalid, "escaped characters are not allowed in registry paths")
	}
	switch escaped {
	case "/v2", "/v2/":
		return route{kind: routeBase}, nil
	case "/v2/_catalog":
		return route{kind: routeCatalog}, nil
	case "/v2/token":
		return route{kind: routeToken}, nil
	case "/v1/search":
		return route{kind: routeSearch}, nil
	case "/metrics":
		return route{kind: routeMetrics}, nil
	}
	rest, ok := strings.CutPrefix(escaped, "/v2/")
	if !ok {
		return route{kind: routeUnknown}, newError(codeNotFound, "no such endpoint %q", escaped)
	}
	segs := strings.Split(rest, "/")
	n := len(segs)
	var rt route
	var nameSegs []string
	switch {
	case n >= 4 && segs[n-3] == "blobs" && segs[n-2] == "uploads":
		rt = route{kind: routeUpload, ref: segs[n-1]}
		if rt.ref == "" {
			rt.kind = routeUploads
		}
		nameSegs = segs[:n-3]
	case n >= 3 && segs[n-2] == "blobs" && segs[n-1] == "uploads":
		rt, nameSegs = route{kind: routeUploads}, segs[:n-2]
	case n >= 3 && segs[n-2] == "tags" && segs[n-1] == "list":
		rt, nameSegs = route{kind: routeTags}, segs[:n-2]
	case n >= 3 && segs[n-2] == "blobs":
		rt, nameSegs = route{kind: routeBlob, ref: segs[n-1]}, segs[:n-2]
	case n >= 3 && segs[n-2] == "manifests":
		rt, nameSegs = route{kind: routeManifest, ref: segs[n-1]}, segs[:n-2]
	case n >= 3 && segs[n-2] == "referrers":
		rt, nameSegs = route{kind: routeReferrers, ref: segs[n-1]}, segs[:n-2]
	default:
		return route{kind: routeUnknown}, newError(codeNotFound, "no such endpoint %q", escaped)
	}
	rt.name = strings.Join(nameSegs, "/")
	if !validName(rt.name) {
		return rt, newError(codeNameInvalid, "invalid repository name %q", rt.name).withDetail(map[string]string{"name": rt.name})
	}
	return rt, rt.parseRef()
}

// parseRef validates the reference part of a route.
func (rt *route) parseRef() error {
	var err error
	switch rt.kind {
	case routeBlob, routeReferrers:
		rt.dgst, err = parseDigest(rt.ref)
		rt.ref = ""
	case routeManifest:
		if strings.Contains(rt.ref, ":") {
			rt.dgst, err = parseDigest(rt.ref)
			rt.ref = ""
		} else if !validTag(rt.ref) {
			err = newError(codeManifestInvalid, "invalid tag %q", rt.ref).withDetail(map[string]string{"tag": rt.ref})
		}
	case routeUpload:
		if !uuidRE.MatchString(rt.ref) {
			err = newError(codeBlobUploadUnknown, "invalid upload id %q", rt.ref)
		}
	}
	return err
}
