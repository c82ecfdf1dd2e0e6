package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"math/rand"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/strata-dev/strata/internal/errdefs"
)

// sampleData is compressible, but not trivially so, and spans several
// buffers of every decoder.
func sampleData(n int) []byte {
	rng := rand.New(rand.NewSource(int64(n)))
	words := []string{"layer", "strata", "tar ", "\x00\x00\x00", "usr/lib/", "0123456789", "\n"}
	var b bytes.Buffer
	for b.Len() < n {
		if rng.Intn(8) == 0 {
			var r [16]byte
			rng.Read(r[:])
			b.Write(r[:])
		} else {
			b.WriteString(words[rng.Intn(len(words))])
		}
	}
	return b.Bytes()[:n]
}

func TestCompressionString(t *testing.T) {
	want := map[Compression]string{
		Uncompressed: "uncompressed", Gzip: "gzip", Zstd: "zstd", Xz: "xz", Bzip2: "bzip2", Compression(42): "compression(42)",
	}
	for c, s := range want {
		if got := c.String(); got != s {
			t.Errorf("%d.String() = %q, want %q", int(c), got, s)
		}
	}
}

func TestDetectCompression(t *testing.T) {
	data := sampleData(4096)
	for _, c := range allCompressions {
		t.Run(c.String(), func(t *testing.T) {
			if got := DetectCompression(compress(t, c, data)); got != c {
				t.Fatalf("DetectCompression = %v, want %v", got, c)
			}
		})
	}
	bzName := makeTar(t, file("BZh91AY&SY", "not bzip2"))
	cases := []struct {
		name string
		head []byte
		want Compression
	}{
		{"empty", nil, Uncompressed},
		{"one byte of gzip magic", []byte{0x1f}, Uncompressed},
		{"gzip magic only", []byte{0x1f, 0x8b}, Gzip},
		{"zstd skippable frame", []byte{0x5a, 0x2a, 0x4d, 0x18, 0, 0, 0, 0}, Zstd},
		{"BZh without level", []byte("BZhx"), Uncompressed},
		{"tar whose first file looks like bzip2", bzName, Uncompressed},
		{"text", []byte("hello world"), Uncompressed},
	}
	for _, tc := range cases {
		if got := DetectCompression(tc.head); got != tc.want {
			t.Errorf("%s: DetectCompression = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLooksLikeTar(t *testing.T) {
	one := []ent{file("a", "x")}
	for _, f := range []tar.Format{tar.FormatUSTAR, tar.FormatPAX, tar.FormatGNU} {
		e := one[0]
		e.hdr.Format = f
		if raw := makeTar(t, e); !LooksLikeTar(raw) {
			t.Errorf("format %v: not recognised", f)
		}
	}
	if !LooksLikeTar(makeTar(t)) {
		t.Error("empty archive (end blocks only) not recognised")
	}
	raw := makeTar(t, one...)
	for name, head := range map[string][]byte{
		"gzip":      compress(t, Gzip, raw),
		"short":     raw[:511],
		"text":      bytes.Repeat([]byte("not a tar "), 100),
		"no magic":  append(bytes.Repeat([]byte{0}, 257), bytes.Repeat([]byte{1}, 300)...),
		"zero tail": append([]byte{1}, make([]byte, 600)...),
	} {
		if LooksLikeTar(head) {
			t.Errorf("%s: taken for a tar", name)
		}
	}
}

func TestDecompressRoundTrip(t *testing.T) {
	data := sampleData(1<<20 + 300<<10) // more than the 1 MiB buffers
	for _, c := range allCompressions {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			enc := compress(t, c, data)
			// One-byte reads from the source exercise the buffering.
			src := io.Reader(bytes.NewReader(enc))
			if len(enc) < 1<<20 {
				src = iotest.OneByteReader(src)
			}
			rc, got, err := Decompress(src)
			if err != nil {
				t.Fatal(err)
			}
			if got != c {
				t.Fatalf("compression %v, want %v", got, c)
			}
			out, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if err := rc.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, data) {
				t.Fatalf("decompressed %d bytes differ from the %d written", len(out), len(data))
			}
		})
	}
}

func TestDecompressConcatenated(t *testing.T) {
	a, b := sampleData(1000), sampleData(70000)
	for _, c := range []Compression{Gzip, Zstd, Xz, Bzip2} {
		t.Run(c.String(), func(t *testing.T) {
			enc := append(compress(t, c, a), compress(t, c, b)...)
			rc, _, err := Decompress(bytes.NewReader(enc))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			out, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, append(bytes.Clone(a), b...)) {
				t.Fatalf("got %d bytes, want both streams (%d)", len(out), len(a)+len(b))
			}
		})
	}
}

func TestDecompressErrors(t *testing.T) {
	data := sampleData(200000)
	for _, c := range []Compression{Gzip, Zstd, Xz, Bzip2} {
		t.Run(c.String(), func(t *testing.T) {
			enc := compress(t, c, data)
			read := func(b []byte) error {
				rc, _, err := Decompress(bytes.NewReader(b))
				if err != nil {
					return err
				}
				defer rc.Close()
				_, err = io.Copy(io.Discard, rc)
				return err
			}
			for _, cut := range []int{6, len(enc) / 2, len(enc) - 1} {
				err := read(enc[:cut])
				if !errors.Is(err, errdefs.ErrCorrupt) || !strings.Contains(err.Error(), c.String()+" stream is truncated") {
					t.Errorf("cut at %d of %d: %v, want ErrCorrupt %q", cut, len(enc), err, c.String()+" stream is truncated")
				}
			}
			bad := bytes.Clone(enc)
			bad[len(bad)/2] ^= 0x55
			if err := read(bad); !errors.Is(err, errdefs.ErrCorrupt) {
				t.Errorf("flipped byte: %v, want ErrCorrupt", err)
			}
			// A read error of the source is not corrupt data.
			boom := errors.New("connection reset")
			src := io.MultiReader(bytes.NewReader(enc[:len(enc)/2]), iotest.ErrReader(boom))
			rc, _, err := Decompress(src)
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
			}
			if !errors.Is(err, boom) || errors.Is(err, errdefs.ErrCorrupt) {
				t.Errorf("source error: got %v, want %v unclassified", err, boom)
			}
		})
	}
}

func TestDecompressSourceErrorAtStart(t *testing.T) {
	boom := errors.New("no route")
	if _, _, err := Decompress(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Fatalf("got %v, want %v", err, boom)
	}
}

// TestDecompressCloseStopsDecoder checks that Close ends the readahead
// goroutine (it must not read the source after Close) and that Scan,
// refusing a layer early, leaves nothing running.
func TestDecompressCloseStopsDecoder(t *testing.T) {
	enc := compress(t, Gzip, sampleData(4<<20))
	base := runtime.NumGoroutine()
	for range 5 {
		rc, _, err := Decompress(bytes.NewReader(enc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := rc.Read(make([]byte, 10)); err == nil {
			t.Fatal("read after Close succeeded")
		}
		bad := compress(t, Gzip, makeTar(t, file("../x", "")))
		if _, err := Scan(bytes.NewReader(bad), nil, Limits{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("got %v", err)
		}
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Fatalf("%d goroutines left running, %d before", n, base)
	}
}

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

func TestReadaheadGivesUpOnStuckReader(t *testing.T) {
	ra := newReadahead(stuckReader{})
	defer ra.Close()
	if _, err := ra.Read(make([]byte, 10)); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("got %v, want io.ErrNoProgress", err)
	}
}
