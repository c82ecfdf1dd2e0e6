package image

import (
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Descriptor points at a blob: media type, digest and size, plus optional
// platform, annotations and URLs.
type Descriptor = ocispec.Descriptor

// OCI media types.
const (
	MediaTypeOCIManifest  = ocispec.MediaTypeImageManifest
	MediaTypeOCIIndex     = ocispec.MediaTypeImageIndex
	MediaTypeOCIConfig    = ocispec.MediaTypeImageConfig
	MediaTypeOCIEmptyJSON = ocispec.MediaTypeEmptyJSON
	MediaTypeOCILayer     = ocispec.MediaTypeImageLayer
	MediaTypeOCILayerGzip = ocispec.MediaTypeImageLayerGzip
	MediaTypeOCILayerZstd = ocispec.MediaTypeImageLayerZstd

	// Non-distributable ("foreign") OCI layers: deprecated by the spec but
	// still found in Windows images.
	MediaTypeOCIForeignLayer     = "application/vnd.oci.image.layer.nondistributable.v1.tar"
	MediaTypeOCIForeignLayerGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
	MediaTypeOCIForeignLayerZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
)

// Docker media types.
const (
	MediaTypeDockerManifest          = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList      = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig            = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer             = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerLayerUncompressed = "application/vnd.docker.image.rootfs.diff.tar"
	// MediaTypeDockerLayerZstd is not part of Docker's schema2 but is written
	// by containerd when it converts Docker images to zstd.
	MediaTypeDockerLayerZstd         = "application/vnd.docker.image.rootfs.diff.tar.zstd"
	MediaTypeDockerForeignLayer      = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	MediaTypeDockerForeignLayerPlain = "application/vnd.docker.image.rootfs.foreign.diff.tar"

	// Schema1 manifests are recognised only to be refused.
	MediaTypeDockerSchema1Manifest       = "application/vnd.docker.distribution.manifest.v1+json"
	MediaTypeDockerSchema1SignedManifest = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// Compression names used by LayerMediaType and LayerCompression.
const (
	CompressionNone = ""
	CompressionGzip = "gzip"
	CompressionZstd = "zstd"
)

// layerTypes maps every layer media type strata reads to its compression.
var layerTypes = map[string]string{
	MediaTypeOCILayer:                CompressionNone,
	MediaTypeOCILayerGzip:            CompressionGzip,
	MediaTypeOCILayerZstd:            CompressionZstd,
	MediaTypeOCIForeignLayer:         CompressionNone,
	MediaTypeOCIForeignLayerGzip:     CompressionGzip,
	MediaTypeOCIForeignLayerZstd:     CompressionZstd,
	MediaTypeDockerLayerUncompressed: CompressionNone,
	MediaTypeDockerLayer:             CompressionGzip,
	MediaTypeDockerLayerZstd:         CompressionZstd,
	MediaTypeDockerForeignLayer:      CompressionGzip,
	MediaTypeDockerForeignLayerPlain: CompressionNone,
}

// IsLayerMediaType reports whether mt names a tar layer, compressed or not,
// distributable or foreign, OCI or Docker.
func IsLayerMediaType(mt string) bool {
	_, ok := layerTypes[mt]
	return ok
}

// IsForeignLayer reports whether mt names a non-distributable layer, one a
// registry may not hold and that is fetched from the descriptor's URLs.
func IsForeignLayer(mt string) bool {
	return strings.Contains(mt, ".nondistributable.") || strings.Contains(mt, ".foreign.")
}

// LayerCompression returns the compression of a layer media type: "",
// "gzip" or "zstd". Unknown types give "" too; check IsLayerMediaType first.
func LayerCompression(mt string) string {
	return layerTypes[mt]
}

// LayerMediaType returns the media type of a distributable layer with the
// given compression ("", "gzip" or "zstd"), Docker's or OCI's. It returns ""
// for an unknown compression. Docker schema2 has no zstd type; for it the
// containerd convention is returned, but OCI manifests are the better home for
// zstd layers.
func LayerMediaType(compression string, docker bool) string {
	switch {
	case compression == CompressionNone && docker:
		return MediaTypeDockerLayerUncompressed
	case compression == CompressionNone:
		return MediaTypeOCILayer
	case compression == CompressionGzip && docker:
		return MediaTypeDockerLayer
	case compression == CompressionGzip:
		return MediaTypeOCILayerGzip
	case compression == CompressionZstd && docker:
		return MediaTypeDockerLayerZstd
	case compression == CompressionZstd:
		return MediaTypeOCILayerZstd
	}
	return ""
}

// IsConfigMediaType reports whether mt names an image config blob.
func IsConfigMediaType(mt string) bool {
	return mt == MediaTypeOCIConfig || mt == MediaTypeDockerConfig
}

// IsManifestMediaType reports whether mt names a single-image manifest.
func IsManifestMediaType(mt string) bool {
	return mt == MediaTypeOCIManifest || mt == MediaTypeDockerManifest
}

// IsIndexMediaType reports whether mt names an OCI index or a Docker
// manifest list.
func IsIndexMediaType(mt string) bool {
	return mt == MediaTypeOCIIndex || mt == MediaTypeDockerManifestList
}

func isDockerLayer(mt string) bool {
	return strings.HasPrefix(mt, "application/vnd.docker.image.rootfs.")
}
