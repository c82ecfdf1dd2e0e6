// Command benchgen writes the inputs of scripts/bench.sh: a multi-layer
// docker-archive, a root filesystem tar and an archive of many tiny images.
// Its output depends only on its flags (seeded pseudo-random data), so runs
// compare like with like.
//
//	benchgen image  -o FILE [-layers 5] [-size 500] [-tag bench/big:latest]
//	benchgen rootfs -o FILE [-size 200]
//	benchgen many   -o FILE [-n 2000] [-start 0] [-repo bench/many]
//
// Sizes are in MiB.
package main

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchgen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: benchgen image|rootfs|many -o FILE [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	out := fs.String("o", "", "output file")
	layers := fs.Int("layers", 5, "layers of the image")
	size := fs.Int64("size", 0, "MiB of file data in total (default 500 for image, 200 for rootfs)")
	tag := fs.String("tag", "bench/big:latest", "tag of the image")
	n := fs.Int("n", 2000, "number of images")
	start := fs.Int("start", 0, "number of the first image (many)")
	repo := fs.String("repo", "bench/many", "repository of the images")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-o FILE is required")
	}
	mib := func(def int64) int64 {
		if *size > 0 {
			return *size << 20
		}
		return def << 20
	}
	return writeFile(*out, func(w io.Writer) error {
		switch args[0] {
		case "image":
			return writeImage(w, *layers, mib(500), *tag)
		case "rootfs":
			return layerSpec{seed: 7, prefix: "rootfs", size: mib(200), smallFiles: true}.write(w)
		case "many":
			return writeMany(w, *start, *n, *repo)
		}
		return fmt.Errorf("unknown mode %q", args[0])
	})
}

func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = fn(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// epoch is the modification time of every entry and the creation time of
// every image.
var epoch = time.Unix(1700000000, 0).UTC()

// layerSpec describes one generated layer tar. The same spec always gives
// the same bytes.
type layerSpec struct {
	seed       uint64
	prefix     string // top directory of the files
	size       int64  // bytes of file data
	smallFiles bool   // most files small, as in a root filesystem
}

// write writes the layer tar: files of which about 70% of the bytes are
// random (incompressible) and 30% repetitive text.
func (l layerSpec) write(w io.Writer) error {
	tw := tar.NewWriter(w)
	rng := rand.New(rand.NewPCG(l.seed, 0x5eed))
	src := rand.New(rand.NewChaCha8(seed32(l.seed)))
	buf := make([]byte, 4<<20)
	if err := writeHeader(tw, &tar.Header{Typeflag: tar.TypeDir, Name: l.prefix + "/", Mode: 0o755}); err != nil {
		return err
	}
	var done int64
	for i := 0; done < l.size; i++ {
		if i%64 == 0 {
			dir := &tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("%s/d%03d/", l.prefix, i/64), Mode: 0o755}
			if err := writeHeader(tw, dir); err != nil {
				return err
			}
		}
		n := 256<<10 + rng.IntN(4<<20-256<<10)
		if l.smallFiles && rng.IntN(10) < 8 {
			n = 512 + rng.IntN(32<<10)
		}
		n = int(min(int64(n), l.size-done))
		fill(buf[:n], src, rng.IntN(10) < 7)
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("%s/d%03d/f%05d", l.prefix, i/64, i), Mode: 0o644, Size: int64(n)}
		if err := writeHeader(tw, hdr); err != nil {
			return err
		}
		if _, err := tw.Write(buf[:n]); err != nil {
			return err
		}
		done += int64(n)
	}
	return tw.Close()
}

func writeHeader(tw *tar.Writer, h *tar.Header) error {
	h.ModTime, h.Format = epoch, tar.FormatPAX
	return tw.WriteHeader(h)
}

func seed32(seed uint64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(seed >> (8 * i))
	}
	return b
}

