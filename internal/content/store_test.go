package content

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

// testData returns n deterministic pseudo-random bytes for seed.
func testData(seed byte, n int) []byte {
	var key [32]byte
	key[0] = seed
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustIngest(t testing.TB, s *Store, data []byte, alg digest.Algorithm) Info {
	t.Helper()
	want := alg.FromBytes(data)
	info, err := s.Ingest(bytes.NewReader(data), int64(len(data)), want)
	if err != nil {
		t.Fatalf("ingest %s: %v", want, err)
	}
	if info.Digest != want || info.Size != int64(len(data)) {
		t.Fatalf("ingest returned %+v, want %s/%d", info, want, len(data))
	}
	return info
}

// ingestRefs lists what is left in the ingest directory.
func ingestRefs(t testing.TB, s *Store) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.Root(), "ingest"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestOpenCreatesLayout(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := Open("store")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "store"); s.Root() != want {
		t.Fatalf("Root() = %q, want %q", s.Root(), want)
	}
	for _, p := range []string{"blobs/sha256", "blobs/sha512", "ingest"} {
		fi, err := os.Stat(filepath.Join(dir, "store", p))
		if err != nil || !fi.IsDir() {
			t.Fatalf("%s not created: %v", p, err)
		}
	}
	if _, err := Open("store"); err != nil {
		t.Fatalf("reopen: %v", err)
	}
}

