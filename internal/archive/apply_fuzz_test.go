package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

// FuzzApply extracts arbitrary bytes into a fresh root that already holds
// symlinks pointing out of it (absolute, relative, dangling), in either
// whiteout format. Whatever happens, nothing outside the root may change;
// an accepted stream has Scan's diffID; a stream Scan refuses is refused;
// the file workers give the result of applying in order.
func FuzzApply(f *testing.F) {
	fuzzSeeds(f)
	for _, l := range hostileLayers {
		f.Add(makeTar(f, l.ents...))
	}
	f.Add(makeTar(f, whiteoutLayer...))
	f.Add(makeTar(f, file("abs/secret", "x"), file("rel/secret", "x"), file("up/x", "x"), hardlink("h", "abs/secret")))
	f.Add(makeTar(f, file(".wh.abs", ""), file("rel/.wh..wh..opq", ""), file("abs/.wh.secret", ""), dir("abs/")))
	f.Add(makeTar(f, symlink("l", "/"), file(".wh.l", ""), dir("l/"), file("l/x", "")))
	f.Fuzz(func(t *testing.T, data []byte) {
		requireRoot(t)
		s, root := newSentinel(t)
		root2 := filepath.Join(s.parent, "root2")
		for _, r := range []string{root, root2} {
			mustDo(t, os.MkdirAll(r, 0o755))
			mustDo(t, os.Symlink(s.dir, filepath.Join(r, "abs")))
			mustDo(t, os.Symlink("../sentinel", filepath.Join(r, "rel")))
			mustDo(t, os.Symlink("../../..", filepath.Join(r, "up")))
		}
		format := WhiteoutDelete
		if len(data) > 0 && data[len(data)-1]&1 == 1 {
			format = WhiteoutOverlay
		}
		lim := Limits{MaxSize: fuzzLimit, MaxEntries: 1000}
		opts := ApplyOptions{Whiteouts: format, Limits: lim}
		info, err := Apply(root, bytes.NewReader(data), opts)
		_, err2 := applyWorkers(root2, bytes.NewReader(data), opts, 0)
		s.check(t)
		scanned, scanErr := Scan(bytes.NewReader(data), nil, lim)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("with workers: %v; in order: %v", err, err2)
		}
		if err == nil {
			if scanErr != nil || info != scanned {
				t.Fatalf("Apply accepted with %+v, Scan: %+v %v", info, scanned, scanErr)
			}
			if d := diffSnapshots(snapshotTree(t, root2, treeOpts{}), snapshotTree(t, root, treeOpts{})); d != "" {
				t.Fatalf("workers change the result:\n%s", d)
			}
			return
		}
		// Apply may fail on an entry it cannot write (a file where a
		// directory is needed) before it reaches one Scan refuses.
		if scanErr == nil && errors.Is(err, errdefs.ErrCorrupt) {
			t.Fatalf("Apply calls corrupt what Scan accepts: %v", err)
		}
	})
}

// BenchmarkApply extracts a layer of 6,000 files in 60 directories (about
// 35 MB, mostly small files, as in a distribution's /usr), plain and gzip,
// next to GNU tar on the same bytes. Set STRATA_BENCH_DIR=/dev/shm to
// measure the extraction rather than the disk.
func BenchmarkApply(b *testing.B) {
	requireRoot(b)
	raw := fileLayer(b, 6000)
	gz := compress(b, Gzip, raw)
	b.Logf("layer %d bytes, gzip %d", len(raw), len(gz))
	run := func(src []byte, apply func(dir string, src []byte) error) func(b *testing.B) {
		return func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			base := benchDir(b)
			i := 0
			for b.Loop() {
				dir := filepath.Join(base, strconv.Itoa(i))
				i++
				if err := os.Mkdir(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				if err := apply(dir, src); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := os.RemoveAll(dir); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/6000, "ns/file")
		}
	}
	strata := func(dir string, src []byte) error {
		_, err := Apply(dir, bytes.NewReader(src), ApplyOptions{})
		return err
	}
	b.Run("plain", run(raw, strata))
	b.Run("gzip", run(gz, strata))
	b.Run("overlay-format", run(raw, func(dir string, src []byte) error {
		_, err := Apply(dir, bytes.NewReader(src), ApplyOptions{Whiteouts: WhiteoutOverlay})
		return err
	}))
	if _, err := exec.LookPath("tar"); err == nil {
		b.Run("peer-gnu-tar", run(raw, func(dir string, src []byte) error {
			cmd := exec.Command("tar", "-x", "--same-owner", "-p", "--xattrs", "-C", dir)
			cmd.Stdin = bytes.NewReader(src)
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("%w: %s", err, out)
			}
			return nil
		}))
	}
}

// benchDir is where BenchmarkApply extracts: $STRATA_BENCH_DIR (say, a
// tmpfs, to leave a slow disk out of the numbers) or a temporary directory.
func benchDir(b *testing.B) string {
	if d := os.Getenv("STRATA_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "bench")
		mustDo(b, err)
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

// fileLayer is a layer of n files in directories of 100, sizes mostly small.
func fileLayer(b *testing.B, n int) []byte {
	rng := rand.New(rand.NewSource(6000))
	pool := sampleData(4 << 20)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < n; i++ {
		if i%100 == 0 {
			mustDo(b, tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/share/d%d/", i/100), Typeflag: tar.TypeDir, Mode: 0o755}))
		}
		size := rng.Intn(8 << 10)
		if i%50 == 0 {
			size = 64<<10 + rng.Intn(256<<10)
		}
		off := rng.Intn(len(pool) - size)
		mustDo(b, tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/share/d%d/f%d", i/100, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(size)}))
		_, err := tw.Write(pool[off : off+size])
		mustDo(b, err)
	}
	mustDo(b, tw.Close())
	return buf.Bytes()
}
