package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/strata-dev/strata/internal/errdefs"
)

var (
	dCfg = sha("config")
	dL1  = sha("layer1")
	dL2  = sha("layer2")
)

func manifestJSON(mediaType, configType string, layerTypes ...string) string {
	var layers []string
	for i, lt := range layerTypes {
		layers = append(layers, fmt.Sprintf(`{"mediaType":%q,"size":%d,"digest":%q}`, lt, 100+i, sha(fmt.Sprint(i))))
	}
	mt := ""
	if mediaType != "" {
		mt = fmt.Sprintf(`"mediaType":%q,`, mediaType)
	}
	return fmt.Sprintf(`{"schemaVersion":2,%s"config":{"mediaType":%q,"size":7023,"digest":%q},"layers":[%s]}`,
		mt, configType, dCfg, strings.Join(layers, ","))
}

func TestParseManifest(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, wantType string
	}{
		{"docker", manifestJSON(MediaTypeDockerManifest, MediaTypeDockerConfig, MediaTypeDockerLayer, MediaTypeDockerForeignLayer), MediaTypeDockerManifest},
		{"oci", manifestJSON(MediaTypeOCIManifest, MediaTypeOCIConfig, MediaTypeOCILayerGzip, MediaTypeOCILayerZstd, MediaTypeOCILayer), MediaTypeOCIManifest},
		{"oci without mediaType", manifestJSON("", MediaTypeOCIConfig, MediaTypeOCILayerGzip), MediaTypeOCIManifest},
		{"no layers", manifestJSON(MediaTypeOCIManifest, MediaTypeOCIConfig), MediaTypeOCIManifest},
	}
	for _, tc := range cases {
		mt, err := DetectManifestType([]byte(tc.in))
		if err != nil || mt != tc.wantType {
			t.Errorf("%s: DetectManifestType = %q, %v; want %q", tc.name, mt, err, tc.wantType)
		}
		m, err := ParseManifest([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if m.Config.Digest != dCfg || m.Config.Size != 7023 {
			t.Errorf("%s: config descriptor %+v", tc.name, m.Config)
		}
		if strings.Count(tc.in, `"size":1`) != len(m.Layers) {
			t.Errorf("%s: %d layers read", tc.name, len(m.Layers))
		}
	}
}

func TestParseManifestRefusals(t *testing.T) {
	t.Parallel()
	good := manifestJSON(MediaTypeOCIManifest, MediaTypeOCIConfig, MediaTypeOCILayerGzip)
	cases := []struct {
		name, in string
		class    error
	}{
		{"schema1 version", `{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}`, errdefs.ErrUnsupported},
		{"schema1 media type", `{"schemaVersion":2,"mediaType":"` + MediaTypeDockerSchema1SignedManifest + `"}`, errdefs.ErrUnsupported},
		{"unknown media type", `{"schemaVersion":2,"mediaType":"application/x-foo"}`, errdefs.ErrUnsupported},
		{"bad json", `{"schemaVersion":`, errdefs.ErrInvalidArgument},
		{"index", `{"schemaVersion":2,"manifests":[]}`, errdefs.ErrInvalidArgument},
		{"shapeless", `{"schemaVersion":2}`, errdefs.ErrInvalidArgument},
		{"schema 3", strings.Replace(good, `"schemaVersion":2`, `"schemaVersion":3`, 1), errdefs.ErrInvalidArgument},
		{"bad config digest", strings.Replace(good, string(dCfg), "sha256:1234", 1), errdefs.ErrInvalidArgument},
		{"bad layer digest", strings.Replace(good, string(sha("0")), "sha256:"+strings.Repeat("G", 64), 1), errdefs.ErrInvalidArgument},
		{"negative size", strings.Replace(good, `"size":7023`, `"size":-1`, 1), errdefs.ErrInvalidArgument},
		{"config type", manifestJSON(MediaTypeOCIManifest, "application/vnd.cncf.helm.config.v1+json", MediaTypeOCILayerGzip), errdefs.ErrInvalidArgument},
		{"layer type", manifestJSON(MediaTypeOCIManifest, MediaTypeOCIConfig, "application/vnd.in-toto+json"), errdefs.ErrInvalidArgument},
	}
	for _, tc := range cases {
		_, err := ParseManifest([]byte(tc.in))
		if !errors.Is(err, tc.class) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.class)
		}
	}
	_, err := ParseManifest([]byte(cases[0].in))
	if err == nil || err.Error() != "docker schema1 manifests are not supported" {
		t.Errorf("schema1 message: %v", err)
	}
	// Artifacts pass the lax parser.
	art := manifestJSON(MediaTypeOCIManifest, MediaTypeOCIEmptyJSON, "application/vnd.in-toto+json")
	if _, err := ParseManifestAny([]byte(art)); err != nil {
		t.Errorf("artifact refused by ParseManifestAny: %v", err)
	}
}

func TestDescriptorEmbeddedData(t *testing.T) {
	t.Parallel()
	d := ocispec.DescriptorEmptyJSON
	b, _ := json.Marshal(Manifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest, Config: d, Layers: []Descriptor{}})
	if _, err := ParseManifestAny(b); err != nil {
		t.Fatalf("valid embedded data refused: %v", err)
	}
	d.Data = []byte(`{"x":1}`)
	b, _ = json.Marshal(Manifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest, Config: d, Layers: []Descriptor{}})
	if _, err := ParseManifestAny(b); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("mismatched embedded data accepted: %v", err)
	}
}

