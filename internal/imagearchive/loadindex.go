package imagearchive

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/reference"
)

// maxIndexDepth bounds how deep indexes may nest.
const maxIndexDepth = 4

// ociManifest is an image manifest of an OCI archive.
type ociManifest struct {
	raw       []byte
	mediaType string
	digest    digest.Digest
	m         *image.Manifest
}

// indexPlans reads index.json: one plan per image manifest, with the names
// of every index entry that leads to it. Entries that are not images
// (signatures, attestations) are skipped; a nested index is resolved to the
// host platform.
func (rd *reader) indexPlans() ([]*plan, error) {
	if err := rd.checkLayout(); err != nil {
		return nil, err
	}
	idx, err := rd.parseIndexFile()
	if err != nil {
		return nil, err
	}
	byManifest := map[digest.Digest]*plan{}
	var plans []*plan
	for i, d := range idx.Manifests {
		om, err := rd.resolveManifest(d, 0)
		if err != nil {
			return nil, fmt.Errorf("%s manifests[%d]: %w", fileIndex, i, err)
		}
		if om == nil {
			continue
		}
		p := byManifest[om.digest]
		if p == nil {
			if p, err = rd.ociPlan(om); err != nil {
				return nil, err
			}
			byManifest[om.digest] = p
			plans = append(plans, p)
		}
		ref, ok, err := indexName(d.Annotations)
		if err != nil {
			return nil, fmt.Errorf("%s manifests[%d]: %w", fileIndex, i, err)
		}
		if ok && !hasRef(p.tags, ref) {
			p.tags = append(p.tags, ref)
		}
	}
	if len(plans) == 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "%s lists no image", fileIndex)
	}
	return plans, nil
}

// checkLayout refuses an oci-layout file of another major version.
func (rd *reader) checkLayout() error {
	if rd.lookup(fileOCILayout) == nil {
		return nil
	}
	raw, err := rd.smallFile(fileOCILayout, fileOCILayout, "file")
	if err != nil {
		return err
	}
	var l struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "invalid %s: %v", fileOCILayout, err)
	}
	if !strings.HasPrefix(l.Version, "1.") {
		return errdefs.Newf(errdefs.ErrUnsupported, "%s: image layout version %q is not supported", fileOCILayout, l.Version)
	}
	return nil
}

func (rd *reader) parseIndexFile() (*image.Index, error) {
	raw, err := rd.smallFile(fileIndex, fileIndex, "file")
	if err != nil {
		return nil, err
	}
	idx, err := image.ParseIndex(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fileIndex, err)
	}
	return idx, nil
}

// resolveManifest reads the manifest d points at, through nested indexes.
// It returns nil for a manifest that is not an image's.
func (rd *reader) resolveManifest(d image.Descriptor, depth int) (*ociManifest, error) {
	raw, err := rd.blob(d, "manifest")
	if err != nil {
		return nil, err
	}
	mt, err := image.DetectManifestType(raw)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	if image.IsIndexMediaType(mt) {
		if depth >= maxIndexDepth {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "index %s: indexes nest more than %d deep", d.Digest, maxIndexDepth)
		}
		idx, err := image.ParseIndex(raw)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", d.Digest, err)
		}
		sel, err := image.SelectManifest(idx, image.HostPlatform())
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", d.Digest, err)
		}
		return rd.resolveManifest(sel, depth+1)
	}
	m, err := image.ParseManifestAny(raw)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	if !image.IsConfigMediaType(m.Config.MediaType) {
		return nil, nil
	}
	return &ociManifest{raw: raw, mediaType: mt, digest: d.Digest, m: m}, nil
}

// ociPlan turns an image manifest into a plan that keeps the manifest.
func (rd *reader) ociPlan(om *ociManifest) (*plan, error) {
	cfg, err := rd.blob(om.m.Config, "config")
	if err != nil {
		return nil, err
	}
	p := &plan{source: fileIndex, config: cfg, id: digest.FromBytes(cfg), manifest: om.raw, manifestType: om.mediaType}
	for _, l := range om.m.Layers {
		p.layers = append(p.layers, planLayer{path: blobPath(l.Digest), mediaType: l.MediaType, digest: l.Digest, size: l.Size})
	}
	return p, nil
}

// blob returns the bytes of the small blob d points at, checked against
// d's digest and size; what names it in errors.
func (rd *reader) blob(d image.Descriptor, what string) ([]byte, error) {
	raw, err := rd.smallFile(fileIndex, blobPath(d.Digest), what)
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) != d.Size {
		return nil, errdefs.Newf(errdefs.ErrCorrupt, "%s %s has %d bytes, its descriptor says %d", what, d.Digest, len(raw), d.Size)
	}
	if got := d.Digest.Algorithm().FromBytes(raw); got != d.Digest {
		return nil, errdefs.Newf(errdefs.ErrCorrupt, "%s %s: content has digest %s", what, d.Digest, got)
	}
	return raw, nil
}

// indexName returns the name an index entry gives its image: the
// io.containerd.image.name annotation, else org.opencontainers.image.ref.name
// when it is a full reference ("busybox:latest", as skopeo writes it). A
// ref.name that is only a tag ("latest") names no repository: no name.
func indexName(ann map[string]string) (reference.Reference, bool, error) {
	if n := ann[annotationImageName]; n != "" {
		ref, err := parseTag(n)
		return ref, err == nil, err
	}
	n := ann[annotationRefName]
	if !strings.ContainsAny(n, ":/") {
		return reference.Reference{}, false, nil
	}
	ref, err := parseTag(n)
	return ref, err == nil, nil // a ref.name may be any string: not a name, no tag
}
