// Package imagearchive writes and reads image archives: `strata save` and
// `strata load`.
//
// Save writes one tar that both `docker load` (Docker 25+ layout) and OCI
// tools read:
//
//	oci-layout                 {"imageLayoutVersion":"1.0.0"}
//	index.json                 OCI index: one entry per (image, tag), or one
//	                           untagged entry for an image saved by ID
//	manifest.json              Docker: [{"Config","RepoTags","Layers"}]
//	repositories               legacy Docker: {"busybox":{"latest":"<hex>"}}
//	blobs/                     (directory entries for blobs/ and blobs/<alg>/)
//	blobs/sha256/<hex>         every manifest, config and layer once, as stored
//
// Metadata comes first, blobs after. Headers are deterministic (mtime 0,
// uid/gid 0, mode 0644/0755), so saving the same images twice gives the same
// bytes. Blobs are streamed from the content store, through the kernel's
// copy_file_range or splice when the destination allows it.
//
// Load reads an archive in one pass from a stream (plain, gzip or zstd):
// Docker archives (legacy `<id>/layer.tar` layout with symlinked duplicate
// layers, and the Docker 25+ layout), Podman/skopeo docker-archive, and OCI
// archives (oci-layout + index.json + blobs, nested indexes resolved to the
// host platform). Because manifest.json and index.json may come after the
// blobs, every entry that looks like a layer is streamed into a content
// ingest while archive.Scan validates it and computes its diffID in the same
// pass; small files are kept in memory. Only at the end does Load decide
// which images the archive holds, check each referenced layer (clean scan,
// diffID equal to the config's) and commit the needed ingests. An archive
// entry that escapes the archive, a hostile layer, a diffID mismatch or a
// truncated stream leaves no image and no new blob behind.
//
// Names on load: Docker's RepoTags; for OCI archives the
// io.containerd.image.name annotation, else org.opencontainers.image.ref.name
// when it is a full reference such as "busybox:latest" (what
// `skopeo copy ... oci-archive:x.tar:busybox:latest` writes). A bare tag
// such as "latest" names no repository, so such an image is loaded
// untagged.
package imagearchive
