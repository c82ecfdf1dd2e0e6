package archive

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// applyWorkers is Apply with a given number of file workers (0: in order).
func applyWorkers(dir string, r io.Reader, opts ApplyOptions, workers int) (LayerInfo, error) {
	a, err := newApplier(dir, ".", opts.Limits)
	if err != nil {
		return LayerInfo{}, err
	}
	defer a.r.close()
	a.whiteouts, a.format, a.workers = true, opts.Whiteouts, workers
	if empty, err := isEmptyDir(a.r.fd()); err != nil {
		return LayerInfo{}, err
	} else if !empty {
		a.written = make(map[string]uint8)
	}
	return a.run(r)
}

// randomLayer is a layer over a small set of names, so that entries
// replace each other, hard-link each other, and whiteouts hit them.
func randomLayer(t *testing.T, rng *rand.Rand) []byte {
	leaves := []string{"f", "g", "a/x", "a/y", "b/x", "c/d/e"}
	dirs := []string{"a", "b", "c", "c/d"}
	pick := func(main, other []string) string {
		if rng.Intn(10) == 0 {
			return other[rng.Intn(len(other))]
		}
		return main[rng.Intn(len(main))]
	}
	var ents []ent
	var files []string
	for range 5 + rng.Intn(40) {
		switch r := rng.Intn(100); {
		case r < 50:
			n := pick(leaves, dirs)
			size := rng.Intn(300)
			if rng.Intn(10) == 0 {
				size = asyncMaxSize + rng.Intn(1000)
			}
			ents = append(ents, owned(file(n, strings.Repeat(string(rune('a'+rng.Intn(26))), size)), rng.Intn(3), 0, 0o600+int64(rng.Intn(0o177)), t1))
			files = append(files, n)
		case r < 62:
			ents = append(ents, owned(dir(pick(dirs, leaves)+"/"), 0, 0, 0o755, t2))
		case r < 70:
			ents = append(ents, symlink(leaves[rng.Intn(len(leaves))], pick(dirs, leaves)))
		case r < 78 && len(files) > 0:
			ents = append(ents, hardlink(leaves[rng.Intn(len(leaves))], files[rng.Intn(len(files))]))
		case r < 92:
			d, b := filepath.Split(pick(leaves, dirs))
			ents = append(ents, file(d+whiteoutPrefix+b, ""))
		default:
			ents = append(ents, file(dirs[rng.Intn(len(dirs))]+"/"+whiteoutOpaque, ""))
		}
	}
	return makeTar(t, ents...)
}

// TestApplyWorkersKeepOrder: the file workers give the tree the stream
// gives when applied in order, for layers made to conflict.
func TestApplyWorkersKeepOrder(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	rng := rand.New(rand.NewSource(1))
	populate := func(dir string) { // a non-empty target, as vfs gives
		for _, p := range []string{"a/y", "b/x", "c/d/e", "c/z", "keep"} {
			writeFile(t, filepath.Join(dir, p), p, 0o644)
			mustDo(t, os.Chtimes(filepath.Join(dir, p), t1, t1))
		}
		mustDo(t, os.Symlink("a", filepath.Join(dir, "c/l")))
	}
	const layers = 100
	compared := 0
	for i := range layers {
		layer := randomLayer(t, rng)
		format := WhiteoutFormat(i % 2)
		var trees [2]map[string]entryInfo
		var errs [2]error
		for k, workers := range []int{0, 3} {
			dst := t.TempDir()
			if i%3 != 0 {
				populate(dst)
			}
			_, errs[k] = applyWorkers(dst, bytes.NewReader(layer), ApplyOptions{Whiteouts: format}, workers)
			trees[k] = snapshotTree(t, dst, treeOpts{})
		}
		if (errs[0] == nil) != (errs[1] == nil) {
			t.Fatalf("layer %d: in order: %v; with workers: %v\n%s", i, errs[0], errs[1], listTar(t, layer))
		}
		if errs[0] != nil {
			continue
		}
		compared++
		if d := diffSnapshots(trees[0], trees[1]); d != "" {
			t.Fatalf("layer %d: workers change the result:\n%s\n%s", i, d, listTar(t, layer))
		}
	}
	t.Logf("%d of %d random layers applied and compared", compared, layers)
	if compared < layers/3 {
		t.Fatalf("only %d of %d random layers applied", compared, layers)
	}
}

func listTar(t *testing.T, raw []byte) string {
	var b strings.Builder
	for _, e := range readTar(t, raw) {
		fmt.Fprintf(&b, "  %c %s -> %s (%d)\n", e.Type, e.Name, e.Link, e.Size)
	}
	return b.String()
}
