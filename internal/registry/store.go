package registry

import (
	"context"
	"errors"
	"path"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/registry/storage"
)

// Paths of the storage layout drawn in doc.go.

func blobPath(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

func repoPath(name string) string { return "repositories/" + name }

func layerLinkPath(name string, d digest.Digest) string {
	return repoPath(name) + "/_layers/" + d.Algorithm().String() + "/" + d.Encoded() + "/link"
}

func revisionsDir(name string) string { return repoPath(name) + "/_manifests/revisions" }

func revisionLinkPath(name string, d digest.Digest) string {
	return revisionsDir(name) + "/" + d.Algorithm().String() + "/" + d.Encoded() + "/link"
}

func tagsDir(name string) string { return repoPath(name) + "/_manifests/tags" }

func tagLinkPath(name, tag string) string { return tagsDir(name) + "/" + tag + "/current/link" }

func referrersDir(name string, subject digest.Digest) string {
	return repoPath(name) + "/_referrers/" + subject.Algorithm().String() + "/" + subject.Encoded()
}

func uploadDir(id string) string { return "uploads/" + id }

func gcCandidatePath(d digest.Digest) string {
	return "_gc/candidates/" + d.Algorithm().String() + "/" + d.Encoded()
}

// store is the registry's view of a storage.Driver: links, tags and
// manifests. It keeps no state of its own.
type store struct {
	d storage.Driver
}

// exists reports whether a path exists; only NotFound means false.
func (s *store) exists(ctx context.Context, p string) (bool, error) {
	_, err := s.d.Stat(ctx, p)
	if err == nil {
		return true, nil
	}
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	return false, err
}

// list returns the base names of a directory's children; a missing
// directory is empty.
func (s *store) list(ctx context.Context, dir string) ([]string, error) {
	paths, err := s.d.List(ctx, dir)
	if errdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(paths))
	for _, p := range paths {
		names = append(names, path.Base(p))
	}
	sort.Strings(names)
	return names, nil
}

// repoBlob describes a blob the repository may read: it is linked as a layer
// (or is one of the repository's manifests) and present in blobs/.
func (s *store) repoBlob(ctx context.Context, name string, d digest.Digest) (storage.FileInfo, error) {
	linked, err := s.exists(ctx, layerLinkPath(name, d))
	if err == nil && !linked {
		linked, err = s.exists(ctx, revisionLinkPath(name, d))
	}
	if err != nil {
		return storage.FileInfo{}, err
	}
	if !linked {
		return storage.FileInfo{}, newError(codeBlobUnknown, "blob %s unknown to repository %s", d, name).withDetail(map[string]string{"digest": d.String()})
	}
	fi, err := s.d.Stat(ctx, blobPath(d))
	if errdefs.IsNotFound(err) {
		return fi, newError(codeBlobUnknown, "blob %s missing from storage", d).withDetail(map[string]string{"digest": d.String()})
	}
	return fi, err
}

// linkBlob lets repository name read blob d.
func (s *store) linkBlob(ctx context.Context, name string, d digest.Digest) error {
	return s.d.PutContent(ctx, layerLinkPath(name, d), []byte(d))
}

// revision is a manifest stored in a repository.
type revision struct {
	Digest    digest.Digest
	MediaType string
}

// readRevision reads a revision link: the digest, then the media type on a
// second line.
func (s *store) readRevision(ctx context.Context, name string, d digest.Digest) (revision, error) {
	b, err := s.d.GetContent(ctx, revisionLinkPath(name, d))
	if errdefs.IsNotFound(err) {
		return revision{}, newError(codeManifestUnknown, "manifest %s unknown to repository %s", d, name).withDetail(map[string]string{"digest": d.String()})
	}
	if err != nil {
		return revision{}, err
	}
	dg, mt, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if dg != d.String() {
		return revision{}, errdefs.Newf(errdefs.ErrCorrupt, "revision link of %s in %s names %q", d, name, dg)
	}
	return revision{Digest: d, MediaType: strings.TrimSpace(mt)}, nil
}

func (s *store) writeRevision(ctx context.Context, name string, rev revision) error {
	return s.d.PutContent(ctx, revisionLinkPath(name, rev.Digest), []byte(rev.Digest.String()+"\n"+rev.MediaType+"\n"))
}

// resolveTag returns the digest a tag points at.
func (s *store) resolveTag(ctx context.Context, name, tag string) (digest.Digest, error) {
	b, err := s.d.GetContent(ctx, tagLinkPath(name, tag))
	if errdefs.IsNotFound(err) {
		return "", newError(codeManifestUnknown, "tag %q unknown to repository %s", tag, name).withDetail(map[string]string{"tag": tag})
	}
	if err != nil {
		return "", err
	}
	d, perr := parseDigest(strings.TrimSpace(string(b)))
	if perr != nil {
		return "", errdefs.Newf(errdefs.ErrCorrupt, "tag %q of %s links to %q", tag, name, b)
	}
	return d, nil
}

func (s *store) tags(ctx context.Context, name string) ([]string, error) {
	return s.list(ctx, tagsDir(name))
}

// repoExists reports whether anything was ever stored for a repository.
func (s *store) repoExists(ctx context.Context, name string) (bool, error) {
	return s.exists(ctx, repoPath(name))
}

// repositories walks repositories/ and returns every repository name,
// sorted. A directory is a repository when it has a child whose name starts
// with "_" (names never do); other children are deeper name components.
func (s *store) repositories(ctx context.Context) ([]string, error) {
	var out []string
	var walk func(dir, name string) error
	walk = func(dir, name string) error {
		kids, err := s.list(ctx, dir)
		if err != nil {
			return err
		}
		isRepo := false
		for _, k := range kids {
			if strings.HasPrefix(k, "_") {
				isRepo = true
				continue
			}
			child := k
			if name != "" {
				child = name + "/" + k
			}
			if err := walk(dir+"/"+k, child); err != nil {
				return err
			}
		}
		if isRepo && name != "" {
			out = append(out, name)
		}
		return ctx.Err()
	}
	if err := walk("repositories", ""); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// digestsUnder lists "<dir>/<alg>/<hex>" entries as digests, skipping
// anything malformed.
func (s *store) digestsUnder(ctx context.Context, dir string) ([]digest.Digest, error) {
	var out []digest.Digest
	algs, err := s.list(ctx, dir)
	if err != nil {
		return nil, err
	}
	for _, alg := range algs {
		hexes, err := s.list(ctx, dir+"/"+alg)
		if err != nil {
			return nil, err
		}
		for _, h := range hexes {
			if d, err := parseDigest(alg + ":" + h); err == nil {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// deleteIfExists deletes a path, treating a missing one as done.
func (s *store) deleteIfExists(ctx context.Context, p string) error {
	err := s.d.Delete(ctx, p)
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

func isNotFound(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.code.Status == 404
	}
	return errdefs.IsNotFound(err)
}
