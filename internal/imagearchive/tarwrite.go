package imagearchive

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
)

// copyBufferSize is the buffer blobs are streamed through when the
// destination offers no faster path.
const copyBufferSize = 1 << 20

// epoch is the modification time of every entry Save writes.
var epoch = time.Unix(0, 0)

// tarStream writes a tar archive whose file data goes straight to w, so that
// copying a blob file can use copy_file_range or splice (through w's
// ReadFrom) instead of passing every byte through a user-space buffer, as
// archive/tar's Writer would. Headers are encoded by archive/tar.
type tarStream struct {
	w   io.Writer
	hdr bytes.Buffer
	buf []byte
}

func newTarStream(w io.Writer) *tarStream { return &tarStream{w: w} }

// header writes the header blocks of h.
func (t *tarStream) header(h *tar.Header) error {
	h.ModTime, h.Uid, h.Gid = epoch, 0, 0
	t.hdr.Reset()
	if err := tar.NewWriter(&t.hdr).WriteHeader(h); err != nil {
		return fmt.Errorf("tar header for %s: %w", h.Name, err)
	}
	_, err := t.w.Write(t.hdr.Bytes())
	return err
}

// dir writes a directory entry.
func (t *tarStream) dir(name string) error {
	return t.header(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755})
}

// file writes a regular file held in memory.
func (t *tarStream) file(name string, data []byte) error {
	if err := t.header(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))}); err != nil {
		return err
	}
	if _, err := t.w.Write(data); err != nil {
		return err
	}
	return t.pad(int64(len(data)))
}

// copyFile writes a regular file of exactly size bytes read from f.
func (t *tarStream) copyFile(name string, f *os.File, size int64) error {
	if err := t.header(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size}); err != nil {
		return err
	}
	var n int64
	var err error
	if _, ok := t.w.(io.ReaderFrom); ok {
		n, err = io.CopyN(t.w, f, size) // *os.File: copy_file_range or splice
	} else {
		if t.buf == nil {
			t.buf = make([]byte, copyBufferSize)
		}
		// Hide f's WriteTo, which would copy through a 32 KiB buffer.
		n, err = io.CopyBuffer(t.w, io.LimitReader(struct{ io.Reader }{f}, size), t.buf)
	}
	if errors.Is(err, io.EOF) || (err == nil && n < size) {
		return errdefs.Newf(errdefs.ErrCorrupt, "%s: blob file has %d bytes, expected %d", name, n, size)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return t.pad(size)
}

var zeroBlock [1024]byte

// pad fills the last 512-byte block of a file of size bytes.
func (t *tarStream) pad(size int64) error {
	if rest := size % 512; rest != 0 {
		_, err := t.w.Write(zeroBlock[:512-rest])
		return err
	}
	return nil
}

// close writes the two zero blocks that end an archive.
func (t *tarStream) close() error {
	_, err := t.w.Write(zeroBlock[:])
	return err
}