func indexJSON(mediaType string, entries ...string) string {
	mt := ""
	if mediaType != "" {
		mt = fmt.Sprintf(`"mediaType":%q,`, mediaType)
	}
	return fmt.Sprintf(`{"schemaVersion":2,%s"manifests":[%s]}`, mt, strings.Join(entries, ","))
}

func entry(mt string, d digest.Digest, platform string) string {
	p := ""
	if platform != "" {
		parts := strings.Split(platform, "/")
		p = fmt.Sprintf(`,"platform":{"os":%q,"architecture":%q`, parts[0], parts[1])
		if len(parts) > 2 {
			p += fmt.Sprintf(`,"variant":%q`, parts[2])
		}
		p += "}"
	}
	return fmt.Sprintf(`{"mediaType":%q,"size":528,"digest":%q%s}`, mt, d, p)
}

func TestParseIndex(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in, want string }{
		{"docker list", indexJSON(MediaTypeDockerManifestList, entry(MediaTypeDockerManifest, dL1, "linux/amd64"), entry(MediaTypeDockerManifest, dL2, "linux/arm64/v8")), MediaTypeDockerManifestList},
		{"oci index", indexJSON(MediaTypeOCIIndex, entry(MediaTypeOCIManifest, dL1, "linux/amd64")), MediaTypeOCIIndex},
		{"oci index, no mediaType", indexJSON("", entry(MediaTypeOCIManifest, dL1, "")), MediaTypeOCIIndex},
	}
	for _, tc := range cases {
		if mt, err := DetectManifestType([]byte(tc.in)); err != nil || mt != tc.want {
			t.Errorf("%s: detected %q, %v", tc.name, mt, err)
		}
		idx, err := ParseIndex([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if idx.Manifests[0].Digest != dL1 || idx.Manifests[0].Size != 528 {
			t.Errorf("%s: first entry %+v", tc.name, idx.Manifests[0])
		}
	}
	refusals := map[string]string{
		"manifest":   manifestJSON(MediaTypeOCIManifest, MediaTypeOCIConfig),
		"bad digest": indexJSON(MediaTypeOCIIndex, entry(MediaTypeOCIManifest, "sha256:nothex", "linux/amd64")),
		"version":    `{"schemaVersion":1,"mediaType":"` + MediaTypeOCIIndex + `","manifests":[]}`,
		"bad json":   `[1,2]`,
	}
	for name, in := range refusals {
		if _, err := ParseIndex([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNewManifest(t *testing.T) {
	t.Parallel()
	cfg := Descriptor{Digest: dCfg, Size: 10}
	for _, docker := range []bool{false, true} {
		layers := []Descriptor{{MediaType: LayerMediaType("gzip", docker), Digest: dL1, Size: 5}}
		b, d, err := NewManifest(cfg, layers, docker)
		if err != nil {
			t.Fatalf("docker=%v: %v", docker, err)
		}
		if d != sha(string(b)) {
			t.Fatal("digest is not of the bytes")
		}
		m, err := ParseManifest(b)
		if err != nil {
			t.Fatalf("docker=%v: built manifest does not parse: %v", docker, err)
		}
		wantMT, wantCfg := MediaTypeOCIManifest, MediaTypeOCIConfig
		if docker {
			wantMT, wantCfg = MediaTypeDockerManifest, MediaTypeDockerConfig
		}
		if m.MediaType != wantMT || m.Config.MediaType != wantCfg || m.Layers[0].Digest != dL1 {
			t.Fatalf("docker=%v: %+v", docker, m)
		}
	}
	b, _, err := NewManifest(cfg, nil, false)
	if err != nil || !strings.Contains(string(b), `"layers":[]`) {
		t.Fatalf("empty layers: %s %v", b, err)
	}
	mixed := []Descriptor{{MediaType: MediaTypeOCILayerGzip, Digest: dL1, Size: 5}}
	if _, _, err := NewManifest(cfg, mixed, true); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("oci layer in docker manifest: %v", err)
	}
	if _, _, err := NewManifest(Descriptor{Digest: "x", Size: 1}, nil, false); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("bad config digest: %v", err)
	}
	ib, _, err := NewIndex([]Descriptor{{MediaType: MediaTypeDockerManifest, Digest: dL1, Size: 3, Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := ParseIndex(ib)
	if err != nil || idx.MediaType != MediaTypeDockerManifestList || idx.Manifests[0].Platform.Architecture != "amd64" {
		t.Fatalf("index round trip: %+v %v", idx, err)
	}
}

func TestLayerMediaTypes(t *testing.T) {
	t.Parallel()
	for _, docker := range []bool{false, true} {
		for _, comp := range []string{"", "gzip", "zstd"} {
			mt := LayerMediaType(comp, docker)
			if !IsLayerMediaType(mt) || LayerCompression(mt) != comp || isDockerLayer(mt) != docker {
				t.Errorf("LayerMediaType(%q, %v) = %q, which does not read back", comp, docker, mt)
			}
		}
	}
	if LayerMediaType("xz", false) != "" {
		t.Error("unknown compression gave a media type")
	}
	if LayerMediaType("gzip", true) != "application/vnd.docker.image.rootfs.diff.tar.gzip" ||
		LayerMediaType("", true) != "application/vnd.docker.image.rootfs.diff.tar" {
		t.Error("docker layer types")
	}
	if !IsForeignLayer(MediaTypeDockerForeignLayer) || !IsForeignLayer(MediaTypeOCIForeignLayerGzip) || IsForeignLayer(MediaTypeOCILayerGzip) {
		t.Error("IsForeignLayer")
	}
	if IsLayerMediaType(MediaTypeOCIConfig) {
		t.Error("config counted as a layer")
	}
}
