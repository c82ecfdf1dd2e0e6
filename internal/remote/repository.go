package remote

import (
	"context"
	// Registered for digest verification.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/reference"
)

// MaxManifestSize is the largest manifest or index strata reads or writes
// (4 MiB, as containerd and the distribution registry).
const MaxManifestSize = 4 << 20

// manifestAccept lists the manifest types strata reads, in order of
// preference.
var manifestAccept = []string{
	image.MediaTypeOCIIndex,
	image.MediaTypeDockerManifestList,
	image.MediaTypeOCIManifest,
	image.MediaTypeDockerManifest,
}

var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// Repository is a handle on one repository of a registry, for the actions
// it was opened with. It is safe for concurrent use.
type Repository struct {
	client    *Client
	ref       reference.Reference
	endpoints []*endpoint // mirrors first (pull-only handles), the registry last
	scopes    []string
	push      bool

	mu   sync.Mutex
	down map[*endpoint]bool // mirrors that could not be reached
}

// Repository opens ref's repository for actions ("pull", "push"; "pull" when
// none). Pull-only handles read through the host's mirrors. It makes no
// request.
func (c *Client) Repository(ctx context.Context, ref reference.Reference, actions ...string) (*Repository, error) {
	if ref.Domain == "" || ref.Path == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "reference %q has no registry or repository path", ref.String())
	}
	want := map[string]bool{}
	for _, a := range actions {
		switch a {
		case "pull", "push", "delete":
			want[a] = true
		default:
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "unknown repository action %q (want pull, push or delete)", a)
		}
	}
	want["pull"] = true
	var acts []string
	for _, a := range []string{"pull", "push", "delete"} {
		if want[a] {
			acts = append(acts, a)
		}
	}
	pullOnly := len(acts) == 1
	eps, err := c.endpoints(ctx, ref.Domain, pullOnly)
	if err != nil {
		return nil, err
	}
	return &Repository{
		client:    c,
		ref:       ref,
		endpoints: eps,
		scopes:    []string{repositoryScope(ref.Path, acts...)},
		push:      want["push"],
		down:      map[*endpoint]bool{},
	}, nil
}

func repositoryScope(path string, actions ...string) string {
	return "repository:" + path + ":" + strings.Join(actions, ",")
}

// Reference returns the reference the handle was opened with.
func (r *Repository) Reference() reference.Reference { return r.ref }

func (r *Repository) registry() *endpoint { return r.endpoints[len(r.endpoints)-1] }

// each runs op on the endpoints in turn until one succeeds, and returns the
// last error. Mirrors that cannot be reached are skipped from then on.
func (r *Repository) each(ctx context.Context, op func(*endpoint) error) error {
	var err error
	for i, ep := range r.endpoints {
		last := i == len(r.endpoints)-1
		if !last && r.isDown(ep) {
			continue
		}
		if err = op(ep); err == nil || last || ctx.Err() != nil {
			return err
		}
		if isTransportError(err) {
			r.mu.Lock()
			r.down[ep] = true
			r.mu.Unlock()
		}
	}
	return err
}

func (r *Repository) isDown(ep *endpoint) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.down[ep]
}

func (r *Repository) path(kind, rest string) string {
	return "/v2/" + r.ref.Path + "/" + kind + "/" + rest
}

// refOrDefault checks a tag or digest, "" meaning the handle's reference.
func (r *Repository) refOrDefault(ref string) (string, error) {
	if ref == "" {
		if r.ref.Digest != "" {
			return string(r.ref.Digest), nil
		}
		if r.ref.Tag != "" {
			return r.ref.Tag, nil
		}
		return reference.DefaultTag, nil
	}
	if strings.Contains(ref, ":") {
		if _, err := digest.Parse(ref); err != nil {
			return "", errdefs.Newf(errdefs.ErrInvalidArgument, "invalid digest %q: %v", ref, err)
		}
		return ref, nil
	}
	if !tagPattern.MatchString(ref) {
		return "", errdefs.Newf(errdefs.ErrInvalidArgument, "invalid tag %q", ref)
	}
	return ref, nil
}

// pullError words a failed read as Docker does.
func (r *Repository) pullError(ref string, err error) error {
	shown := r.ref.FamiliarName()
	if strings.Contains(ref, ":") {
		shown += "@" + ref
	} else {
		shown += ":" + ref
	}
	switch errorCode(err) {
	case codeDenied:
		return fmt.Errorf("pull access denied for %s, repository does not exist or may require 'docker login': %w", r.ref.FamiliarName(), err)
	case codeManifestUnknown:
		return fmt.Errorf("manifest for %s not found: %w", shown, err)
	case codeNameUnknown:
		return fmt.Errorf("repository %s not found: %w", r.ref.FamiliarName(), err)
	}
	return err
}

