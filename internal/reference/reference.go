package reference

import (
	// The digest package validates only algorithms whose hash is linked in.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"fmt"
	"path"
	"strings"

	distref "github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

const (
	// DefaultDomain is the registry assumed when a name has none.
	DefaultDomain = "docker.io"
	// DefaultTag is the tag Parse adds when a reference has neither tag nor digest.
	DefaultTag = "latest"

	officialPrefix = "library/"
)

// Reference is a normalized image reference. Domain and Path are always set
// for references returned by Parse and ParseNamed; Tag and Digest are
// optional and may both be present. Reference values are comparable with ==.
type Reference struct {
	Domain string        // "docker.io", "localhost:5000", ...
	Path   string        // "library/busybox", "user/app", ...
	Tag    string        // "latest", "" when absent
	Digest digest.Digest // "sha256:...", "" when absent
}

// Parse parses s as Docker does for pull, tag and run: the name is
// normalized and, when neither tag nor digest is given, Tag is "latest".
func Parse(s string) (Reference, error) {
	r, err := ParseNamed(s)
	if err != nil {
		return Reference{}, err
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = DefaultTag
	}
	return r, nil
}

// ParseNamed is Parse without the default tag: "busybox" has an empty Tag.
func ParseNamed(s string) (Reference, error) {
	named, err := distref.ParseNormalizedNamed(s)
	if err != nil {
		// The library's messages are Docker's ("invalid reference format",
		// "invalid reference format: repository name (library/Foo) must be
		// lowercase"), so keep them as they are.
		return Reference{}, errdefs.Classed(errdefs.ErrInvalidArgument, err)
	}
	r := Reference{Domain: distref.Domain(named), Path: distref.Path(named)}
	if r.Domain == "" {
		// The library splits off a first component containing '.' or ':'
		// as a registry, but leaves the domain empty when that component is
		// no valid host ("a_b.c/x"). Such a name cannot be pulled or pushed.
		return Reference{}, errdefs.Newf(errdefs.ErrInvalidArgument,
			"invalid reference format: registry in %q is not a valid host", s)
	}
	if t, ok := named.(distref.Tagged); ok {
		r.Tag = t.Tag()
	}
	if d, ok := named.(distref.Digested); ok {
		r.Digest = d.Digest()
	}
	return r, nil
}

// Name returns the normalized repository name, e.g. "docker.io/library/busybox".
func (r Reference) Name() string {
	if r.Domain == "" {
		return r.Path
	}
	return r.Domain + "/" + r.Path
}

// String returns the normalized reference: name, then ":tag" and "@digest"
// when present.
func (r Reference) String() string {
	return withSuffixes(r.Name(), r.Tag, r.Digest)
}

// FamiliarName returns the name as Docker displays it: "busybox",
// "user/app", "myreg:5000/a/b".
//
// It differs from Docker in one corner: Docker prints "docker.io/a.b/c" as
// "a.b/c", which reads back as registry "a.b". Such names keep their domain
// here so that the familiar form always parses back to the same name.
func (r Reference) FamiliarName() string {
	if r.Domain != DefaultDomain {
		return r.Name()
	}
	if rest, ok := strings.CutPrefix(r.Path, officialPrefix); ok && !strings.Contains(rest, "/") {
		return rest
	}
	first, _, found := strings.Cut(r.Path, "/")
	if !found || looksLikeDomain(first) {
		return r.Name()
	}
	return r.Path
}

// Familiar returns the reference as Docker displays it, e.g. "busybox:1.36".
func (r Reference) Familiar() string {
	return withSuffixes(r.FamiliarName(), r.Tag, r.Digest)
}

// WithTag returns r with its tag replaced. The digest, if any, is kept.
func (r Reference) WithTag(tag string) (Reference, error) {
	named, err := distref.WithName(r.Name())
	if err == nil {
		_, err = distref.WithTag(named, tag)
	}
	if err != nil {
		return Reference{}, errdefs.Classed(errdefs.ErrInvalidArgument,
			fmt.Errorf("tag %q for %s: %w", tag, r.Name(), err))
	}
	r.Tag = tag
	return r, nil
}

// WithDigest returns r with its digest replaced. The tag, if any, is kept.
func (r Reference) WithDigest(d digest.Digest) Reference {
	r.Digest = d
	return r
}

// Object is what a registry request names: the digest if there is one,
// else the tag ("latest" when neither is set).
func (r Reference) Object() string {
	switch {
	case r.Digest != "":
		return r.Digest.String()
	case r.Tag != "":
		return r.Tag
	}
	return DefaultTag
}

// IsTagged reports whether r carries a tag.
func (r Reference) IsTagged() bool { return r.Tag != "" }

// MatchFamiliar reports whether r matches a `--filter reference=PATTERN`
// pattern, as Docker's reference.FamiliarMatch does: path.Match against the
// familiar string, then against the familiar name. When r has both a tag and
// a digest, "name:tag" is tried as well.
func MatchFamiliar(pattern string, r Reference) (bool, error) {
	matched, err := path.Match(pattern, r.Familiar())
	if err != nil {
		return false, errdefs.Classed(errdefs.ErrInvalidArgument,
			fmt.Errorf("reference filter %q: %w", pattern, err))
	}
	if matched {
		return true, nil
	}
	name := r.FamiliarName()
	if matched, _ = path.Match(pattern, name); matched {
		return true, nil
	}
	if r.Tag != "" && r.Digest != "" {
		matched, _ = path.Match(pattern, name+":"+r.Tag)
	}
	return matched, nil
}

// LooksLikeID reports whether s could be an image ID or an ID prefix: an
// optional "sha256:" followed by 1 to 64 lowercase hex digits.
func LooksLikeID(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	return len(s) >= 1 && len(s) <= 64 && isLowerHex(s)
}

func withSuffixes(name, tag string, d digest.Digest) string {
	if tag != "" {
		name += ":" + tag
	}
	if d != "" {
		name += "@" + string(d)
	}
	return name
}

// looksLikeDomain mirrors the library's rule for reading the first component
// of a familiar name as a registry.
func looksLikeDomain(s string) bool {
	return s == "localhost" || strings.ContainsAny(s, ".:") || strings.ToLower(s) != s
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
