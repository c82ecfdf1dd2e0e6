package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

const fuzzLimit = 1 << 20

func fuzzSeeds(f *testing.F) {
	raw, _ := layerOf(f, 3000, 700)
	f.Add(raw)
	small := makeTar(f, dir("d/"), file("d/a", "x"), symlink("l", "/etc"), hardlink("h", "d/a"), file(".wh.z", ""))
	f.Add(small)
	for _, c := range []Compression{Gzip, Zstd, Xz} {
		f.Add(compress(f, c, small))
	}
	f.Add(makeTar(f, symlink("a", "/etc"), file("a/passwd", "x")))
	f.Add(makeTar(f, hardlink("x", "../../etc/shadow")))
	f.Add(makeTar(f, special("dev/null", tar.TypeChar)))
	f.Add(makeTar(f, file("/abs", ""), file("../up", "")))
	f.Add(small[:700])
	f.Add([]byte{})
	f.Add(make([]byte, 1024))
}

// FuzzScan feeds arbitrary bytes to Scan. It must never panic; a refusal
// must be classified; and an accepted stream must, read again independently,
// have the reported diffID, size and entry count and hold only safe entries.
func FuzzScan(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Scan(bytes.NewReader(data), nil, Limits{MaxSize: fuzzLimit, MaxEntries: 10000})
		if err != nil {
			var ee *EntryError
			switch {
			case errors.Is(err, errdefs.ErrInvalidArgument):
				if !errors.As(err, &ee) {
					t.Fatalf("ErrInvalidArgument that is no *EntryError: %v", err)
				}
			case errors.Is(err, errdefs.ErrCorrupt), errors.Is(err, errdefs.ErrLimitExceeded):
			default:
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		rc, _, err := Decompress(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Scan accepted what Decompress refuses: %v", err)
		}
		defer rc.Close()
		raw, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("Scan accepted what Decompress cannot read: %v", err)
		}
		if info.DiffID != sha256Digest(raw) || info.Size != int64(len(raw)) {
			t.Fatalf("info %+v does not match the %d decompressed bytes", info, len(raw))
		}
		n := checkSafe(t, raw)
		if n != info.Entries {
			t.Fatalf("Scan counted %d entries, a plain read finds %d", info.Entries, n)
		}
	})
}

// checkSafe re-reads an accepted tar and checks every entry with a naive,
// separate statement of the rules. It returns the number of entries.
func checkSafe(t *testing.T, raw []byte) int {
	tr := tar.NewReader(bytes.NewReader(raw))
	var links []string // symlinks so far, cleaned
	under := func(p string) string {
		for _, l := range links {
			if strings.HasPrefix(p, l+"/") {
				return l
			}
		}
		return ""
	}
	n := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return n
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			t.Fatalf("accepted stream fails to re-read: %v", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		n++
		name := hdr.Name
		p := path.Clean(name)
		if name == "" || strings.ContainsRune(name, 0) || path.IsAbs(name) || p == ".." || strings.HasPrefix(p, "../") {
			t.Fatalf("accepted unsafe name %q", name)
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeGNUSparse, tar.TypeDir, tar.TypeFifo, tar.TypeSymlink:
		case tar.TypeLink:
			lt := path.Clean(hdr.Linkname)
			if path.IsAbs(hdr.Linkname) || lt == ".." || strings.HasPrefix(lt, "../") || under(lt) != "" {
				t.Fatalf("accepted unsafe hard link %q -> %q", name, hdr.Linkname)
			}
		default:
			t.Fatalf("accepted entry %q of type %q", name, hdr.Typeflag)
		}
		if l := under(p); l != "" {
			t.Fatalf("accepted %q written through symlink %q", name, l)
		}
		linked := hdr.Typeflag == tar.TypeLink && containsString(links, path.Clean(hdr.Linkname))
		links = removeString(links, p)
		if hdr.Typeflag == tar.TypeSymlink || linked {
			links = append(links, p)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func removeString(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// FuzzDecompress feeds arbitrary bytes to Decompress: no panic, every
// failure is ErrCorrupt (the source never fails here), and data that is not
// compressed comes out unchanged.
func FuzzDecompress(f *testing.F) {
	data := sampleData(5000)
	for _, c := range []Compression{Gzip, Zstd, Xz, Bzip2} {
		if c == Bzip2 {
			if enc, ok := tryCompressBzip2(f, data); ok {
				f.Add(enc)
			}
			continue
		}
		enc := compress(f, c, data)
		f.Add(enc)
		f.Add(enc[:len(enc)/2])
	}
	f.Add([]byte("plain text"))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		// Every failure is classified: corrupt data, or a resource limit
		// (the xz dictionary guard).
		classified := func(err error) bool {
			return errors.Is(err, errdefs.ErrCorrupt) || errors.Is(err, errdefs.ErrLimitExceeded)
		}
		rc, c, err := Decompress(bytes.NewReader(in))
		if err != nil {
			if !classified(err) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		defer rc.Close()
		var out bytes.Buffer
		_, err = io.Copy(&out, io.LimitReader(rc, fuzzLimit))
		if err != nil && !classified(err) {
			t.Fatalf("unclassified error: %v", err)
		}
		if c == Uncompressed && !bytes.Equal(out.Bytes(), in) {
			t.Fatal("uncompressed data changed")
		}
	})
}

// tryCompressBzip2 compresses with the bzip2 CLI when it is installed.
func tryCompressBzip2(f *testing.F, data []byte) ([]byte, bool) {
	if _, err := exec.LookPath("bzip2"); err != nil {
		return nil, false
	}
	return runFilter(f, data, "bzip2", "-c"), true
}

// FuzzXzGuard: the guard never panics, and its verdict does not depend on
// how the stream is split into reads.
func FuzzXzGuard(f *testing.F) {
	for _, n := range []int{0, 100, 70000} {
		enc := compress(f, Xz, sampleData(n))
		f.Add(enc, uint16(7))
		f.Add(enc[:len(enc)/2], uint16(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		whole := newXzGuard(nil).feed(data)
		g := newXzGuard(nil)
		var split error
		for rest, k := data, int(step%512)+1; len(rest) > 0 && split == nil; rest = rest[min(k, len(rest)):] {
			split = g.feed(rest[:min(k, len(rest))])
		}
		if (whole == nil) != (split == nil) {
			t.Fatalf("whole: %v, in pieces of %d: %v", whole, int(step%512)+1, split)
		}
	})
}
