package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// benchLayer builds a 64 MiB tar shaped like a real rootfs layer: mostly
// small files, some medium, a few large; content about 3:1 compressible.
func benchLayer(b *testing.B) []byte {
	const total = 64 << 20
	rng := rand.New(rand.NewSource(64))
	pool := sampleData(8 << 20)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; buf.Len() < total; i++ {
		var size int
		switch r := rng.Intn(100); {
		case r < 80:
			size = rng.Intn(16 << 10)
		case r < 98:
			size = 64<<10 + rng.Intn(1<<20)
		default:
			size = 4 << 20
		}
		if i%50 == 0 {
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/lib/d%d/", i), Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				b.Fatal(err)
			}
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/lib/l%d", i), Typeflag: tar.TypeSymlink, Linkname: "d0"}); err != nil {
				b.Fatal(err)
			}
		}
		off := rng.Intn(len(pool) - size)
		hdr := &tar.Header{Name: fmt.Sprintf("usr/lib/d%d/file%d.so", i/50*50, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(size)}
		if err := tw.WriteHeader(hdr); err != nil {
			b.Fatal(err)
		}
		if _, err := tw.Write(pool[off : off+size]); err != nil {
			b.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkScan measures Scan on a 64 MiB layer, plain and compressed, next
// to its floor: sha256 alone, and sha256 plus gunzip alone.
func BenchmarkScan(b *testing.B) {
	raw := benchLayer(b)
	gz := compress(b, Gzip, raw)
	zs := compress(b, Zstd, raw)
	b.Logf("layer %d bytes, gzip %d, zstd %d", len(raw), len(gz), len(zs))
	scan := func(src []byte) func(b *testing.B) {
		return func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := Scan(bytes.NewReader(src), nil, Limits{MaxSize: 1 << 30}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("plain", scan(raw))
	b.Run("gzip", scan(gz))
	b.Run("zstd", scan(zs))
	b.Run("floor-sha256", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			sha256.Sum256(raw)
		}
	})
	b.Run("floor-gunzip-sha256", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			zr, err := gzip.NewReader(bytes.NewReader(gz))
			if err != nil {
				b.Fatal(err)
			}
			h := sha256.New()
			if _, err := io.Copy(h, zr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
