package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand"
	"os/exec"
	"testing"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/strata-dev/strata/internal/errdefs"
)

func TestXzDictSize(t *testing.T) {
	for b := byte(0); b <= 40; b++ {
		want, err := lzma.DecodeDictCap(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := xzDictSize(b); got != want {
			t.Errorf("byte %d: %d, lzma package says %d", b, got, want)
		}
	}
}

// xzSamples are streams from the xz CLI (if installed) and the ulikunitz
// writer, covering every container feature the guard follows.
func xzSamples(t *testing.T) map[string][]byte {
	text := sampleData(200 << 10)
	noise := make([]byte, 100<<10)
	rand.New(rand.NewSource(7)).Read(noise) // incompressible: stored LZMA2 chunks
	mixed := append(bytes.Clone(text), noise...)
	out := map[string][]byte{}
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w, mixed)
	out["ulikunitz"] = buf.Bytes()
	if _, err := exec.LookPath("xz"); err != nil {
		t.Log("xz CLI not installed; testing ulikunitz output only")
		return out
	}
	out["cli default"] = runFilter(t, mixed, "xz", "-c")
	out["cli empty"] = runFilter(t, nil, "xz", "-c")
	out["cli -9 64 MiB dict"] = runFilter(t, text[:1000], "xz", "-c", "-9")
	out["cli blocks"] = runFilter(t, mixed, "xz", "-c", "-1", "--block-size=50KiB")
	out["cli threads"] = runFilter(t, mixed, "xz", "-c", "-1", "-T2", "--block-size=32KiB")
	for _, check := range []string{"none", "crc32", "crc64", "sha256"} {
		out["cli check "+check] = runFilter(t, text[:5000], "xz", "-c", "--check="+check)
	}
	out["cli two streams padded"] = append(append(runFilter(t, text[:3000], "xz", "-c"), 0, 0, 0, 0), runFilter(t, noise[:3000], "xz", "-c")...)
	return out
}

// TestXzGuardFollowsValidStreams feeds valid streams in random pieces and
// checks that the guard reaches the end of the structure, in agreement with
// the decoder.
func TestXzGuardFollowsValidStreams(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for name, enc := range xzSamples(t) {
		g := newXzGuard(nil)
		for rest := enc; len(rest) > 0; {
			k := min(len(rest), 1+rng.Intn(5000))
			if err := g.feed(rest[:k]); err != nil {
				t.Fatalf("%s: %v at %d of %d bytes", name, err, len(enc)-len(rest), len(enc))
			}
			rest = rest[k:]
		}
		if g.st != xzStreamPad {
			t.Errorf("%s: guard ended in state %d, not after a stream footer", name, g.st)
		}
		rc, _, err := Decompress(bytes.NewReader(enc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		rc.Close()
	}
}

// setXzDict rewrites the LZMA2 dictionary byte of the block header at off
// (one filter, no size fields, as xz writes it) and fixes the header CRC, so
// that only the guard stands between the stream and the allocation.
func setXzDict(t *testing.T, enc []byte, off int, dict byte) []byte {
	enc = bytes.Clone(enc)
	size := (int(enc[off]) + 1) * 4
	h := enc[off : off+size]
	if h[1] != 0 || h[2] != 0x21 || h[3] != 1 {
		t.Fatalf("unexpected block header % x", h)
	}
	h[4] = dict
	binary.LittleEndian.PutUint32(h[size-4:], crc32.ChecksumIEEE(h[:size-4]))
	return enc
}

func TestXzGuardRefusesHugeDictionary(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("xz CLI not installed")
	}
	first := runFilter(t, sampleData(2000), "xz", "-c")
	second := runFilter(t, sampleData(3000), "xz", "-c")
	cases := map[string][]byte{
		"first block 4 GiB":       setXzDict(t, first, 12, 40),
		"first block 512 MiB":     setXzDict(t, first, 12, 34),
		"second stream 1.5 GiB":   append(bytes.Clone(first), setXzDict(t, second, 12, 37)...),
		"header read in one byte": setXzDict(t, first, 12, 40),
	}
	for name, enc := range cases {
		src := io.Reader(bytes.NewReader(enc))
		if name == "header read in one byte" {
			src = &oneByteReader{r: src}
		}
		rc, _, err := Decompress(src)
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if !errors.Is(err, errdefs.ErrLimitExceeded) || errors.Is(err, errdefs.ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrLimitExceeded", name, err)
		}
	}
	// The cap itself is decoded: 256 MiB is dictionary byte 32.
	rc, _, err := Decompress(bytes.NewReader(setXzDict(t, first, 12, 32)))
	if err == nil {
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
	}
	if err != nil {
		t.Errorf("256 MiB dictionary: %v", err)
	}
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestXzGuardRefusesBrokenStructure(t *testing.T) {
	enc := runFilterOrWriter(t, sampleData(5000))
	bad := bytes.Clone(enc)
	bad[12+(int(enc[12])+1)*4] = 0x05 // the first LZMA2 control byte: invalid
	g := newXzGuard(nil)
	if err := g.feed(bad); !errors.Is(err, errXzStructure) {
		t.Fatalf("got %v, want errXzStructure", err)
	}
	rc, _, err := Decompress(bytes.NewReader(bad))
	if err == nil {
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
	}
	if !errors.Is(err, errdefs.ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
}

func runFilterOrWriter(t *testing.T, data []byte) []byte {
	if _, err := exec.LookPath("xz"); err == nil {
		return runFilter(t, data, "xz", "-c")
	}
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w, data)
	return buf.Bytes()
}