func TestIngestReadBack(t *testing.T) {
	t.Parallel()
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		s := newStore(t)
		data := testData(1, 3<<20+17)
		info := mustIngest(t, s, data, alg)

		p, err := s.BlobPath(info.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(s.Root(), "blobs", string(alg), info.Digest.Encoded()); p != want {
			t.Fatalf("BlobPath = %q, want %q", p, want)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o444 {
			t.Errorf("blob mode %v, want read-only", fi.Mode())
		}
		got, err := s.Info(info.Digest)
		if err != nil || got != info {
			t.Fatalf("Info = %+v, %v; want %+v", got, err, info)
		}
		f, err := s.Open(info.Digest)
		if err != nil {
			t.Fatal(err)
		}
		read, err := io.ReadAll(f)
		f.Close()
		if err != nil || !bytes.Equal(read, data) {
			t.Fatalf("Open read back %d bytes (%v), want the %d ingested", len(read), err, len(data))
		}
		all, err := s.ReadAll(info.Digest, int64(len(data)))
		if err != nil || !bytes.Equal(all, data) {
			t.Fatalf("ReadAll: %d bytes, %v", len(all), err)
		}
		if refs := ingestRefs(t, s); len(refs) != 0 {
			t.Fatalf("ingest left behind: %v", refs)
		}
	}
}

func TestIngestUnknownSizeAndDigest(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	data := testData(2, 100_000)
	// A reader without WriterTo takes the Writer.ReadFrom path.
	info, err := s.Ingest(io.MultiReader(bytes.NewReader(data)), -1, "")
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != digest.FromBytes(data) || info.Size != int64(len(data)) {
		t.Fatalf("got %+v", info)
	}
	empty, err := s.Ingest(strings.NewReader(""), 0, "")
	if err != nil || empty.Digest != digest.FromBytes(nil) || empty.Size != 0 {
		t.Fatalf("empty blob: %+v, %v", empty, err)
	}
	if b, err := s.ReadAll(empty.Digest, 0); err != nil || len(b) != 0 {
		t.Fatalf("ReadAll empty: %q, %v", b, err)
	}
}

func TestReadAllLimitAndCorruption(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	data := []byte(`{"schemaVersion":2}`)
	info := mustIngest(t, s, data, digest.SHA256)

	if _, err := s.ReadAll(info.Digest, info.Size-1); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("over limit: %v", err)
	}
	if b, err := s.ReadAll(info.Digest, -1); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("no limit: %q, %v", b, err)
	}

	p, _ := s.BlobPath(info.Digest)
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(`{"schemaVersion":3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := s.ReadAll(info.Digest, 1<<20)
	if !errors.Is(err, errdefs.ErrCorrupt) || !strings.Contains(err.Error(), string(info.Digest)) {
		t.Fatalf("tampered blob: %v", err)
	}
}

func TestNotFoundAndDelete(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	missing := digest.FromString("missing")
	if _, err := s.Info(missing); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Info: %v", err)
	}
	if _, err := s.Open(missing); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Open: %v", err)
	}
	if _, err := s.ReadAll(missing, 10); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("ReadAll: %v", err)
	}
	if err := s.Delete(missing); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Delete: %v", err)
	}

	info := mustIngest(t, s, []byte("hello"), digest.SHA256)
	if err := s.Delete(info.Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Info(info.Digest); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Info after Delete: %v", err)
	}
	if err := s.Delete(info.Digest); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
	if err := s.Delete("sha256:../../etc"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Delete bad digest: %v", err)
	}
}

func TestBlobPath(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	hex256 := digest.FromString("x").Encoded()
	hex512 := digest.SHA512.FromString("x").Encoded()
	tests := []struct {
		in   string
		want string // relative to blobs/; "" means ErrInvalidArgument
	}{
		{"sha256:" + hex256, "sha256/" + hex256},
		{"sha512:" + hex512, "sha512/" + hex512},
		{"sha256:../../x", ""},
		{"sha256:" + strings.ToUpper(hex256), ""},
		{"sha256:" + hex256[:63], ""},
		{"sha256:" + hex256 + "0", ""},
		{"sha256:" + hex256[:62] + "/x", ""},
		{"sha512:" + hex256, ""},
		{"sha384:" + digest.SHA384.FromString("x").Encoded(), ""},
		{"SHA256:" + hex256, ""},
		{"md5:d41d8cd98f00b204e9800998ecf8427e", ""},
		{hex256, ""},
		{":" + hex256, ""},
		{"", ""},
		{"sha256:", ""},
		{"../sha256:" + hex256, ""},
	}
	for _, tt := range tests {
		got, err := s.BlobPath(digest.Digest(tt.in))
		if tt.want == "" {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("BlobPath(%q) = %q, %v; want ErrInvalidArgument", tt.in, got, err)
			}
			continue
		}
		if want := filepath.Join(s.Root(), "blobs", tt.want); err != nil || got != want {
			t.Errorf("BlobPath(%q) = %q, %v; want %q", tt.in, got, err, want)
		}
	}
}

func TestWalkAndUsage(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	want := map[digest.Digest]int64{}
	for i, alg := range []digest.Algorithm{digest.SHA256, digest.SHA256, digest.SHA512} {
		info := mustIngest(t, s, testData(byte(10+i), 1000*(i+1)), alg)
		want[info.Digest] = info.Size
	}
	// Strays Walk must skip.
	blobs := filepath.Join(s.Root(), "blobs")
	strays := map[string]bool{
		"sha256/not-a-digest":                               false,
		"sha256/" + strings.Repeat("A", 64):                 false,
		"sha256/" + strings.Repeat("a", 63):                 false,
		"sha384/" + digest.SHA384.FromString("x").Encoded(): false,
		"sha256/" + digest.FromString("dir").Encoded():      true,
	}
	for name, isDir := range strays {
		p := filepath.Join(blobs, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if isDir {
			err = os.Mkdir(p, 0o755)
		} else {
			err = os.WriteFile(p, []byte("stray"), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	got := map[digest.Digest]int64{}
	if err := s.Walk(func(i Info) error {
		if _, dup := got[i.Digest]; dup {
			t.Errorf("Walk visited %s twice", i.Digest)
		}
		got[i.Digest] = i.Size
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Walk found %v, want %v", got, want)
	}
	var total int64
	for d, size := range want {
		if got[d] != size {
			t.Errorf("Walk %s size %d, want %d", d, got[d], size)
		}
		total += size
	}
	n, bytes, err := s.Usage()
	if err != nil || n != len(want) || bytes != total {
		t.Fatalf("Usage = %d, %d, %v; want %d, %d", n, bytes, err, len(want), total)
	}

	stop := errors.New("stop")
	calls := 0
	err = s.Walk(func(Info) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Walk did not stop on error: %v after %d calls", err, calls)
	}
}