func fill(b []byte, src *rand.Rand, random bool) {
	if random {
		i := 0
		for ; i+8 <= len(b); i += 8 {
			v := src.Uint64()
			for j := range 8 {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		for ; i < len(b); i++ {
			b[i] = byte(src.Uint32())
		}
		return
	}
	line := fmt.Sprintf("%08d the quick brown fox jumps over the lazy dog; lorem ipsum dolor sit amet\n", src.IntN(1e8))
	for i := 0; i < len(b); i += len(line) {
		copy(b[i:], line)
	}
}

// countHash counts and hashes what is written to it.
type countHash struct {
	h hash.Hash
	n int64
}

func (c *countHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// measure returns a layer's size and diff ID by generating it once.
func (l layerSpec) measure() (int64, string, error) {
	c := &countHash{h: sha256.New()}
	if err := l.write(c); err != nil {
		return 0, "", err
	}
	return c.n, "sha256:" + hex.EncodeToString(c.h.Sum(nil)), nil
}

// writeImage writes a docker-archive of one image of n layers holding size
// bytes of file data between them. Each layer is generated twice: once to
// learn its size and digest, once into the archive.
func writeImage(w io.Writer, n int, size int64, tag string) error {
	if n < 1 {
		return errors.New("-layers must be at least 1")
	}
	tw := tar.NewWriter(w)
	var diffIDs, paths []string
	for i := range n {
		spec := layerSpec{seed: uint64(100 + i), prefix: fmt.Sprintf("layer%d", i), size: size / int64(n)}
		lsize, diffID, err := spec.measure()
		if err != nil {
			return err
		}
		path := diffID[len("sha256:"):] + "/layer.tar"
		if err := writeHeader(tw, &tar.Header{Typeflag: tar.TypeReg, Name: path, Mode: 0o644, Size: lsize}); err != nil {
			return err
		}
		if err := spec.write(tw); err != nil {
			return err
		}
		diffIDs, paths = append(diffIDs, diffID), append(paths, path)
	}
	cfg, err := configJSON(diffIDs, map[string]string{"bench": "big"})
	if err != nil {
		return err
	}
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256(cfg))
	if err := tarBytes(tw, cfgName, cfg); err != nil {
		return err
	}
	manifest := []manifestEntry{{Config: cfgName, RepoTags: []string{tag}, Layers: paths}}
	return finishArchive(tw, manifest)
}

// writeMany writes a docker-archive of n images, each its own config (a
// label tells them apart) over one shared tiny layer, tagged repo:i for i
// from start.
func writeMany(w io.Writer, start, n int, repo string) error {
	tw := tar.NewWriter(w)
	spec := layerSpec{seed: 3, prefix: "tiny", size: 4 << 10}
	lsize, diffID, err := spec.measure()
	if err != nil {
		return err
	}
	path := diffID[len("sha256:"):] + "/layer.tar"
	if err := writeHeader(tw, &tar.Header{Typeflag: tar.TypeReg, Name: path, Mode: 0o644, Size: lsize}); err != nil {
		return err
	}
	if err := spec.write(tw); err != nil {
		return err
	}
	manifest := make([]manifestEntry, 0, n)
	for i := start; i < start+n; i++ {
		cfg, err := configJSON([]string{diffID}, map[string]string{"bench.image": fmt.Sprint(i)})
		if err != nil {
			return err
		}
		cfgName := fmt.Sprintf("%x.json", sha256.Sum256(cfg))
		if err := tarBytes(tw, cfgName, cfg); err != nil {
			return err
		}
		manifest = append(manifest, manifestEntry{Config: cfgName, RepoTags: []string{fmt.Sprintf("%s:%d", repo, i)}, Layers: []string{path}})
	}
	return finishArchive(tw, manifest)
}

type manifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func configJSON(diffIDs []string, labels map[string]string) ([]byte, error) {
	history := make([]map[string]any, len(diffIDs))
	for i := range history {
		history[i] = map[string]any{"created": epoch, "created_by": fmt.Sprintf("benchgen layer %d", i)}
	}
	return json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      epoch,
		"config":       map[string]any{"Cmd": []string{"/bin/sh"}, "Labels": labels},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history":      history,
	})
}

func tarBytes(tw *tar.Writer, name string, b []byte) error {
	if err := writeHeader(tw, &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b))}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

func finishArchive(tw *tar.Writer, manifest []manifestEntry) error {
	b, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	if err := tarBytes(tw, "manifest.json", b); err != nil {
		return err
	}
	return tw.Close()
}
