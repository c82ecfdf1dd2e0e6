package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/gzip"

	"github.com/strata-dev/strata/internal/errdefs"
)

// richLayer has every accepted kind of entry, long names, a PAX global
// header, files that cross the 1 MiB buffers, and trailing padding after
// the end-of-archive blocks. It returns the stream and its entry count.
func richLayer(t testing.TB) ([]byte, int) { return layerOf(t, 1<<20+12345, 300000) }

// layerOf is richLayer with files "big.bin" and "medium" of the given sizes.
func layerOf(t testing.TB, big, medium int) ([]byte, int) {
	long := strings.Repeat("deep/", 40) + "file"
	global := ent{hdr: tar.Header{Name: "pax_global_header", Typeflag: tar.TypeXGlobalHeader,
		PAXRecords: map[string]string{"comment": "git archive"}}}
	ents := []ent{
		global,
		dir("./"),
		dir("./etc/"),
		file("etc//hosts", "127.0.0.1 localhost\n"),
		file("etc/empty", ""),
		file("big.bin", string(sampleData(big))),
		symlink("etc/localtime", "/usr/share/zoneinfo/UTC"),
		symlink("up", "../../../../.."),
		hardlink("etc/hosts2", "./etc/hosts"),
		special("run/fifo", tar.TypeFifo),
		file("usr/.wh.old", ""),
		file("opt/.wh..wh..opq", ""),
		file(long, "long name"),
		file("a/../b", "cleans to b"),
		file("medium", string(sampleData(medium))),
	}
	raw := makeTar(t, ents...)
	// Like GNU tar's 10 KiB records: zeros up to the record size.
	raw = append(raw, make([]byte, 10240-len(raw)%10240)...)
	return raw, len(ents) - 1
}

func TestScanDiffID(t *testing.T) {
	raw, n := richLayer(t)
	want := sha256Digest(raw)
	for _, c := range allCompressions {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			var tee bytes.Buffer
			info, err := Scan(bytes.NewReader(compress(t, c, raw)), &tee, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if info.DiffID != want || info.Size != int64(len(raw)) || info.Entries != n || info.Compression != c {
				t.Fatalf("got %+v, want diffID %s size %d entries %d compression %v", info, want, len(raw), n, c)
			}
			if !bytes.Equal(tee.Bytes(), raw) {
				t.Fatalf("tee output (%d bytes) differs from the uncompressed stream (%d)", tee.Len(), len(raw))
			}
		})
	}
}

