package content

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

// assertEmpty checks that a failed ingest left no blob and no ingest behind.
func assertEmpty(t *testing.T, s *Store) {
	t.Helper()
	if n, _, err := s.Usage(); err != nil || n != 0 {
		t.Errorf("store holds %d blobs (%v), want none", n, err)
	}
	if refs := ingestRefs(t, s); len(refs) != 0 {
		t.Errorf("ingest left behind: %v", refs)
	}
}

func TestIngestMismatch(t *testing.T) {
	t.Parallel()
	data := testData(3, 64<<10)
	good := digest.FromBytes(data)
	wrong := digest.FromString("something else")
	n := int64(len(data))
	tests := []struct {
		name     string
		size     int64
		expected digest.Digest
		mention  []string
	}{
		{"wrong digest", n, wrong, []string{string(wrong), string(good)}},
		{"wrong digest unknown size", -1, wrong, []string{string(wrong), string(good)}},
		{"size too big", n + 1, good, []string{"65537", "65536"}},
		{"size too small", n - 1, good, []string{"65535", "65536"}},
		{"wrong algorithm", n, digest.SHA512.FromString("x"), []string{"sha512:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			_, err := s.Ingest(bytes.NewReader(data), tt.size, tt.expected)
			if !errors.Is(err, errdefs.ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			assertEmpty(t, s)
		})
	}
}

func TestCommitMismatchRemovesIngest(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	w, err := s.Writer("named", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(3, digest.FromString("abd")); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Fatalf("Commit: %v", err)
	}
	assertEmpty(t, s)
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after failed Commit succeeded")
	}
	// The ref is free again and starts from scratch.
	w, err = s.Writer("named", "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if w.Offset() != 0 {
		t.Fatalf("offset %d after mismatch, want 0", w.Offset())
	}
}

func TestCommitBadExpectedKeepsWriter(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	w, err := s.Writer("w", "")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("abc"))
	if _, err := w.Commit(3, "sha256:ABC"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("Commit bad digest: %v", err)
	}
	if _, err := w.Commit(3, digest.SHA512.FromString("abc")); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("Commit other algorithm: %v", err)
	}
	info, err := w.Commit(3, digest.FromString("abc"))
	if err != nil || info.Digest != digest.FromString("abc") {
		t.Fatalf("Commit after bad digest: %+v, %v", info, err)
	}
}

