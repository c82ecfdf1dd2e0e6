package content

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func FuzzDigestPath(f *testing.F) {
	for _, seed := range []string{
		string(digest.FromString("a")),
		string(digest.SHA512.FromString("a")),
		string(digest.SHA384.FromString("a")),
		"sha256:../../x",
		"sha256:" + strings.Repeat("A", 64),
		"sha256:" + strings.Repeat("a", 63) + "/",
		"sha256:" + strings.Repeat("../", 22)[:64],
		"sha512:" + strings.Repeat("0", 128),
		"sha256:",
		":",
		"",
		"/sha256:" + strings.Repeat("a", 64),
	} {
		f.Add(seed)
	}
	root := f.TempDir()
	s, err := Open(root)
	if err != nil {
		f.Fatal(err)
	}
	blobs := filepath.Join(s.Root(), "blobs")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := s.BlobPath(digest.Digest(in))
		if err != nil {
			if p != "" {
				t.Fatalf("BlobPath(%q) returned %q with error %v", in, p, err)
			}
			return
		}
		rel, rerr := filepath.Rel(blobs, p)
		if rerr != nil || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
			t.Fatalf("BlobPath(%q) = %q, outside %s", in, p, blobs)
		}
		d := digest.Digest(in)
		if verr := d.Validate(); verr != nil {
			t.Fatalf("BlobPath accepted %q, which go-digest rejects: %v", in, verr)
		}
		if want := filepath.Join(blobs, string(d.Algorithm()), d.Encoded()); p != want || filepath.Clean(p) != p {
			t.Fatalf("BlobPath(%q) = %q, want %q", in, p, want)
		}
	})
}

func FuzzRef(f *testing.F) {
	for _, seed := range []string{"a", "tmp-0123", ".", "..", "a/b", "-x", "A.b_c", strings.Repeat("r", 129)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		if !validRef(ref) {
			return
		}
		if ref == "." || ref == ".." || filepath.Base(ref) != ref || strings.ContainsAny(ref, "/\\\x00") || len(ref) > 128 {
			t.Fatalf("validRef accepted unsafe ref %q", ref)
		}
	})
}
