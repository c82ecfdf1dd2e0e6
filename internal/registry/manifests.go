package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	mtOCIManifest    = v1.MediaTypeImageManifest
	mtOCIIndex       = v1.MediaTypeImageIndex
	mtDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtOCIArtifact    = "application/vnd.oci.artifact.manifest.v1+json"
)

// manifestDoc is the union of the manifest shapes the registry looks into.
type manifestDoc struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *v1.Descriptor    `json:"config"`
	Layers        []v1.Descriptor   `json:"layers"`
	Blobs         []v1.Descriptor   `json:"blobs"` // withdrawn OCI artifact manifest
	Manifests     []v1.Descriptor   `json:"manifests"`
	Subject       *v1.Descriptor    `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

func isIndexType(mt string) bool { return mt == mtOCIIndex || mt == mtDockerList }
func isManifestType(mt string) bool {
	return mt == mtOCIManifest || mt == mtDockerManifest || mt == mtOCIArtifact
}

// parseManifest decodes a manifest of media type mt and checks its shape.
// Unknown media types are stored as they are, looked into only if they
// parse as JSON (so their subject and references still count).
func parseManifest(mt string, body []byte) (*manifestDoc, error) {
	var m manifestDoc
	if err := json.Unmarshal(body, &m); err != nil {
		if isIndexType(mt) || isManifestType(mt) {
			return nil, newError(codeManifestInvalid, "manifest is not valid JSON: %v", err)
		}
		return &manifestDoc{}, nil
	}
	if m.MediaType != "" && m.MediaType != mt {
		return nil, newError(codeManifestInvalid, "manifest mediaType %q does not match Content-Type %q", m.MediaType, mt)
	}
	if (isIndexType(mt) || isManifestType(mt)) && mt != mtOCIArtifact && m.SchemaVersion != 2 {
		return nil, newError(codeManifestInvalid, "manifest schemaVersion %d, want 2", m.SchemaVersion)
	}
	if (mt == mtOCIManifest || mt == mtDockerManifest) && m.Config == nil {
		return nil, newError(codeManifestInvalid, "image manifest has no config")
	}
	for _, d := range m.references() {
		if _, err := parseDigest(d.Digest.String()); err != nil {
			return nil, newError(codeManifestInvalid, "manifest references invalid digest %q", d.Digest)
		}
	}
	if m.Subject != nil {
		if _, err := parseDigest(m.Subject.Digest.String()); err != nil {
			return nil, newError(codeManifestInvalid, "manifest subject has invalid digest %q", m.Subject.Digest)
		}
	}
	return &m, nil
}

// blobs lists the blobs (config, layers) a manifest points at.
func (m *manifestDoc) blobs() []v1.Descriptor {
	var out []v1.Descriptor
	if m.Config != nil {
		out = append(out, *m.Config)
	}
	out = append(out, m.Layers...)
	return append(out, m.Blobs...)
}

// references lists blobs and child manifests, the subject excluded.
func (m *manifestDoc) references() []v1.Descriptor {
	return append(m.blobs(), m.Manifests...)
}

// serveManifest handles /v2/<name>/manifests/<reference>.
func (s *Server) serveManifest(w http.ResponseWriter, r *http.Request, rq *request) error {
	var action string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		action = actionPull
	case http.MethodPut:
		action = actionPush
	case http.MethodDelete:
		action = actionDelete
	default:
		return methodNotAllowed(w, http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete)
	}
	if _, err := s.authorize(r, rq, repoNeed(rq.route.name, action)); err != nil {
		return err
	}
	switch action {
	case actionPull:
		return s.getManifest(w, r, rq.route)
	case actionPush:
		return s.putManifest(w, r, rq.route)
	}
	return s.deleteManifest(w, r, rq.route)
}

func (s *Server) getManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	d := rt.dgst
	if d == "" {
		var err error
		if d, err = s.store.resolveTag(ctx, rt.name, rt.ref); err != nil {
			return err
		}
	}
	rev, err := s.store.readRevision(ctx, rt.name, d)
	if err != nil {
		return err
	}
	body, err := s.store.d.GetContent(ctx, blobPath(d))
	if err != nil {
		if isNotFound(err) {
			return newError(codeManifestUnknown, "manifest %s missing from storage", d)
		}
		return err
	}
	mt := rev.MediaType
	if mt == "" {
		// Bodies of unknown media types are stored even when they are not
		// JSON; those have no mediaType field and are served untyped.
		var m manifestDoc
		_ = json.Unmarshal(body, &m)
		mt = m.MediaType
	}
	h := w.Header()
	if mt != "" {
		h.Set("Content-Type", mt)
	}
	h.Set("Docker-Content-Digest", d.String())
	h.Set("ETag", `"`+d.String()+`"`)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, err = w.Write(body)
	}
	return err
}

func (s *Server) putManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt == "" {
		return newError(codeManifestInvalid, "manifest Content-Type is missing or malformed")
	}
	max := s.cfg.MaxManifestSize
	if r.ContentLength > max {
		return newError(codeManifestTooBig, "manifest of %d bytes exceeds the %d byte limit", r.ContentLength, max)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return newError(codeManifestInvalid, "reading manifest: %v", err)
	}
	if int64(len(body)) > max {
		return newError(codeManifestTooBig, "manifest exceeds the %d byte limit", max)
	}
	alg := digest.SHA256
	if rt.dgst != "" {
		alg = rt.dgst.Algorithm()
	}
	d := alg.FromBytes(body)
	if rt.dgst != "" && d != rt.dgst {
		return newError(codeDigestInvalid, "manifest has digest %s, not %s", d, rt.dgst).withDetail(map[string]string{"digest": rt.dgst.String()})
	}
	tags := []string{}
	if rt.ref != "" {
		tags = append(tags, rt.ref)
	} else {
		for _, t := range r.URL.Query()["tag"] {
			if !validTag(t) {
				return newError(codeManifestInvalid, "invalid tag %q", t)
			}
			tags = append(tags, t)
		}
	}
	m, err := parseManifest(mt, body)
	if err != nil {
		return err
	}
	if err := s.checkReferences(ctx, rt.name, m); err != nil {
		return err
	}
	existed, err := s.store.exists(ctx, revisionLinkPath(rt.name, d))
	if err != nil {
		return err
	}
	if err := s.storeManifest(ctx, rt.name, revision{Digest: d, MediaType: mt}, body, m); err != nil {
		return err
	}
	// Look again now that the revision is linked: a collector that doomed
	// a blob before it could see the link may be deleting it (gclease.go).
	if err := s.checkReferences(ctx, rt.name, m); err != nil {
		if !existed {
			_ = s.store.deleteIfExists(ctx, revisionLinkPath(rt.name, d))
			if m.Subject != nil {
				_ = s.store.deleteIfExists(ctx, referrersDir(rt.name, m.Subject.Digest)+"/"+d.String())
			}
		}
		return err
	}
	for _, t := range tags {
		if err := s.store.d.PutContent(ctx, tagLinkPath(rt.name, t), []byte(d)); err != nil {
			return err
		}
	}
	h := w.Header()
	if m.Subject != nil {
		h.Set("OCI-Subject", m.Subject.Digest.String())
	}
	if rt.ref == "" && len(tags) > 0 {
		for _, t := range tags {
			h.Add("OCI-Tag", t)
		}
	}
	h.Set("Location", "/v2/"+rt.name+"/manifests/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// checkReferences refuses a manifest whose blobs or child manifests the
// repository does not hold, or whose blobs the collector is deleting.
// Foreign layers (with urls) and the subject are not checked.
func (s *Server) checkReferences(ctx context.Context, name string, m *manifestDoc) error {
	var unknown []map[string]string
	for _, desc := range m.Manifests {
		if _, err := s.store.readRevision(ctx, name, desc.Digest); err != nil {
			if !isNotFound(err) {
				return err
			}
			unknown = append(unknown, map[string]string{"digest": desc.Digest.String()})
		}
	}
	for _, desc := range m.blobs() {
		if len(desc.URLs) > 0 {
			continue
		}
		_, err := s.store.repoBlob(ctx, name, desc.Digest)
		if err == nil {
			var doomed bool
			if doomed, err = s.isDoomed(ctx, desc.Digest); err == nil && doomed {
				err = newError(codeBlobUnknown, "blob %s is being garbage-collected", desc.Digest)
			}
		}
		if err != nil {
			if !isNotFound(err) {
				return err
			}
			unknown = append(unknown, map[string]string{"digest": desc.Digest.String()})
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	return newError(codeManifestBlobUnknown, "manifest references %d blob(s) or manifest(s) unknown to repository %s, first %s",
		len(unknown), name, unknown[0]["digest"]).withDetail(unknown)
}

// storeManifest writes the manifest's bytes, its revision link and, when it
// has a subject, its referrers entry, in that order so no link ever points
// at missing bytes.
func (s *Server) storeManifest(ctx context.Context, name string, rev revision, body []byte, m *manifestDoc) error {
	bp := blobPath(rev.Digest)
	have, err := s.store.exists(ctx, bp)
	if err != nil {
		return err
	}
	if !have {
		if err := s.store.d.PutContent(ctx, bp, body); err != nil {
			return err
		}
	}
	if err := s.store.writeRevision(ctx, name, rev); err != nil {
		return err
	}
	if m.Subject == nil {
		return nil
	}
	desc := v1.Descriptor{
		MediaType:    rev.MediaType,
		Digest:       rev.Digest,
		Size:         int64(len(body)),
		ArtifactType: m.ArtifactType,
		Annotations:  m.Annotations,
	}
	if desc.ArtifactType == "" && m.Config != nil && !isIndexType(rev.MediaType) {
		desc.ArtifactType = m.Config.MediaType
	}
	b, err := json.Marshal(desc)
	if err != nil {
		return err
	}
	return s.store.d.PutContent(ctx, referrersDir(name, m.Subject.Digest)+"/"+rev.Digest.String(), b)
}

// deleteManifest deletes a tag (the manifest stays) or, by digest, the
// manifest, every tag pointing at it and its referrers entry.
func (s *Server) deleteManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	if rt.dgst == "" {
		if _, err := s.store.resolveTag(ctx, rt.name, rt.ref); err != nil {
			return err
		}
		if err := s.store.deleteIfExists(ctx, tagsDir(rt.name)+"/"+rt.ref); err != nil {
			return err
		}
		return accepted(w)
	}
	d := rt.dgst
	if _, err := s.store.readRevision(ctx, rt.name, d); err != nil {
		return err
	}
	if body, err := s.store.d.GetContent(ctx, blobPath(d)); err == nil {
		var m manifestDoc
		if json.Unmarshal(body, &m) == nil && m.Subject != nil {
			if err := s.store.deleteIfExists(ctx, referrersDir(rt.name, m.Subject.Digest)+"/"+d.String()); err != nil {
				return err
			}
		}
	}
	tags, err := s.store.tags(ctx, rt.name)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if td, err := s.store.resolveTag(ctx, rt.name, t); err == nil && td == d {
			if err := s.store.deleteIfExists(ctx, tagsDir(rt.name)+"/"+t); err != nil {
				return err
			}
		}
	}
	if err := s.store.d.PutContent(ctx, gcCandidatePath(d), nil); err != nil {
		return err
	}
	if err := s.store.deleteIfExists(ctx, revisionsDir(rt.name)+"/"+d.Algorithm().String()+"/"+d.Encoded()); err != nil {
		return fmt.Errorf("delete manifest %s: %w", d, err)
	}
	return accepted(w)
}

func accepted(w http.ResponseWriter) error {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}
