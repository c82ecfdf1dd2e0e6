package testsuite

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-dev/strata/internal/snapshot"
)

// Benchmark measures what unpacking or starting a container on a big image
// costs a driver: Prepare plus Commit on a parent of 6,000 files (300
// directories of 20 files, 0 to 8 KiB, 24 MiB in all), and Usage of that
// parent.
func Benchmark(b *testing.B, newFn NewFunc) {
	ctx := b.Context()
	sn, err := newFn(b.TempDir(), OpenDB(b, filepath.Join(b.TempDir(), "metadata.db")))
	if err != nil {
		b.Fatal(err)
	}
	mounts, err := sn.Prepare(ctx, "base-key", "")
	if err != nil {
		b.Fatal(err)
	}
	dir, ok := snapshot.UpperDir(mounts)
	if !ok {
		b.Fatal("no upper dir")
	}
	fillTree(b, dir, 300, 20)
	if err := sn.Commit(ctx, "base", "base-key"); err != nil {
		b.Fatal(err)
	}
	b.Run("PrepareCommit6k", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			key, name := fmt.Sprintf("k%d", i), fmt.Sprintf("n%d", i)
			mounts, err := sn.Prepare(ctx, key, "base")
			if err != nil {
				b.Fatal(err)
			}
			dir, _ := snapshot.UpperDir(mounts)
			if err := os.WriteFile(filepath.Join(dir, "changed"), []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
			if err := sn.Commit(ctx, name, key); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := sn.Remove(ctx, name); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
	b.Run("Usage6k", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := sn.Usage(ctx, "base"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func fillTree(b *testing.B, root string, dirs, files int) {
	buf := make([]byte, 8<<10)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("usr/lib/d%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range files {
			size := (d*files + f) * 409 % len(buf)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", f)), buf[:size], 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}
