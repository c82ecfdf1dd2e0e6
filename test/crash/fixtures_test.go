package crash

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixtures are the inputs every test shares, generated once.
type fixtures struct {
	dir string

	importTar    string // ~30 MB root filesystem tar
	importDiffID string // sha256 of importTar

	archive   string // `strata save` of a 4-layer image (two tags) and a 1-layer image
	archiveGz string // archive, gzip-compressed
	want      map[string]imageWant

	small        []string // tiny layer tars for the concurrency test
	smallDiffIDs map[string]bool
}

// imageWant is what a complete image looks like.
type imageWant struct {
	tags    []string // familiar names, sorted
	diffIDs []string
}

var (
	fixOnce sync.Once
	fix     *fixtures
	fixErr  error
)

// getFixtures generates the shared inputs on first use.
func getFixtures(t *testing.T) *fixtures {
	t.Helper()
	fixOnce.Do(func() {
		start := time.Now()
		fix, fixErr = makeFixtures(t)
		t.Logf("fixtures generated in %v", time.Since(start).Round(time.Millisecond))
	})
	if fixErr != nil {
		t.Fatalf("generate fixtures: %v", fixErr)
	}
	return fix
}

func removeFixtures() {
	if fix != nil {
		os.RemoveAll(fix.dir)
	}
}

func makeFixtures(t *testing.T) (*fixtures, error) {
	dir, err := os.MkdirTemp("", "strata-crash-")
	if err != nil {
		return nil, err
	}
	f := &fixtures{dir: dir, smallDiffIDs: map[string]bool{}}
	f.importTar = filepath.Join(dir, "rootfs.tar")
	if f.importDiffID, err = writeLayer(f.importTar, 1, "rootfs", 30<<20); err != nil {
		return f, err
	}
	for i := range 6 {
		p := filepath.Join(dir, fmt.Sprintf("small%d.tar", i))
		d, err := writeLayer(p, uint64(100+i), fmt.Sprintf("small%d", i), 96<<10)
		if err != nil {
			return f, err
		}
		f.small = append(f.small, p)
		f.smallDiffIDs[d] = true
	}
	if err := f.makeArchive(t); err != nil {
		return f, err
	}
	return f, nil
}

// makeArchive writes a 4-layer docker-archive by hand, loads it into a
// scratch store next to an imported single-layer image and saves both with
// strata, so the archive the tests load is one strata itself wrote.
func (f *fixtures) makeArchive(t *testing.T) error {
	var layers []string
	var diffIDs []string
	for i := range 4 {
		p := filepath.Join(f.dir, fmt.Sprintf("layer%d.tar", i))
		d, err := writeLayer(p, uint64(10+i), fmt.Sprintf("layer%d", i), 9<<20)
		if err != nil {
			return err
		}
		layers, diffIDs = append(layers, p), append(diffIDs, d)
	}
	hand := filepath.Join(f.dir, "hand.tar")
	if err := writeDockerArchive(hand, layers, diffIDs, []string{"crash/multi:latest", "crash/multi:v1"}); err != nil {
		return err
	}
	single := filepath.Join(f.dir, "single.tar")
	singleDiff, err := writeLayer(single, 20, "single", 5<<20)
	if err != nil {
		return err
	}
	s := newStore(t)
	defer os.RemoveAll(s.root)
	if res := s.run("load", "-i", hand); res.Code != 0 {
		return fmt.Errorf("%s", res)
	}
	if res := s.run("import", single, "crash/single:latest"); res.Code != 0 {
		return fmt.Errorf("%s", res)
	}
	f.archive = filepath.Join(f.dir, "images.tar")
	if res := s.run("save", "-o", f.archive, "crash/multi:latest", "crash/multi:v1", "crash/single:latest"); res.Code != 0 {
		return fmt.Errorf("%s", res)
	}
	imgs, err := listImages(s)
	if err != nil {
		return err
	}
	f.want = map[string]imageWant{}
	for id, tags := range imgs {
		w := imageWant{tags: tags, diffIDs: diffIDs}
		if len(tags) == 1 && tags[0] == "crash/single:latest" {
			w.diffIDs = []string{singleDiff}
		}
		f.want[id] = w
	}
	if len(f.want) != 2 {
		return fmt.Errorf("scratch store lists %d images, want 2: %v", len(imgs), imgs)
	}
	f.archiveGz = f.archive + ".gz"
	return gzipFile(f.archive, f.archiveGz)
}

