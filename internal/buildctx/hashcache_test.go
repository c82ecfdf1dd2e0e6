package buildctx

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestHashCachePersists(t *testing.T) {
	t.Parallel()
	dir, cacheDir := t.TempDir(), filepath.Join(t.TempDir(), "cache")
	files := map[string]string{}
	for i := range 50 {
		files[fmt.Sprintf("d%d/f%d", i%5, i)] = fmt.Sprint("content ", i)
	}
	writeTree(t, dir, files)
	settle()

	c1, err := Open(dir, "", cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	s1 := mustSum(t, c1, ".")
	if got := c1.hashed.Load(); got != 50 {
		t.Fatalf("first checksum read %d files, want 50", got)
	}
	mustSum(t, c1, "d1")
	if got := c1.hashed.Load(); got != 50 {
		t.Fatalf("a second checksum re-read %d files", got-50)
	}
	if err := c1.Save(); err != nil {
		t.Fatal(err)
	}

	c2, err := Open(dir, "", cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	if s2 := mustSum(t, c2, "."); s2.Digest != s1.Digest {
		t.Fatal("digest differs after reopening")
	}
	if got := c2.hashed.Load(); got != 0 {
		t.Fatalf("reopened context re-read %d files, want 0", got)
	}

	// One changed file is read again, and only that one.
	if err := os.WriteFile(filepath.Join(dir, "d0/f5"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s3 := mustSum(t, c2, "."); s3.Digest == s1.Digest {
		t.Fatal("change not seen")
	}
	if got := c2.hashed.Load(); got != 1 {
		t.Fatalf("read %d files after one change, want 1", got)
	}
}

// A write that keeps size and mtime still changes ctime: the cache sees it.
func TestHashCacheSeesSameSizeRewrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"f": "aaaa"})
	settle()
	c := openCtx(t, dir)
	before := mustSum(t, c, "f")
	p := filepath.Join(dir, "f")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("bbbb"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if mustSum(t, c, "f").Digest == before.Digest {
		t.Fatal("same-size rewrite with restored mtime was missed")
	}
}

// Files written just before they were hashed are re-read next time.
func TestHashCacheRacyEntries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"f": "x"})
	c := openCtx(t, dir)
	mustSum(t, c, "f") // right after the write: racy
	mustSum(t, c, "f")
	if got := c.hashed.Load(); got < 2 {
		t.Fatalf("a racy entry was trusted (%d reads)", got)
	}
	settle()
	mustSum(t, c, "f")
	n := c.hashed.Load()
	mustSum(t, c, "f")
	if c.hashed.Load() != n {
		t.Fatal("a settled entry was re-read")
	}
}

func TestHashCacheCorruptIgnored(t *testing.T) {
	t.Parallel()
	dir, cacheDir := t.TempDir(), t.TempDir()
	writeTree(t, dir, map[string]string{"a": "1", "b": "2"})
	settle()
	c, err := Open(dir, "", cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	want := mustSum(t, c, ".")
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(c.cacheFile)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/2] ^= 0xff
	for name, bad := range map[string][]byte{
		"truncated": data[:len(data)-7],
		"flipped":   flipped,
		"empty":     nil,
		"garbage":   []byte("not a cache file at all, not at all"),
	} {
		if err := os.WriteFile(c.cacheFile, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		c2, err := Open(dir, "", cacheDir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := mustSum(t, c2, "."); got.Digest != want.Digest {
			t.Errorf("%s: wrong digest", name)
		}
		if c2.hashed.Load() != 2 {
			t.Errorf("%s: entries were trusted", name)
		}
	}
}

func TestSaveOnlyWhenChanged(t *testing.T) {
	t.Parallel()
	dir, cacheDir := t.TempDir(), t.TempDir()
	writeTree(t, dir, map[string]string{"a": "1", "gone": "2"})
	settle()
	c, err := Open(dir, "", cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	mustSum(t, c, ".")
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1, 0)
	if err := os.Chtimes(c.cacheFile, old, old); err != nil {
		t.Fatal(err)
	}
	c2, err := Open(dir, "", cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	mustSum(t, c2, ".")
	if err := c2.Save(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(c.cacheFile); !fi.ModTime().Equal(old) {
		t.Fatal("an unchanged cache was rewritten")
	}
	// A change is saved; an unused entry whose file is gone is dropped.
	os.Remove(filepath.Join(dir, "gone"))
	writeTree(t, dir, map[string]string{"b": "3"})
	settle()
	c3, err := Open(dir, "", cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	mustSum(t, c3, "b")
	if err := c3.Save(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(c.cacheFile)
	ents, ok := decodeCache(data)
	if !ok {
		t.Fatal("saved cache does not decode")
	}
	var paths []string
	for _, e := range ents {
		paths = append(paths, e.path)
	}
	if len(paths) != 2 || paths[0] != "a" || paths[1] != "b" {
		t.Fatalf("saved entries %v, want [a b]", paths)
	}
}

func TestCacheEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	in := []cacheEntry{
		{path: "a/b", meta: fileMeta{size: 1, mtime: -2, ctime: 3, ino: 1 << 60, mode: 0o100644}, hashedAt: 5, sum: [32]byte{1, 2, 3}},
		{path: "", sum: [32]byte{31: 9}},
		{path: "ünïcode/ file"},
	}
	out, ok := decodeCache(encodeCache(in))
	if !ok || len(out) != len(in) {
		t.Fatalf("round trip failed: %v %v", ok, out)
	}
	for i := range in {
		in[i].used, out[i].used = false, false
		if in[i] != out[i] {
			t.Errorf("entry %d: %+v != %+v", i, out[i], in[i])
		}
	}
}

// Checksums and saves may run at once (parallel build stages).
func TestChecksumConcurrent(t *testing.T) {
	t.Parallel()
	dir, cacheDir := t.TempDir(), t.TempDir()
	files := map[string]string{".dockerignore": "*.tmp\n!keep.tmp\n"}
	for i := range 200 {
		files[fmt.Sprintf("d%d/f%d", i%2, i)] = fmt.Sprint(i)
	}
	writeTree(t, dir, files)
	c, err := Open(dir, "", cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	want := mustSum(t, openCtx(t, dir), ".")
	done := make(chan error)
	for range 4 {
		go func() {
			s, err := c.Checksum([]string{"."})
			if err == nil && s.Digest != want.Digest {
				err = fmt.Errorf("digest %s, want %s", s.Digest, want.Digest)
			}
			if err == nil {
				err = c.Save()
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