// Resolve returns the descriptor (media type, digest, size) of the handle's
// reference: its digest if it has one, else its tag. It asks with HEAD and
// falls back to GET when HEAD does not tell enough.
func (r *Repository) Resolve(ctx context.Context) (image.Descriptor, error) {
	ref, err := r.refOrDefault("")
	if err != nil {
		return image.Descriptor{}, err
	}
	var desc image.Descriptor
	err = r.each(ctx, func(ep *endpoint) error {
		d, ok, err := r.headManifest(ctx, ep, ref)
		if err != nil || ok {
			desc = d
			return err
		}
		raw, mt, dg, err := r.getManifest(ctx, ep, ref)
		desc = image.Descriptor{MediaType: mt, Digest: dg, Size: int64(len(raw))}
		return err
	})
	if err != nil {
		return image.Descriptor{}, r.pullError(ref, err)
	}
	return desc, nil
}

// headManifest asks for a manifest's descriptor; ok is false when the answer
// falls short (an error status, missing headers) and GET should be tried.
func (r *Repository) headManifest(ctx context.Context, ep *endpoint, ref string) (image.Descriptor, bool, error) {
	resp, err := r.client.do(ctx, ep, &request{
		method: http.MethodHead, path: r.path("manifests", ref), scopes: r.scopes, retry: true,
		header: http.Header{"Accept": manifestAccept},
	})
	if err != nil {
		return image.Descriptor{}, false, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength < 0 || resp.ContentLength > MaxManifestSize {
		return image.Descriptor{}, false, nil
	}
	mt := contentType(resp.Header)
	if !image.IsManifestMediaType(mt) && !image.IsIndexMediaType(mt) {
		return image.Descriptor{}, false, nil
	}
	dg, perr := digest.Parse(resp.Header.Get("Docker-Content-Digest"))
	known := perr == nil
	if want, werr := digest.Parse(ref); werr == nil {
		if known && dg.Algorithm() == want.Algorithm() && dg != want {
			return image.Descriptor{}, false, errdefs.Newf(errdefs.ErrCorrupt, "registry %s answered manifest %s with digest %s", ep.hs.name, want, dg)
		}
		dg, known = want, true
	}
	if !known {
		// A tag answered without a usable digest header: GET tells.
		return image.Descriptor{}, false, nil
	}
	return image.Descriptor{MediaType: mt, Digest: dg, Size: resp.ContentLength}, true, nil
}

func contentType(h http.Header) string {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// Manifest fetches a manifest or index by tag or digest ("" = the handle's
// reference) and returns its bytes, media type and digest. The content is
// checked against the requested digest, or against the registry's
// Docker-Content-Digest for a tag; manifests over MaxManifestSize are
// refused (ErrLimitExceeded).
func (r *Repository) Manifest(ctx context.Context, ref string) (raw []byte, mediaType string, dg digest.Digest, err error) {
	ref, err = r.refOrDefault(ref)
	if err != nil {
		return nil, "", "", err
	}
	err = r.each(ctx, func(ep *endpoint) error {
		raw, mediaType, dg, err = r.getManifest(ctx, ep, ref)
		return err
	})
	if err != nil {
		return nil, "", "", r.pullError(ref, err)
	}
	return raw, mediaType, dg, nil
}

func (r *Repository) getManifest(ctx context.Context, ep *endpoint, ref string) ([]byte, string, digest.Digest, error) {
	resp, err := r.client.do(ctx, ep, &request{
		method: http.MethodGet, path: r.path("manifests", ref), scopes: r.scopes, retry: true,
		header: http.Header{"Accept": manifestAccept},
	})
	if err != nil {
		return nil, "", "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", "", responseError(resp)
	}
	tooLarge := errdefs.Newf(errdefs.ErrLimitExceeded, "manifest %s of %s is larger than %d bytes", ref, r.ref.Name(), MaxManifestSize)
	if resp.ContentLength > MaxManifestSize {
		return nil, "", "", tooLarge
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, "", "", &transportError{fmt.Errorf("reading manifest %s of %s: %w", ref, r.ref.Name(), err)}
	}
	if len(raw) > MaxManifestSize {
		return nil, "", "", tooLarge
	}
	dg, err := verifyManifest(ref, resp.Header.Get("Docker-Content-Digest"), raw)
	if err != nil {
		return nil, "", "", fmt.Errorf("manifest %s of %s from %s: %w", ref, r.ref.Name(), ep.hs.name, err)
	}
	mt := contentType(resp.Header)
	if !image.IsManifestMediaType(mt) && !image.IsIndexMediaType(mt) {
		if mt, err = image.DetectManifestType(raw); err != nil {
			return nil, "", "", err
		}
	}
	return raw, mt, dg, nil
}

// verifyManifest returns raw's digest after checking it against the
// requested digest, or, for a tag, against the digest the registry claims.
func verifyManifest(ref, claimed string, raw []byte) (digest.Digest, error) {
	if want, err := digest.Parse(ref); err == nil {
		if got := want.Algorithm().FromBytes(raw); got != want {
			return "", errdefs.Newf(errdefs.ErrCorrupt, "digest mismatch: content has digest %s", got)
		}
		return want, nil
	}
	got := digest.SHA256.FromBytes(raw)
	if claimed == "" {
		return got, nil
	}
	c, err := digest.Parse(claimed)
	if err != nil {
		return "", errdefs.Newf(errdefs.ErrCorrupt, "invalid Docker-Content-Digest %q: %v", claimed, err)
	}
	if c.Algorithm() != digest.SHA256 {
		got = c.Algorithm().FromBytes(raw)
	}
	if got != c {
		return "", errdefs.Newf(errdefs.ErrCorrupt, "digest mismatch: registry says %s, content has %s", c, got)
	}
	return digest.SHA256.FromBytes(raw), nil
}

// PutManifest uploads a manifest or index under a tag or digest and returns
// its digest. The handle must have been opened for push.
func (r *Repository) PutManifest(ctx context.Context, ref string, raw []byte, mediaType string) (digest.Digest, error) {
	if err := r.checkPush(); err != nil {
		return "", err
	}
	ref, err := r.refOrDefault(ref)
	if err != nil {
		return "", err
	}
	if len(raw) > MaxManifestSize {
		return "", errdefs.Newf(errdefs.ErrLimitExceeded, "manifest for %s is larger than %d bytes", r.ref.Name(), MaxManifestSize)
	}
	dg := digest.SHA256.FromBytes(raw)
	if want, err := digest.Parse(ref); err == nil {
		if want.Algorithm().FromBytes(raw) != want {
			return "", errdefs.Newf(errdefs.ErrInvalidArgument, "manifest content does not have digest %s", want)
		}
		dg = want
	}
	resp, err := r.client.do(ctx, r.registry(), &request{
		method: http.MethodPut, path: r.path("manifests", ref), scopes: r.scopes, retry: true,
		header: http.Header{"Content-Type": {mediaType}}, body: raw,
	})
	if err != nil {
		return "", err
	}
	defer discard(resp)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("pushing manifest %s to %s: %w", ref, r.ref.Name(), responseError(resp))
	}
	if claimed, err := digest.Parse(resp.Header.Get("Docker-Content-Digest")); err == nil &&
		claimed.Algorithm() == dg.Algorithm() && claimed != dg {
		return "", errdefs.Newf(errdefs.ErrCorrupt, "registry stored manifest %s of %s as %s", dg, r.ref.Name(), claimed)
	}
	return dg, nil
}

func (r *Repository) checkPush() error {
	if !r.push {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "repository %s was not opened for push", r.ref.Name())
	}
	return nil
}

// errBlobAbsent makes each try the next endpoint for a missing blob.
var errBlobAbsent = errors.New("blob absent")

// BlobExists asks whether the repository holds blob dg, and its size.
func (r *Repository) BlobExists(ctx context.Context, dg digest.Digest) (size int64, exists bool, err error) {
	if err := dg.Validate(); err != nil {
		return 0, false, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid digest %q: %v", dg, err)
	}
	err = r.each(ctx, func(ep *endpoint) error {
		resp, err := r.client.do(ctx, ep, &request{method: http.MethodHead, path: r.path("blobs", string(dg)), scopes: r.scopes, retry: true})
		if err != nil {
			return err
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			size = resp.ContentLength
			return nil
		case http.StatusNotFound:
			return errBlobAbsent
		}
		return fmt.Errorf("blob %s in %s: %w", dg, r.ref.Name(), responseError(resp))
	})
	if errors.Is(err, errBlobAbsent) {
		return 0, false, nil
	}
	return size, err == nil, err
}

// scopesWith returns the handle's scopes plus extra ones, sorted.
func (r *Repository) scopesWith(extra ...string) []string {
	s := append(slices.Clone(r.scopes), extra...)
	slices.Sort(s)
	return slices.Compact(s)
}
