package transfer

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// gunzip decompresses b, failing the test on a bad stream.
func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGzipStream: the three ways a layer leaves as gzip (a mapped file
// written to, a plain reader written to, and the Read fallback) give the
// same valid stream, counted and reported to the last byte.
func TestGzipStream(t *testing.T) {
	data := append(randomBytes(3<<20+123), bytes.Repeat([]byte("layer text\n"), 100000)...)
	path := filepath.Join(t.TempDir(), "layer")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	open := func() io.Reader {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	cases := map[string]struct {
		src  func() io.Reader
		read bool
	}{
		"file WriteTo":   {src: open},
		"reader WriteTo": {src: func() io.Reader { return bytes.NewReader(data) }},
		"file Read":      {src: open, read: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var last int64
			g := &gzipStream{src: c.src(), report: func(n int64) {
				if n < last {
					t.Errorf("progress went back from %d to %d", last, n)
				}
				last = n
			}}
			var out bytes.Buffer
			var err error
			if c.read {
				_, err = io.Copy(&out, struct{ io.Reader }{g}) // hide WriteTo
			} else {
				var n int64
				n, err = g.WriteTo(&out)
				if n != int64(out.Len()) {
					t.Errorf("WriteTo returned %d, wrote %d", n, out.Len())
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.n != int64(out.Len()) || last != g.n {
				t.Fatalf("counted %d, reported %d, wrote %d", g.n, last, out.Len())
			}
			if out.Len() >= len(data) {
				t.Fatalf("compressed %d bytes to %d", len(data), out.Len())
			}
			if !bytes.Equal(gunzip(t, out.Bytes()), data) {
				t.Fatal("the stream does not decompress to the layer")
			}
		})
	}
}

// TestGzipStreamClose: Close ends a Read fallback half way, and a Read
// after Close fails instead of starting one.
func TestGzipStreamClose(t *testing.T) {
	g := &gzipStream{src: bytes.NewReader(randomBytes(8 << 20)), report: func(int64) {}}
	if _, err := g.Read(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	g.Close()
	if _, err := io.Copy(io.Discard, struct{ io.Reader }{g}); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Read after Close: %v", err)
	}
	fresh := &gzipStream{src: bytes.NewReader([]byte("x")), report: func(int64) {}}
	fresh.Close()
	if _, err := fresh.Read(make([]byte, 10)); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Read of a closed, unread stream: %v", err)
	}
}

// TestGzipStreamSourceError: a failing source fails the stream.
func TestGzipStreamSourceError(t *testing.T) {
	boom := errors.New("disk gone")
	g := &gzipStream{src: io.MultiReader(bytes.NewReader(randomBytes(2<<20)), errReader{boom}), report: func(int64) {}}
	if _, err := g.WriteTo(io.Discard); !errors.Is(err, boom) {
		t.Fatalf("WriteTo = %v, want %v", err, boom)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
