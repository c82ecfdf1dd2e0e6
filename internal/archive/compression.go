package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/strata-dev/strata/internal/errdefs"
)

// bufSize is the size of every stream buffer in this package.
const bufSize = 1 << 20

// zstdMaxWindow caps the window a zstd frame may ask for. 128 MiB is the
// limit the reference zstd CLI applies unless told otherwise (--long=27), so
// every stream zstd itself decodes by default is accepted, while a hostile
// frame cannot make us reserve gigabytes.
const zstdMaxWindow = 1 << 27

// Compression is the compression of a layer stream.
type Compression int

// Compressions strata reads.
const (
	Uncompressed Compression = iota
	Gzip
	Zstd
	Xz
	Bzip2
)

// String returns the lower-case name of c.
func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "uncompressed"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	case Xz:
		return "xz"
	case Bzip2:
		return "bzip2"
	}
	return fmt.Sprintf("compression(%d)", int(c))
}

var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicBzip2 = []byte("BZh")
)

// DetectCompression tells the compression of a stream from its first bytes.
// Pass at least 512 bytes when you have them: a tar header (ustar or GNU
// magic at offset 257) wins over a compression magic, so a plain tar whose
// first file is named "BZh9..." is not taken for bzip2.
func DetectCompression(head []byte) Compression {
	if hasTarMagic(head) {
		return Uncompressed
	}
	switch {
	case bytes.HasPrefix(head, magicGzip):
		return Gzip
	case bytes.HasPrefix(head, magicZstd), isZstdSkippable(head):
		return Zstd
	case bytes.HasPrefix(head, magicXz):
		return Xz
	case bytes.HasPrefix(head, magicBzip2) && len(head) > 3 && head[3] >= '1' && head[3] <= '9':
		return Bzip2
	}
	return Uncompressed
}

// isZstdSkippable reports a zstd skippable frame (magic 0x184D2A5?, little
// endian), which a zstd stream may start with.
func isZstdSkippable(head []byte) bool {
	return len(head) >= 4 && head[0]&0xf0 == 0x50 && head[1] == 0x2a && head[2] == 0x4d && head[3] == 0x18
}

// LooksLikeTar reports whether head (the first 512 bytes or more of a
// stream) starts like a tar archive: a ustar or GNU header, or an all-zero
// end-of-archive block (an empty archive).
func LooksLikeTar(head []byte) bool {
	if len(head) < blockSize {
		return false
	}
	if hasTarMagic(head) {
		return true
	}
	for _, b := range head[:blockSize] {
		if b != 0 {
			return false
		}
	}
	return true
}

const blockSize = 512

// hasTarMagic reports the "ustar\x00" (POSIX) or "ustar  \x00" (GNU) magic
// at offset 257.
func hasTarMagic(head []byte) bool {
	if len(head) < blockSize {
		return false
	}
	m := head[257:265]
	return bytes.HasPrefix(m, []byte("ustar\x00")) || bytes.Equal(m, []byte("ustar  \x00"))
}

// Decompress peeks at the first bytes of r and returns a reader of the
// decompressed stream and the compression it found. Data that is not
// compressed is returned as is (through a 1 MiB buffer). Errors of the
// decompressor are errdefs.ErrCorrupt; read errors of r pass through
// unchanged. Close releases the decompressor; it does not close r.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	src := &sourceReader{r: r}
	br := bufio.NewReaderSize(src, bufSize)
	head, err := br.Peek(blockSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, Uncompressed, err
	}
	c := DetectCompression(head)
	if c == Uncompressed {
		return io.NopCloser(br), c, nil
	}
	d := &decompressReader{src: src, comp: c}
	if err := d.open(br); err != nil {
		return nil, c, err
	}
	return &asyncDecoder{readahead: newReadahead(d), d: d}, c, nil
}

// asyncDecoder runs a decompressReader ahead of its reader.
type asyncDecoder struct {
	*readahead
	d *decompressReader
}

func (a *asyncDecoder) Close() error {
	a.readahead.Close() // the decoder is idle once it returns
	return a.d.Close()
}

// sourceReader remembers the first error of the compressed source, so that
// a read failure of the source is not reported as corrupt data.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}

// decompressReader turns decompressor errors into errdefs.ErrCorrupt. Its
// errors are sticky: a decoder is never called again after it failed.
type decompressReader struct {
	r     io.Reader
	close func() error
	src   *sourceReader
	comp  Compression
	err   error
}

func (d *decompressReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.r.Read(p)
	if err != nil {
		d.err = d.classify(err)
	}
	return n, d.err
}

func (d *decompressReader) Close() error {
	if d.close == nil {
		return nil
	}
	err := d.close()
	d.close = nil
	if err != nil && d.err == nil {
		return d.classify(err)
	}
	return nil
}

// open starts the decoder of d.comp on br.
func (d *decompressReader) open(br *bufio.Reader) error {
	var err error
	switch d.comp {
	case Gzip:
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(br); err == nil {
			zr.Multistream(true)
			d.r, d.close = zr, zr.Close
		}
	case Zstd:
		var zr *zstd.Decoder
		zr, err = zstd.NewReader(br,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
		)
		if err == nil {
			d.r, d.close = zr, func() error { zr.Close(); return nil }
		}
	case Xz:
		d.r, err = xz.NewReader(newXzGuard(br))
	case Bzip2:
		d.r = bzip2.NewReader(br)
	}
	if errors.Is(err, io.EOF) { // the header itself was cut short
		err = io.ErrUnexpectedEOF
	}
	return d.classify(err)
}

// classify maps a decompressor error to errdefs.ErrCorrupt, unless it
// really is a read error of the source.
func (d *decompressReader) classify(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	if d.src.err != nil && !errors.Is(d.src.err, io.EOF) {
		return d.src.err
	}
	if errors.Is(err, errdefs.ErrLimitExceeded) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errdefs.Newf(errdefs.ErrCorrupt, "%s stream is truncated", d.comp)
	}
	return errdefs.Newf(errdefs.ErrCorrupt, "%s stream is corrupt: %w", d.comp, err)
}