func TestScanOddReaders(t *testing.T) {
	raw := makeTar(t, file("a", "hello"), dir("d/"), file("d/b", string(sampleData(5000))))
	gz := compress(t, Gzip, raw)
	readers := map[string]io.Reader{
		"one byte":       iotest.OneByteReader(bytes.NewReader(raw)),
		"data with EOF":  iotest.DataErrReader(bytes.NewReader(raw)),
		"half reads":     iotest.HalfReader(bytes.NewReader(raw)),
		"gzip one byte":  iotest.OneByteReader(bytes.NewReader(gz)),
		"gzip with EOF":  iotest.DataErrReader(bytes.NewReader(gz)),
		"empty stream":   bytes.NewReader(nil),
		"end blocks":     bytes.NewReader(make([]byte, 1024)),
		"no end blocks":  bytes.NewReader(raw[:len(raw)-1024]),
		"only padding 1": bytes.NewReader(make([]byte, 10240)),
	}
	for name, r := range readers {
		var tee bytes.Buffer
		info, err := Scan(r, &tee, Limits{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if info.DiffID != sha256Digest(tee.Bytes()) || info.Size != int64(tee.Len()) {
			t.Errorf("%s: %+v does not describe the %d bytes read", name, info, tee.Len())
		}
	}
}

func TestScanEmptyLayer(t *testing.T) {
	info, err := Scan(bytes.NewReader(nil), nil, Limits{})
	if err != nil || info.Entries != 0 || info.Size != 0 || info.DiffID != sha256Digest(nil) {
		t.Fatalf("got %+v, %v", info, err)
	}
}

func TestEntryErrorMessage(t *testing.T) {
	err := error(&EntryError{Entry: "../etc/passwd", Reason: "path escapes the root"})
	if got := err.Error(); got != `entry "../etc/passwd": path escapes the root` {
		t.Fatalf("Error() = %q", got)
	}
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatal("not ErrInvalidArgument")
	}
}

func TestScanRefuses(t *testing.T) {
	cases := []struct {
		name   string
		ents   []ent
		entry  string
		reason string
	}{
		{"dot-dot", []ent{file("ok", ""), file("../etc/passwd", "x")}, "../etc/passwd", "path escapes the root"},
		{"dot-dot inside", []ent{file("a/../../x", "")}, "a/../../x", "path escapes the root"},
		{"bare dot-dot dir", []ent{dir("../")}, "../", "path escapes the root"},
		{"absolute", []ent{file("/etc/x", "")}, "/etc/x", "absolute path"},
		{"empty name", []ent{file("", "x")}, "", "empty name"},
		{"char device", []ent{special("dev/null", tar.TypeChar)}, "dev/null", "device node"},
		{"block device", []ent{special("dev/sda", tar.TypeBlock)}, "dev/sda", "device node"},
		{"contiguous file", []ent{special("c", tar.TypeCont)}, "c", "unsupported entry type"},
		{"unknown type", []ent{special("z", 'Z')}, "z", "unsupported entry type"},
		{"hard link absolute", []ent{hardlink("x", "/etc/shadow")}, "x", "hard link target is an absolute path"},
		{"hard link escapes", []ent{hardlink("x", "a/../../etc/shadow")}, "x", "hard link target escapes the root"},
		{"hard link no target", []ent{hardlink("x", "")}, "x", "hard link has no target"},
		{"symlink no target", []ent{symlink("x", "")}, "x", "symlink has an empty target"},
		{"through symlink", []ent{symlink("a", "/etc"), file("a/passwd", "x")}, "a/passwd", `writes through symlink "a"`},
		{"through symlink dir", []ent{symlink("a", "b"), dir("a/b/")}, "a/b/", `writes through symlink "a"`},
		{"through nested symlink", []ent{dir("d/"), symlink("d/l", "/"), file("d/l/x/y", "")}, "d/l/x/y", `writes through symlink "d/l"`},
		{"through unclean symlink", []ent{symlink("./a/", "/"), file("a//x", "")}, "a//x", `writes through symlink "a"`},
		{"through symlink cleaned", []ent{symlink("a", "/"), file("b/../a/x", "")}, "b/../a/x", `writes through symlink "a"`},
		{"symlink under symlink", []ent{symlink("a", "/"), symlink("a/b", "/etc")}, "a/b", `writes through symlink "a"`},
		{"hard link path through symlink", []ent{file("f", ""), symlink("a", "/etc"), hardlink("a/x", "f")}, "a/x", `writes through symlink "a"`},
		{"hard link target through symlink", []ent{symlink("a", "/etc"), hardlink("x", "a/shadow")}, "x", `hard link target goes through symlink "a"`},
		{"hard link to symlink", []ent{symlink("a", "/etc"), hardlink("b", "a"), file("b/passwd", "")}, "b/passwd", `writes through symlink "b"`},
		{"whiteout keeps symlink", []ent{symlink("a", "/etc"), file(".wh.a", ""), file("a/x", "")}, "a/x", `writes through symlink "a"`},
		{"whiteout of parent", []ent{file("d/.wh..", "")}, "d/.wh..", "whiteout names no file"},
		{"whiteout of nothing", []ent{file(".wh.", "")}, ".wh.", "whiteout names no file"},
		{"root as symlink", []ent{symlink("./", "/")}, "./", "the root entry must be a directory"},
		{"root as file", []ent{file(".", "")}, ".", "the root entry must be a directory"},
		{"first refusal wins", []ent{file("ok", ""), special("dev/x", tar.TypeChar), file("/abs", "")}, "dev/x", "device node"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Scan(bytes.NewReader(makeTar(t, tc.ents...)), nil, Limits{})
			var ee *EntryError
			if !errors.As(err, &ee) || !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("got %v, want an *EntryError", err)
			}
			if ee.Entry != tc.entry || !strings.Contains(ee.Reason, tc.reason) {
				t.Fatalf("got entry %q reason %q, want entry %q reason %q", ee.Entry, ee.Reason, tc.entry, tc.reason)
			}
		})
	}
}

