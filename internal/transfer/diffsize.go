package transfer

import (
	"encoding/binary"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
)

// isizeMaxBlob bounds the gzip blobs whose size is read from the trailer:
// ISIZE is the uncompressed size modulo 4 GiB, which a smaller blob is far
// from wrapping (layers compress less than 16:1).
const isizeMaxBlob = 256 << 20

// diffSize returns the uncompressed size of a stored layer blob, reading
// it from the format where it can: a plain tar is its own size (and its
// digest must be its diff ID), a gzip blob has it in its trailer. Other
// blobs are decompressed, their diff ID checked on the way.
//
// A compressed layer's diff ID is otherwise checked when it is unpacked
// (before its snapshot is committed), as containerd does: the manifest
// already binds the blob by digest, and hashing every layer twice at pull
// time would double its CPU cost.
func (p *Puller) diffSize(d image.Descriptor, diffID digest.Digest) (int64, error) {
	switch d.MediaType {
	case image.MediaTypeOCILayer, image.MediaTypeDockerLayerUncompressed:
		if d.Digest != diffID {
			return 0, errdefs.Newf(errdefs.ErrCorrupt, "uncompressed layer %s does not match its diff ID %s", d.Digest, diffID)
		}
		return d.Size, nil
	case image.MediaTypeOCILayerGzip, image.MediaTypeDockerLayer:
		if d.Size >= 18 && d.Size < isizeMaxBlob { // 18: the smallest gzip member
			if n, err := p.gzipSize(d.Digest); err == nil {
				return n, nil
			}
		}
	}
	return p.knownDiffSize(d.Digest, diffID)
}

// gzipSize reads the ISIZE field at the end of a gzip blob.
func (p *Puller) gzipSize(dg digest.Digest) (int64, error) {
	f, err := p.Images.Content.Open(dg)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var trailer [4]byte
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if _, err := f.ReadAt(trailer[:], fi.Size()-4); err != nil && err != io.EOF {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint32(trailer[:])), nil
}
