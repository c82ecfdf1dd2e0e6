package archive

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Limits bounds what Scan accepts from one stream.
type Limits struct {
	MaxSize    int64 // max uncompressed bytes of one stream; 0 = unlimited. Exceeding => ErrLimitExceeded
	MaxEntries int   // 0 = unlimited
}

// LayerInfo describes a scanned layer.
type LayerInfo struct {
	DiffID      digest.Digest // sha256 of the whole uncompressed stream
	Size        int64         // uncompressed bytes, end-of-archive blocks and trailing padding included
	Entries     int           // tar entries, PAX global headers not counted
	Compression Compression
}

// Scan reads a (possibly compressed) layer tar to its very end, validates
// every entry and returns the layer's diffID: the sha256 of the whole
// uncompressed stream, including the end-of-archive blocks and any data
// after them. If out is not nil, the uncompressed bytes are also written to
// out in the same pass.
//
// A refused entry is an *EntryError (errdefs.ErrInvalidArgument); a stream
// over a limit is errdefs.ErrLimitExceeded and stops reading at once; a
// truncated or undecodable stream is errdefs.ErrCorrupt. Read errors of r
// and write errors of out pass through. On error, only the Compression of
// the returned LayerInfo is set, and out may have received part of the
// stream. A tar that ends without end-of-archive blocks is accepted, as
// archive/tar (and Docker) accept it.
func Scan(r io.Reader, out io.Writer, lim Limits) (LayerInfo, error) {
	return scanStream(r, out, lim, nil)
}

// entryFunc is what a scan does with an accepted entry besides checking it
// (Apply writes it out): p is the cleaned entry name and data reads the
// entry's content. A read error of data is reported as Scan would report it,
// whatever entryFunc returns.
type entryFunc func(hdr *tar.Header, p string, data io.Reader) error

// scanStream is Scan, calling apply (if not nil) for every accepted entry.
func scanStream(r io.Reader, out io.Writer, lim Limits, apply entryFunc) (LayerInfo, error) {
	rc, comp, err := Decompress(r)
	if err != nil {
		return LayerInfo{Compression: comp}, err
	}
	defer rc.Close()

	m := &meter{r: rc, h: sha256.New(), out: out, max: lim.MaxSize}
	s := &scan{
		m:     m,
		br:    bufio.NewReaderSize(m, bufSize),
		lim:   lim,
		check: newChecker(),
		apply: apply,
	}
	if err := s.run(); err != nil {
		return LayerInfo{Compression: comp}, err
	}
	return LayerInfo{
		DiffID:      digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(m.h.Sum(nil))),
		Size:        m.n,
		Entries:     s.entries,
		Compression: comp,
	}, nil
}

// scan is the state of one Scan call.
type scan struct {
	m       *meter
	br      *bufio.Reader
	lim     Limits
	check   *checker
	entries int
	last    string // name of the last entry returned by the tar reader
	apply   entryFunc
	data    dataReader
}

// dataReader reads an entry's content for an entryFunc and remembers the
// first read error, so that it is classified as a stream error.
type dataReader struct {
	r   io.Reader
	err error
}

func (d *dataReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF && d.err == nil {
		d.err = err
	}
	return n, err
}

func (s *scan) run() error {
	tr := tar.NewReader(s.br)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) { // Scan judges names itself.
			return s.headerError(err)
		}
		s.last = hdr.Name
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // PAX global metadata, not a file.
		}
		if err := s.entry(tr, hdr); err != nil {
			return err
		}
	}
	// Drain what follows the end-of-archive blocks: it is part of the diffID
	// and counts against the size limit.
	if _, err := io.Copy(io.Discard, s.br); err != nil {
		return s.streamError(err, "after the end of the archive")
	}
	return nil
}

// entry validates one entry and reads through its data.
func (s *scan) entry(tr *tar.Reader, hdr *tar.Header) error {
	s.entries++
	if s.lim.MaxEntries > 0 && s.entries > s.lim.MaxEntries {
		return errdefs.Newf(errdefs.ErrLimitExceeded, "layer has more than %d entries", s.lim.MaxEntries)
	}
	p, err := s.check.checkEntry(hdr)
	if err != nil {
		return err
	}
	// The stored part of sparse files is small, their logical size may be
	// huge: only the stream's size limit applies to them.
	if hdr.Typeflag == tar.TypeReg && !isSparse(hdr) && s.lim.MaxSize > 0 && hdr.Size > s.lim.MaxSize {
		return errdefs.Newf(errdefs.ErrLimitExceeded, "layer is larger than the limit of %d bytes (entry %q alone has %d)",
			s.lim.MaxSize, hdr.Name, hdr.Size)
	}
	if s.apply != nil {
		s.data = dataReader{r: tr}
		err := s.apply(hdr, p, &s.data)
		if s.data.err != nil {
			return s.streamError(s.data.err, fmt.Sprintf("in entry %q", hdr.Name))
		}
		return err
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 || isSparse(hdr) {
		return nil // other data is skipped by the next tr.Next
	}
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return s.streamError(err, fmt.Sprintf("in entry %q", hdr.Name))
	}
	return nil
}

// headerError explains a failure of tar.Reader.Next.
func (s *scan) headerError(err error) error {
	where := "at the start of the layer"
	if s.last != "" {
		where = fmt.Sprintf("after entry %q", s.last)
	}
	if s.m.failed() || errors.Is(err, io.ErrUnexpectedEOF) {
		return s.streamError(err, where)
	}
	return errdefs.Newf(errdefs.ErrCorrupt, "invalid tar header %s: %v", where, err)
}

// streamError explains a read failure at where (`in entry "x"`): as
// "gzip stream is truncated in entry "x"" when the decompressor, source or
// tee failed, as "layer is truncated in entry "x"" when the tar is cut short.
func (s *scan) streamError(err error, where string) error {
	if s.m.failed() {
		err = s.m.err // the tar reader may have replaced it
		if errors.Is(err, errdefs.ErrLimitExceeded) {
			return err
		}
		return fmt.Errorf("%w %s", err, where)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errdefs.Newf(errdefs.ErrCorrupt, "layer is truncated %s", where)
	}
	return errdefs.Newf(errdefs.ErrCorrupt, "reading the layer %s: %w", where, err)
}

// isSparse reports a GNU sparse file (old GNU format or PAX records).
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// meter counts, hashes and tees the uncompressed stream, and stops it at the
// size limit. Its errors are sticky.
type meter struct {
	r   io.Reader
	h   hash.Hash
	out io.Writer
	n   int64
	max int64
	err error
}

func (m *meter) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	if m.max > 0 {
		// Never ask for more than one byte past the limit.
		if rest := m.max - m.n + 1; int64(len(p)) > rest {
			p = p[:rest]
		}
	}
	n, err := m.r.Read(p)
	if n > 0 {
		m.n += int64(n)
		if m.max > 0 && m.n > m.max {
			m.err = errdefs.Newf(errdefs.ErrLimitExceeded, "layer is larger than the limit of %d bytes", m.max)
			return 0, m.err
		}
		m.h.Write(p[:n])
		if m.out != nil {
			if _, werr := m.out.Write(p[:n]); werr != nil {
				m.err = fmt.Errorf("writing the uncompressed layer: %w", werr)
				return 0, m.err
			}
		}
	}
	if err != nil {
		m.err = err
	}
	return n, err
}

// failed reports an error below the tar reader (limit, decompression,
// source or tee), as opposed to a malformed tar.
func (m *meter) failed() bool { return m.err != nil && !errors.Is(m.err, io.EOF) }
