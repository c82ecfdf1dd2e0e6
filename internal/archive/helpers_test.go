package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os/exec"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	"github.com/ulikunitz/xz"
)

// ent is one tar entry to write: a header and, for regular files, a body.
type ent struct {
	hdr  tar.Header
	body []byte
}

func file(name, body string) ent {
	return ent{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, body: []byte(body)}
}

func dir(name string) ent {
	return ent{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
}

func symlink(name, target string) ent {
	return ent{hdr: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string) ent {
	return ent{hdr: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target, Mode: 0o644}}
}

func special(name string, typ byte) ent {
	return ent{hdr: tar.Header{Name: name, Typeflag: typ, Mode: 0o600}}
}

// makeTar writes ents with archive/tar, end-of-archive blocks included.
func makeTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("writing header %q: %v", h.Name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatalf("writing body %q: %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compress encodes raw with c, using an encoder independent of the decoder
// under test where one is at hand.
func compress(t testing.TB, c Compression, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch c {
	case Uncompressed:
		return raw
	case Gzip:
		w := gzip.NewWriter(&buf)
		mustWrite(t, w, raw)
	case Zstd:
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, w, raw)
	case Xz:
		if _, err := exec.LookPath("xz"); err == nil {
			return runFilter(t, raw, "xz", "-c", "-1")
		}
		w, err := xz.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, w, raw)
	case Bzip2:
		if _, err := exec.LookPath("bzip2"); err != nil {
			t.Skip("bzip2 CLI not installed; the standard library has no bzip2 writer")
		}
		return runFilter(t, raw, "bzip2", "-c", "-1")
	default:
		t.Fatalf("no encoder for %v", c)
	}
	return buf.Bytes()
}

type writeCloser interface {
	Write([]byte) (int, error)
	Close() error
}

func mustWrite(t testing.TB, w writeCloser, b []byte) {
	t.Helper()
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func runFilter(t testing.TB, in []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

func sha256Digest(b []byte) digest.Digest {
	sum := sha256.Sum256(b)
	return digest.Digest("sha256:" + hex.EncodeToString(sum[:]))
}

var allCompressions = []Compression{Uncompressed, Gzip, Zstd, Xz, Bzip2}