func TestResumeAfterClose(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	data := testData(4, 3<<20+5)
	half := len(data) / 2

	w, err := s.Writer("layer-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// A different Store stands in for a later process.
	s2, err := Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	w, err = s2.Writer("layer-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if w.Offset() != int64(half) {
		t.Fatalf("resumed at %d, want %d", w.Offset(), half)
	}
	if w.Digest() != digest.FromBytes(data[:half]) {
		t.Fatal("resumed digest does not cover the existing bytes")
	}
	if _, err := io.Copy(w, bytes.NewReader(data[half:])); err != nil {
		t.Fatal(err)
	}
	info, err := w.Commit(int64(len(data)), digest.FromBytes(data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadAll(info.Digest, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back after resume: %v", err)
	}
	if refs := ingestRefs(t, s); len(refs) != 0 {
		t.Fatalf("ingest left behind: %v", refs)
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	data := testData(5, 10_000)
	w, err := s.Writer("partial", "")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[:6000])
	w.Write([]byte("garbage from a bad range"))
	if err := w.Truncate(6000); err != nil {
		t.Fatal(err)
	}
	if w.Offset() != 6000 || w.Digest() != digest.FromBytes(data[:6000]) {
		t.Fatalf("after Truncate: offset %d digest %s", w.Offset(), w.Digest())
	}
	for _, bad := range []int64{-1, 6001} {
		if err := w.Truncate(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Truncate(%d): %v", bad, err)
		}
	}
	w.Write(data[6000:])
	if _, err := w.Commit(int64(len(data)), digest.FromBytes(data)); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadAll(digest.FromBytes(data), -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
}

func TestWriterLockHeld(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	other, err := Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Writer("busy", "")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("abc"))
	for _, st := range []*Store{s, other} {
		_, err := st.Writer("busy", "")
		if !errors.Is(err, errdefs.ErrUnavailable) ||
			!strings.Contains(err.Error(), "ingest busy is in use by another process") {
			t.Fatalf("second Writer: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w2, err := other.Writer("busy", "")
	if err != nil {
		t.Fatalf("Writer after Close: %v", err)
	}
	defer w2.Abort()
	if w2.Offset() != 3 {
		t.Fatalf("offset %d, want 3", w2.Offset())
	}
}

func TestWriterArguments(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for _, ref := range []string{"", ".", "..", "a/b", "-a", ".hidden", "a b", "é", strings.Repeat("a", 129)} {
		if _, err := s.Writer(ref, ""); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Writer(%q): %v", ref, err)
		}
	}
	for _, alg := range []digest.Algorithm{"sha384", "md5", "SHA256"} {
		if _, err := s.Writer("ok", alg); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Writer alg %q: %v", alg, err)
		}
	}
	for _, ref := range []string{"a", "A.b_c-9", "sha256-abc..", strings.Repeat("z", 128)} {
		w, err := s.Writer(ref, digest.SHA512)
		if err != nil {
			t.Errorf("Writer(%q): %v", ref, err)
			continue
		}
		if err := w.Abort(); err != nil {
			t.Error(err)
		}
	}
	assertEmpty(t, s)
}

func TestCommitExistingBlob(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	data := testData(6, 5000)
	d := digest.FromBytes(data)
	w1, _ := s.Writer("one", "")
	w2, _ := s.Writer("two", "")
	w1.Write(data)
	w2.Write(data)
	if _, err := w1.Commit(-1, d); err != nil {
		t.Fatal(err)
	}
	if info, err := w2.Commit(int64(len(data)), ""); err != nil || info.Digest != d {
		t.Fatalf("second commit of %s: %+v, %v", d, info, err)
	}
	if refs := ingestRefs(t, s); len(refs) != 0 {
		t.Fatalf("ingest left behind: %v", refs)
	}

	// A truncated blob at the digest's path is replaced by a verified copy.
	p, _ := s.BlobPath(d)
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, data[:10], 0o644); err != nil {
		t.Fatal(err)
	}
	w3, _ := s.Writer("three", "")
	w3.Write(data)
	if _, err := w3.Commit(int64(len(data)), d); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReadAll(d, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("damaged blob not replaced: %v", err)
	}
}

// failReader fails the test if it is read.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("reader was read although the blob exists")
	return 0, io.EOF
}

func TestIngestExistingSkipsReader(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	info := mustIngest(t, s, []byte("present"), digest.SHA256)
	got, err := s.Ingest(failReader{t}, info.Size, info.Digest)
	if err != nil || got != info {
		t.Fatalf("Ingest existing: %+v, %v", got, err)
	}
	if _, err := s.Ingest(failReader{t}, info.Size+1, info.Digest); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Fatalf("Ingest existing with wrong size: %v", err)
	}
}

// errReader returns some bytes and then an error.
type errReader struct{ n int }

func (r *errReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(r.n, len(p))
	r.n -= n
	return n, nil
}

func TestIngestReadErrorCleansUp(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	_, err := s.Ingest(&errReader{n: 3 << 20}, 4<<20, "")
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
	assertEmpty(t, s)
	if _, err := s.Ingest(strings.NewReader("x"), 1, "sha256:nope"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("bad expected: %v", err)
	}
}

func TestCleanIngests(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	other, _ := Open(s.Root())
	write := func(st *Store, ref string) *Writer {
		w, err := st.Writer(ref, "")
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(ref))
		return w
	}
	write(s, "tmp-dead").Close()
	write(s, "fresh").Close()
	write(s, "old").Close()
	live := write(other, "tmp-live")
	defer live.Abort()
	liveNamed := write(other, "old-live")
	defer liveNamed.Abort()
	past := time.Now().Add(-2 * time.Hour)
	for _, ref := range []string{"old", "old-live"} {
		if err := os.Chtimes(filepath.Join(s.Root(), "ingest", ref, "data"), past, past); err != nil {
			t.Fatal(err)
		}
	}
	// A directory left by a crash before its lock file was made, and one
	// that a writer has just created and not locked yet.
	os.Mkdir(filepath.Join(s.Root(), "ingest", "tmp-nolock"), 0o755)
	os.Chtimes(filepath.Join(s.Root(), "ingest", "tmp-nolock"), past, past)
	os.Mkdir(filepath.Join(s.Root(), "ingest", "tmp-newborn"), 0o755)

	n, err := s.CleanIngests(time.Hour)
	if err != nil || n != 3 {
		t.Fatalf("CleanIngests = %d, %v; want 3", n, err)
	}
	got := strings.Join(ingestRefs(t, s), ",")
	if got != "fresh,old-live,tmp-live,tmp-newborn" {
		t.Fatalf("left %s, want fresh,old-live,tmp-live,tmp-newborn", got)
	}
	if _, err := live.Write([]byte("more")); err != nil {
		t.Fatalf("live writer broken by clean: %v", err)
	}
	if _, err := live.Commit(-1, ""); err != nil {
		t.Fatalf("live writer commit: %v", err)
	}
}