func TestScanAccepts(t *testing.T) {
	cases := []struct {
		name string
		ents []ent
	}{
		{"symlink replaced by dir", []ent{symlink("a", "/etc"), dir("a/"), file("a/x", "")}},
		{"symlink replaced by file then dir", []ent{symlink("a", "/etc"), file("a", ""), dir("a"), file("a/x", "")}},
		{"symlink replaced by fifo", []ent{symlink("a", "/etc"), special("a", tar.TypeFifo)}},
		{"symlink to symlink", []ent{symlink("a", "/etc"), symlink("b", "a")}},
		{"replaced symlink target", []ent{symlink("a", "/etc"), symlink("a", "/usr")}},
		{"sibling prefix", []ent{symlink("a", "/"), file("ab/x", ""), file("a.d/x", "")}},
		{"hard link to symlink itself", []ent{symlink("a", "/etc"), hardlink("b", "a")}},
		{"hard link replaced", []ent{symlink("a", "/etc"), hardlink("b", "a"), dir("b"), file("b/x", "")}},
		{"symlink loops", []ent{symlink("a", "a"), symlink("b", "../../b")}},
		{"root dot", []ent{dir("."), file("./x", "")}},
		{"dot-dot that stays", []ent{file("a/b/../../c", "")}},
		{"whiteouts", []ent{file(".wh.x", ""), file("d/.wh..wh..opq", ""), file("d/.wh..wh.plnk", ""), file("d/.wh...x", "")}},
	}
	for _, tc := range cases {
		raw := makeTar(t, tc.ents...)
		info, err := Scan(bytes.NewReader(raw), nil, Limits{})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
		} else if info.Entries != len(tc.ents) {
			t.Errorf("%s: %d entries, want %d", tc.name, info.Entries, len(tc.ents))
		}
	}
}

func TestCheckerNUL(t *testing.T) {
	// archive/tar never yields NUL bytes in names, so check the checker.
	for _, h := range []tar.Header{
		{Name: "a\x00b", Typeflag: tar.TypeReg},
		{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "x\x00y"},
		{Name: "h", Typeflag: tar.TypeLink, Linkname: "x\x00y"},
	} {
		var ee *EntryError
		if err := newChecker().check(&h); !errors.As(err, &ee) || !strings.Contains(ee.Reason, "NUL") {
			t.Errorf("%q -> %q: %v, want a NUL refusal", h.Name, h.Linkname, err)
		}
	}
}

func TestScanLimits(t *testing.T) {
	raw, _ := richLayer(t)
	gz := compress(t, Gzip, raw)
	size := int64(len(raw))
	for _, tc := range []struct {
		lim Limits
		ok  bool
	}{
		{Limits{MaxSize: size}, true},
		{Limits{MaxSize: size - 1}, false},     // the trailing padding counts
		{Limits{MaxSize: size - 10000}, false}, // stops in the padding
		{Limits{MaxSize: 1 << 20}, false},      // refused on big.bin's header
		{Limits{MaxSize: 500000}, false},       // stops inside an entry
		{Limits{MaxEntries: 14}, true},
		{Limits{MaxEntries: 13}, false},
	} {
		for _, src := range [][]byte{raw, gz} {
			_, err := Scan(bytes.NewReader(src), nil, tc.lim)
			if tc.ok && err != nil {
				t.Errorf("%+v: %v", tc.lim, err)
			}
			if !tc.ok && !errors.Is(err, errdefs.ErrLimitExceeded) {
				t.Errorf("%+v: got %v, want ErrLimitExceeded", tc.lim, err)
			}
			if !tc.ok && tc.lim.MaxSize > 0 && !strings.Contains(fmt.Sprint(err), fmt.Sprintf("larger than the limit of %d bytes", tc.lim.MaxSize)) {
				t.Errorf("%+v: message %q does not state the limit", tc.lim, err)
			}
		}
	}
}

