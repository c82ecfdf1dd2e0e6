package image

import (
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	"github.com/strata-dev/strata/internal/errdefs"
)

// Manifest is an OCI image manifest or a Docker schema2 manifest.
type Manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        Descriptor        `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Subject       *Descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// Index is an OCI image index or a Docker manifest list.
type Index struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Manifests     []Descriptor      `json:"manifests"`
	Subject       *Descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// probe holds the fields that tell manifest kinds apart.
type probe struct {
	SchemaVersion int              `json:"schemaVersion"`
	MediaType     string           `json:"mediaType"`
	Manifests     json.RawMessage  `json:"manifests"`
	Config        json.RawMessage  `json:"config"`
	Layers        json.RawMessage  `json:"layers"`
	FSLayers      *json.RawMessage `json:"fsLayers"`
}

// DetectManifestType returns the media type of a manifest or index document:
// its "mediaType" field if set, else inferred from its shape (an OCI index
// has "manifests", an OCI manifest has "config" and "layers"). Docker schema1
// is refused with ErrUnsupported.
func DetectManifestType(b []byte) (string, error) {
	var p probe
	if err := json.Unmarshal(b, &p); err != nil {
		return "", errdefs.Newf(errdefs.ErrInvalidArgument, "invalid manifest: %v", err)
	}
	if p.SchemaVersion == 1 || p.FSLayers != nil ||
		p.MediaType == MediaTypeDockerSchema1Manifest || p.MediaType == MediaTypeDockerSchema1SignedManifest {
		return "", errdefs.Newf(errdefs.ErrUnsupported, "docker schema1 manifests are not supported")
	}
	switch {
	case IsManifestMediaType(p.MediaType), IsIndexMediaType(p.MediaType):
		return p.MediaType, nil
	case p.MediaType != "":
		return "", errdefs.Newf(errdefs.ErrUnsupported, "unsupported manifest media type %q", p.MediaType)
	case p.Manifests != nil && p.Config == nil:
		return MediaTypeOCIIndex, nil
	case p.Config != nil && p.Layers != nil && p.Manifests == nil:
		return MediaTypeOCIManifest, nil
	}
	return "", errdefs.Newf(errdefs.ErrInvalidArgument, "cannot tell the manifest type: no mediaType and neither manifests nor config and layers")
}

// ParseManifest reads an OCI image manifest or a Docker schema2 manifest and
// checks that it describes an image: a known config media type and layers
// that are tar layers (plain, gzip, zstd or foreign).
func ParseManifest(b []byte) (*Manifest, error) {
	m, err := ParseManifestAny(b)
	if err != nil {
		return nil, err
	}
	if !IsConfigMediaType(m.Config.MediaType) {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid manifest: config media type %q is not an image config", m.Config.MediaType)
	}
	for i, l := range m.Layers {
		if !IsLayerMediaType(l.MediaType) {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid manifest: layers[%d] media type %q is not a layer", i, l.MediaType)
		}
	}
	return m, nil
}

// ParseManifestAny reads a manifest like ParseManifest but accepts any config
// and layer media types, as OCI artifacts (attestations, signatures) use. It
// still checks the schema version and every descriptor.
func ParseManifestAny(b []byte) (*Manifest, error) {
	mt, err := DetectManifestType(b)
	if err != nil {
		return nil, err
	}
	if !IsManifestMediaType(mt) {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid manifest: media type %q is an index, not a manifest", mt)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid manifest: %v", err)
	}
	if m.SchemaVersion != 2 {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid manifest: schemaVersion %d, want 2", m.SchemaVersion)
	}
	if m.MediaType == MediaTypeDockerManifest && m.Config.MediaType == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid manifest: config has no media type")
	}
	if err := checkDescriptor("manifest", "config", m.Config); err != nil {
		return nil, err
	}
	for i, l := range m.Layers {
		if err := checkDescriptor("manifest", fmt.Sprintf("layers[%d]", i), l); err != nil {
			return nil, err
		}
	}
	if m.Subject != nil {
		if err := checkDescriptor("manifest", "subject", *m.Subject); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// ParseIndex reads an OCI image index or a Docker manifest list and checks
// its schema version and every entry's descriptor.
func ParseIndex(b []byte) (*Index, error) {
	mt, err := DetectManifestType(b)
	if err != nil {
		return nil, err
	}
	if !IsIndexMediaType(mt) {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid index: media type %q is a manifest, not an index", mt)
	}
	var idx Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid index: %v", err)
	}
	if idx.SchemaVersion != 2 {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid index: schemaVersion %d, want 2", idx.SchemaVersion)
	}
	for i, d := range idx.Manifests {
		if err := checkDescriptor("index", fmt.Sprintf("manifests[%d]", i), d); err != nil {
			return nil, err
		}
	}
	if idx.Subject != nil {
		if err := checkDescriptor("index", "subject", *idx.Subject); err != nil {
			return nil, err
		}
	}
	return &idx, nil
}

// checkDescriptor validates one descriptor, named what, of a manifest or
// index (doc).
func checkDescriptor(doc, what string, d Descriptor) error {
	if err := d.Digest.Validate(); err != nil {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "invalid %s: %s digest %q: %v", doc, what, d.Digest, err)
	}
	if d.Size < 0 {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "invalid %s: %s %s has negative size %d", doc, what, d.Digest, d.Size)
	}
	if len(d.Data) > 0 {
		if int64(len(d.Data)) != d.Size || d.Digest.Algorithm().FromBytes(d.Data) != d.Digest {
			return errdefs.Newf(errdefs.ErrInvalidArgument, "invalid %s: %s %s: embedded data does not match its digest and size", doc, what, d.Digest)
		}
	}
	return nil
}

// NewManifest builds and encodes an image manifest: Docker schema2 when
// docker is set, else OCI. An empty config media type is filled in with the
// matching config type. Layer media types must be set, and a Docker manifest
// takes only Docker layer types.
func NewManifest(config Descriptor, layers []Descriptor, docker bool) ([]byte, digest.Digest, error) {
	m := Manifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest, Config: config, Layers: layers}
	if docker {
		m.MediaType = MediaTypeDockerManifest
	}
	if m.Config.MediaType == "" {
		m.Config.MediaType = MediaTypeOCIConfig
		if docker {
			m.Config.MediaType = MediaTypeDockerConfig
		}
	}
	if m.Layers == nil {
		m.Layers = []Descriptor{}
	}
	if docker && m.Config.MediaType != MediaTypeDockerConfig {
		return nil, "", errdefs.Newf(errdefs.ErrInvalidArgument, "config media type %q is not valid in a docker manifest", m.Config.MediaType)
	}
	if err := checkDescriptor("manifest", "config", m.Config); err != nil {
		return nil, "", err
	}
	for i, l := range m.Layers {
		if !IsLayerMediaType(l.MediaType) {
			return nil, "", errdefs.Newf(errdefs.ErrInvalidArgument, "layers[%d] media type %q is not a layer", i, l.MediaType)
		}
		if docker != isDockerLayer(l.MediaType) {
			return nil, "", errdefs.Newf(errdefs.ErrInvalidArgument, "layer media type %q is not valid in a %s manifest", l.MediaType, kind(docker))
		}
		if err := checkDescriptor("manifest", fmt.Sprintf("layers[%d]", i), l); err != nil {
			return nil, "", err
		}
	}
	return encode(m)
}

// NewIndex builds and encodes an index of manifests: a Docker manifest list
// when docker is set, else an OCI index.
func NewIndex(manifests []Descriptor, docker bool) ([]byte, digest.Digest, error) {
	idx := Index{SchemaVersion: 2, MediaType: MediaTypeOCIIndex, Manifests: manifests}
	if docker {
		idx.MediaType = MediaTypeDockerManifestList
	}
	if idx.Manifests == nil {
		idx.Manifests = []Descriptor{}
	}
	for i, d := range idx.Manifests {
		if docker && !IsManifestMediaType(d.MediaType) {
			return nil, "", errdefs.Newf(errdefs.ErrInvalidArgument, "manifests[%d] media type %q is not valid in a docker manifest list", i, d.MediaType)
		}
		if err := checkDescriptor("index", fmt.Sprintf("manifests[%d]", i), d); err != nil {
			return nil, "", err
		}
	}
	return encode(idx)
}

func kind(docker bool) string {
	if docker {
		return "docker"
	}
	return "oci"
}

func encode(v any) ([]byte, digest.Digest, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, "", fmt.Errorf("encode manifest: %w", err)
	}
	return b, digest.FromBytes(b), nil
}