// writeLayer writes a layer tar of about size bytes under dir prefix:
// files of 64 KiB to 1 MiB, every other one random (incompressible), the
// others repetitive text, plus a symlink. It returns the tar's sha256
// (its diff ID). The same seed gives the same bytes.
func writeLayer(path string, seed uint64, prefix string, size int64) (string, error) {
	out, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer out.Close()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(out, h), 1<<20)
	tw := tar.NewWriter(bw)
	rng := rand.New(rand.NewChaCha8(seedBytes(seed)))
	mtime := time.Unix(1700000000, 0)
	hdr := func(h *tar.Header) error {
		h.ModTime, h.Format = mtime, tar.FormatPAX
		return tw.WriteHeader(h)
	}
	if err := hdr(&tar.Header{Typeflag: tar.TypeDir, Name: prefix + "/", Mode: 0o755}); err != nil {
		return "", err
	}
	buf := make([]byte, 1<<20)
	var written int64
	for i := 0; written < size; i++ {
		n := 64<<10 + rng.IntN(960<<10)
		if rest := size - written; int64(n) > rest {
			n = int(rest)
		}
		fill(buf[:n], rng, i%2 == 0)
		name := fmt.Sprintf("%s/d%d/f%04d", prefix, i%8, i)
		if i < 8 {
			if err := hdr(&tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("%s/d%d/", prefix, i), Mode: 0o755}); err != nil {
				return "", err
			}
		}
		if err := hdr(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(n)}); err != nil {
			return "", err
		}
		if _, err := tw.Write(buf[:n]); err != nil {
			return "", err
		}
		written += int64(n)
	}
	if err := hdr(&tar.Header{Typeflag: tar.TypeSymlink, Name: prefix + "/link", Linkname: "d0/f0000"}); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := bw.Flush(); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), out.Close()
}

func seedBytes(seed uint64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(seed >> (8 * i))
	}
	return b
}

// fill fills b with random bytes, or with text that compresses well.
func fill(b []byte, rng *rand.Rand, random bool) {
	if random {
		for i := 0; i+8 <= len(b); i += 8 {
			v := rng.Uint64()
			for j := range 8 {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		return
	}
	line := fmt.Sprintf("line %d of a compressible file: the quick brown fox jumps over the lazy dog\n", rng.IntN(1000))
	for i := 0; i < len(b); i += len(line) {
		copy(b[i:], line)
	}
}

// writeDockerArchive writes a docker-archive (manifest.json, config, one
// directory per layer) of one image with the given layers and tags.
func writeDockerArchive(path string, layers, diffIDs, tags []string) error {
	created := time.Unix(1700000000, 0).UTC()
	history := make([]map[string]any, len(layers))
	for i := range layers {
		history[i] = map[string]any{"created": created, "created_by": fmt.Sprintf("layer %d", i)}
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": created,
		"config":  map[string]any{"Cmd": []string{"/bin/sh"}},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history": history,
	})
	if err != nil {
		return err
	}
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256(cfg))
	var layerNames []string
	for _, d := range diffIDs {
		layerNames = append(layerNames, strings.TrimPrefix(d, "sha256:")+"/layer.tar")
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": tags, "Layers": layerNames}})
	if err != nil {
		return err
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	bw := bufio.NewWriterSize(out, 1<<20)
	tw := tar.NewWriter(bw)
	writeBytes := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b))}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	if err := writeBytes(cfgName, cfg); err != nil {
		return err
	}
	for i, l := range layers {
		if err := copyFileInto(tw, layerNames[i], l); err != nil {
			return err
		}
	}
	if err := writeBytes("manifest.json", manifest); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return out.Close()
}

func copyFileInto(tw *tar.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: st.Size()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

func gzipFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	zw, err := gzip.NewWriterLevel(out, gzip.BestSpeed)
	if err != nil {
		return err
	}
	if _, err := io.Copy(zw, in); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return out.Close()
}

// listImages returns every image of the store (-a) with its sorted
// familiar tags.
func listImages(s *store) (map[string][]string, error) {
	res := s.run("images", "-a", "--no-trunc", "--format", "{{.ID}}\t{{.Repository}}:{{.Tag}}")
	if res.Code != 0 {
		return nil, fmt.Errorf("%s", res)
	}
	imgs := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		if line == "" {
			continue
		}
		id, name, ok := strings.Cut(line, "\t")
		if !ok || !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
			return nil, fmt.Errorf("images: unexpected line %q", line)
		}
		if _, seen := imgs[id]; !seen {
			imgs[id] = nil
		}
		if name != "<none>:<none>" {
			imgs[id] = append(imgs[id], name)
		}
	}
	for id := range imgs {
		sort.Strings(imgs[id])
	}
	return imgs, nil
}
