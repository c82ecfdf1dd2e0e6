package buildctx

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// makeTree10k writes 10,000 small files in 100 directories.
func makeTree10k(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	for d := range 100 {
		sub := filepath.Join(dir, fmt.Sprintf("dir%03d", d))
		if err := os.Mkdir(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			content := fmt.Sprintf("file %d in dir %d\n", f, d)
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("file%03d.go", f)), []byte(content), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	settle()
	return dir
}

// BenchmarkChecksumNoop10k is a rebuild that changed nothing: a warm cache
// over 10,000 files must read no file content.
func BenchmarkChecksumNoop10k(b *testing.B) {
	dir := makeTree10k(b)
	c, err := Open(dir, "", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	want := mustSum(b, c, ".")
	if got := c.hashed.Load(); got != 10000 {
		b.Fatalf("cold checksum read %d files", got)
	}
	b.ResetTimer()
	for b.Loop() {
		s, err := c.Checksum([]string{"."})
		if err != nil {
			b.Fatal(err)
		}
		if s.Digest != want.Digest {
			b.Fatal("digest changed")
		}
	}
	b.StopTimer()
	if got := c.hashed.Load(); got != 10000 {
		b.Fatalf("warm checksums read %d files", got-10000)
	}
}

// BenchmarkChecksumCold10k hashes 10,000 files with an empty cache.
func BenchmarkChecksumCold10k(b *testing.B) {
	dir := makeTree10k(b)
	for b.Loop() {
		c, err := Open(dir, "", "")
		if err != nil {
			b.Fatal(err)
		}
		mustSum(b, c, ".")
	}
}

// BenchmarkCacheLoad10k opens a context whose cache file holds 10,000 entries.
func BenchmarkCacheLoad10k(b *testing.B) {
	dir, cacheDir := makeTree10k(b), b.TempDir()
	c, err := Open(dir, "", cacheDir)
	if err != nil {
		b.Fatal(err)
	}
	mustSum(b, c, ".")
	if err := c.Save(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, err := Open(dir, "", cacheDir)
		if err != nil {
			b.Fatal(err)
		}
		if len(c.cache.ents) != 10000 {
			b.Fatalf("loaded %d entries", len(c.cache.ents))
		}
	}
}

// BenchmarkCopy copies one 300 MB file; `cp` is the peer.
func BenchmarkCopy(b *testing.B) {
	const size = 300 << 20
	src := b.TempDir()
	f, err := os.Create(filepath.Join(src, "big"))
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	for range size / len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, copyFile func(dst string) error) {
		b.SetBytes(size)
		for b.Loop() {
			dst := b.TempDir()
			if err := copyFile(dst); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.RemoveAll(dst)
			b.StartTimer()
		}
	}
	b.Run("strata", func(b *testing.B) {
		run(b, func(dst string) error {
			return Copy(src, []string{"big"}, dst, "/app/big", CopyOptions{UID: -1, GID: -1})
		})
	})
	b.Run("cp", func(b *testing.B) {
		run(b, func(dst string) error {
			return exec.Command("cp", "-a", filepath.Join(src, "big"), filepath.Join(dst, "big")).Run()
		})
	})
}

// BenchmarkCopyTree10k copies 10,000 small files, and `cp -a` does the
// same as the peer to compare with (file creation dominates both).
func BenchmarkCopyTree10k(b *testing.B) {
	src := makeTree10k(b)
	run := func(b *testing.B, copyTree func(dst string) error) {
		for b.Loop() {
			dst := b.TempDir()
			if err := copyTree(dst); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.RemoveAll(dst)
			b.StartTimer()
		}
	}
	b.Run("strata", func(b *testing.B) {
		run(b, func(dst string) error {
			return Copy(src, []string{"."}, dst, "/app", CopyOptions{UID: -1, GID: -1})
		})
	})
	b.Run("cp-a", func(b *testing.B) {
		run(b, func(dst string) error {
			return exec.Command("cp", "-a", src, filepath.Join(dst, "app")).Run()
		})
	})
}

// BenchmarkStatFloor10k is the floor under BenchmarkChecksumNoop10k: read
// the same 100 directories and lstat each entry, nothing else.
func BenchmarkStatFloor10k(b *testing.B) {
	dir := makeTree10k(b)
	for b.Loop() {
		var walk func(string) int
		walk = func(d string) int {
			f, err := os.Open(d)
			if err != nil {
				b.Fatal(err)
			}
			names, _ := f.Readdirnames(-1)
			n := 0
			for _, name := range names {
				var st unix.Stat_t
				if err := unix.Fstatat(int(f.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					b.Fatal(err)
				}
				n++
				if st.Mode&unix.S_IFMT == unix.S_IFDIR {
					n += walk(filepath.Join(d, name))
				}
			}
			f.Close()
			return n
		}
		if n := walk(dir); n != 10100 {
			b.Fatalf("%d entries", n)
		}
	}
}
