package imagearchive

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagestore"
)

// layerBlob is an archive entry that scanned clean as a layer. Its blob is
// in a pending ingest until commit, or was in the content store already.
type layerBlob struct {
	w      *content.Writer // pending ingest; nil once committed or aborted, or for a stored blob
	digest digest.Digest   // of the blob as stored
	size   int64
	info   archive.LayerInfo
}

// commit moves the ingest into the content store (once).
func (lb *layerBlob) commit() error {
	if lb.w == nil {
		return nil
	}
	w := lb.w
	lb.w = nil
	if _, err := w.Commit(lb.size, lb.digest); err != nil {
		return fmt.Errorf("store layer %s: %w", lb.digest, err)
	}
	return nil
}

// abort removes the ingest, if it is still pending.
func (lb *layerBlob) abort() {
	if lb.w != nil {
		_ = lb.w.Abort()
		lb.w = nil
	}
}

// mediaType is the OCI layer media type of the blob's compression.
func (lb *layerBlob) mediaType() string {
	return image.LayerMediaType(compressionName(lb.info.Compression), false)
}

// compressionName maps archive's compression to the names image uses.
func compressionName(c archive.Compression) string {
	switch c {
	case archive.Gzip:
		return image.CompressionGzip
	case archive.Zstd:
		return image.CompressionZstd
	}
	return image.CompressionNone
}

// errScanStopped tells the copy loop that the scan gave up on a layer.
var errScanStopped = errors.New("layer scan stopped")

type scanResult struct {
	info archive.LayerInfo
	err  error
}

// streamLayer copies src, the data of entry e, into a content ingest while
// archive.Scan validates it and computes its diffID in another goroutine;
// the two are fed from one read of the archive. A blob named by its digest
// that the store already holds is only hashed and scanned. A layer the scan
// refuses is not an error of the archive yet (only layers an image uses must
// be clean): it is recorded in e.err. The error returned is fatal: reading
// the archive or writing the store failed.
func (rd *reader) streamLayer(ctx context.Context, e *entry, src io.Reader) error {
	expected, named := blobDigest(e.name)
	alg := digest.Canonical
	if named {
		alg = expected.Algorithm()
	}
	var w *content.Writer
	digester := alg.Digester()
	var sink io.Writer = digester.Hash()
	if !named || !rd.stored(expected) {
		var err error
		if w, err = rd.store.Content.Writer(imagestore.TempRef("load"), alg); err != nil {
			return err
		}
		sink = w
	}
	pr, pw := io.Pipe()
	done := make(chan scanResult, 1)
	go func() {
		info, err := archive.Scan(pr, nil, rd.lim)
		pr.CloseWithError(errScanStopped)
		done <- scanResult{info, err}
	}()
	size, cerr := rd.copyLayer(ctx, e.name, src, pw, sink)
	pw.CloseWithError(cerr) // nil: the scan sees the end of the layer
	res := <-done
	lb := &layerBlob{w: w, size: size, info: res.info}
	switch {
	case cerr != nil && !errors.Is(cerr, errScanStopped):
		lb.abort()
		return cerr
	case res.err != nil:
		lb.abort()
		e.err = res.err
		return nil //nolint:nilerr // a refused layer is recorded in e.err, not fatal (see above)
	case res.info.Compression == archive.Xz || res.info.Compression == archive.Bzip2:
		lb.abort()
		e.err = unsupportedCompression(res.info.Compression)
		return nil
	}
	lb.digest = digester.Digest()
	if w != nil {
		lb.digest = w.Digest()
	}
	if named && lb.digest != expected {
		lb.abort()
		e.err = digestMismatch(lb.digest)
		return nil
	}
	e.layer = lb
	rd.pending = append(rd.pending, lb)
	return nil
}

// stored reports whether the content store holds blob d.
func (rd *reader) stored(d digest.Digest) bool {
	_, err := rd.store.Content.Info(d)
	return err == nil
}

// copyLayer copies src to the scan pipe and to sink, one buffer at a time:
// while sink writes a buffer, the scan goroutine decompresses and hashes it.
// It stops with errScanStopped as soon as the scan has given up.
func (rd *reader) copyLayer(ctx context.Context, name string, src io.Reader, scan, sink io.Writer) (int64, error) {
	var n int64
	for {
		k, rerr := src.Read(rd.buf)
		if k > 0 {
			if _, err := scan.Write(rd.buf[:k]); err != nil {
				return n, err
			}
			if _, err := sink.Write(rd.buf[:k]); err != nil {
				return n, fmt.Errorf("store archive entry %q: %w", name, err)
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, readError(rerr, fmt.Sprintf("in entry %q", name))
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
}