// TestScanGzipBomb streams 200 MB of zeros, gzip-compressed, as 1 MB files
// through a pipe; with a 10 MB limit Scan must stop long before the end.
func TestScanGzipBomb(t *testing.T) {
	const total, limit = 200 << 20, 10 << 20
	pr, pw := io.Pipe()
	produced := make(chan int64, 1)
	go func() {
		var n int64
		defer func() { produced <- n }()
		zw, _ := gzip.NewWriterLevel(pw, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		zeros := make([]byte, 1<<20)
		for i := 0; n < total; i++ {
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("zero%d", i), Typeflag: tar.TypeReg, Size: int64(len(zeros))}); err != nil {
				return
			}
			if _, err := tw.Write(zeros); err != nil {
				return
			}
			n += int64(len(zeros))
		}
		tw.Close()
		zw.Close()
		pw.Close()
	}()
	_, err := Scan(pr, nil, Limits{MaxSize: limit})
	pr.CloseWithError(errors.New("scan finished"))
	n := <-produced
	if !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("got %v, want ErrLimitExceeded", err)
	}
	if n >= total/4 {
		t.Fatalf("the producer got %d of %d bytes out before Scan stopped", n, total)
	}
	t.Logf("stopped after %d MB of input were produced", n>>20)
}

func TestScanTruncated(t *testing.T) {
	big := sampleData(600000)
	raw := makeTar(t, file("a", "x"), file("big", string(big)), file("c", "y"))
	bigData := 2*512 + 512 // header a, data a, header big
	cases := []struct {
		name string
		c    Compression
		cut  int
		want []string
	}{
		{"plain in entry", Uncompressed, bigData + 1000, []string{`truncated in entry "big"`}},
		{"plain in header", Uncompressed, 1024 + 100, []string{`truncated after entry "a"`}},
		{"plain in first header", Uncompressed, 100, []string{"truncated at the start of the layer"}},
		{"gzip", Gzip, -2, []string{`entry "big"`, "gzip stream is truncated"}},
		{"gzip trailer", Gzip, -3, []string{"gzip stream is truncated"}},
		{"zstd", Zstd, -2, []string{`entry "big"`, "zstd stream is truncated"}},
		{"xz", Xz, -2, []string{`entry "big"`, "xz stream is truncated"}},
		{"bzip2", Bzip2, -2, []string{`entry "big"`, "bzip2 stream is truncated"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := compress(t, tc.c, raw)
			switch tc.cut {
			case -2:
				src = src[:len(src)/2]
			case -3:
				src = src[:len(src)-4]
			default:
				src = src[:tc.cut]
			}
			_, err := Scan(bytes.NewReader(src), nil, Limits{})
			if !errors.Is(err, errdefs.ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestScanCorrupt(t *testing.T) {
	raw := makeTar(t, file("a", string(sampleData(100000))))
	gz := compress(t, Gzip, raw)
	gz[len(gz)-6] ^= 0xff // the CRC, checked only once all data is out
	badSum := bytes.Clone(raw)
	badSum[148] ^= 0x01 // header checksum field
	for name, src := range map[string][]byte{
		"gzip crc":        gz,
		"not a tar":       bytes.Repeat([]byte("hello world\n"), 100),
		"header checksum": badSum,
	} {
		_, err := Scan(bytes.NewReader(src), nil, Limits{})
		if !errors.Is(err, errdefs.ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
}

type failWriter struct{ after int }

var errDiskFull = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after -= len(p); w.after < 0 {
		return 0, errDiskFull
	}
	return len(p), nil
}

func TestScanPassesThroughIOErrors(t *testing.T) {
	raw, _ := richLayer(t)
	boom := errors.New("connection reset")
	for _, c := range []Compression{Uncompressed, Gzip} {
		enc := compress(t, c, raw)
		src := io.MultiReader(bytes.NewReader(enc[:len(enc)/2]), iotest.ErrReader(boom))
		_, err := Scan(src, nil, Limits{})
		if !errors.Is(err, boom) || errors.Is(err, errdefs.ErrCorrupt) {
			t.Errorf("%v source error: got %v, want %v unclassified", c, err, boom)
		}
		_, err = Scan(bytes.NewReader(enc), &failWriter{after: 100000}, Limits{})
		if !errors.Is(err, errDiskFull) {
			t.Errorf("%v tee error: got %v, want %v", c, err, errDiskFull)
		}
	}
}
