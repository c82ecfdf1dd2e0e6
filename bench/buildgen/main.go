// Command buildgen writes the build contexts of scripts/bench-build.sh: a
// context of many small files with a 20-step Dockerfile, and a context of
// a few big incompressible files with a Dockerfile that copies them. Its
// output depends only on its flags (seeded pseudo-random data), so runs
// compare like with like.
//
//	buildgen tree -o DIR [-files 10000] [-from busybox]
//	buildgen copy -o DIR [-size 300] [-parts 3] [-from busybox]
//
// tree prints the path (below DIR) of the file the benchmark changes: one
// that an early COPY copies, so that most of the steps after it rerun.
// copy's -size is in MB (10^6 bytes).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "buildgen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: buildgen tree|copy -o DIR [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	out := fs.String("o", "", "directory to write the context into")
	files := fs.Int("files", 10000, "files of the context (tree)")
	size := fs.Int64("size", 300, "MB of data (copy)")
	parts := fs.Int("parts", 3, "files the data is split into (copy)")
	from := fs.String("from", "busybox", "base image of the Dockerfile")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-o DIR is required")
	}
	switch args[0] {
	case "tree":
		changed, err := writeTree(*out, *files, *from)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, changed)
		return err
	case "copy":
		return writeCopy(*out, *size*1e6, *parts, *from)
	}
	return fmt.Errorf("unknown mode %q", args[0])
}

// topDirs is the number of src/pN directories of the tree context; the
// Dockerfile copies some of them one by one before copying everything.
const topDirs = 10

// filesPerDir is the number of files of each leaf directory.
const filesPerDir = 40

// treeDockerfile has 20 instructions: metadata, cheap RUNs and COPYs of
// parts of the context, then the whole context near the end, as a typical
// application's Dockerfile does.
const treeDockerfile = `FROM %s
ENV APP_HOME=/app LANG=C.UTF-8
LABEL org.opencontainers.image.title="strata build bench"
WORKDIR /work
RUN echo one > /f1
COPY src/p0 /app/src/p0
RUN echo two > /f2
ENV STAGE=deps
COPY src/p1 /app/src/p1
COPY src/p2 /app/src/p2
RUN echo three > /f3
LABEL stage=build
WORKDIR /app
COPY src/p3 /app/src/p3
RUN echo four > /f4
ENV STAGE=final
COPY . /app
RUN echo five > /f5
LABEL version=1
CMD ["/bin/sh"]
`

// writeTree writes n files of 1 to 4 KiB of random text below dir/src, in
// topDirs directories of leaf directories of filesPerDir files, and the
// Dockerfile. It returns the file to change: the first one of src/p3.
func writeTree(dir string, n int, from string) (string, error) {
	if n < topDirs {
		return "", fmt.Errorf("-files must be at least %d", topDirs)
	}
	rng := rand.New(rand.NewPCG(11, 0x5eed))
	buf := make([]byte, 4<<10)
	changed := ""
	perTop := (n + topDirs - 1) / topDirs
	for i := range n {
		top, j := i/perTop, i%perTop
		rel := filepath.Join("src", fmt.Sprintf("p%d", top), fmt.Sprintf("m%03d", j/filesPerDir), fmt.Sprintf("f%05d.txt", i))
		if j == 0 && top == 3 {
			changed = rel
		}
		if j%filesPerDir == 0 {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
				return "", err
			}
		}
		b := buf[:1<<10+rng.IntN(3<<10+1)]
		text(b, rng)
		if err := os.WriteFile(filepath.Join(dir, rel), b, 0o644); err != nil {
			return "", err
		}
	}
	df := fmt.Sprintf(treeDockerfile, from)
	if got := strings.Count(df, "\n"); got != 20 {
		return "", fmt.Errorf("the tree Dockerfile has %d instructions, want 20", got)
	}
	return changed, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
}

// text fills b with lines of random lower-case words.
func text(b []byte, rng *rand.Rand) {
	for i := range b {
		switch r := rng.IntN(32); {
		case i%64 == 63:
			b[i] = '\n'
		case r < 26:
			b[i] = byte('a' + r)
		default:
			b[i] = ' '
		}
	}
}

// writeCopy writes size bytes of incompressible data split into parts files
// below dir/data, and a Dockerfile that copies them.
func writeCopy(dir string, size int64, parts int, from string) error {
	if parts < 1 || size < int64(parts) {
		return errors.New("-parts must be at least 1 and at most the size in bytes")
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return err
	}
	src := rand.NewChaCha8([32]byte{'b', 'u', 'i', 'l', 'd'})
	for i := range parts {
		n := size / int64(parts)
		if i == parts-1 {
			n = size - n*int64(parts-1)
		}
		if err := writeRandom(filepath.Join(dir, "data", fmt.Sprintf("part%d.bin", i)), n, src); err != nil {
			return err
		}
	}
	df := fmt.Sprintf("FROM %s\nCOPY data /data\n", from)
	return os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
}

func writeRandom(path string, n int64, src io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	_, err = io.CopyN(w, src, n)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
