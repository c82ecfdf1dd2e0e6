package storage_test

import (
	"path"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/registry/storage"
	"github.com/strata-dev/strata/internal/registry/storage/storagetest"
)

func TestCheckPath(t *testing.T) {
	good := []string{"a", "blobs/sha256/abc", "repositories/library/busybox/_manifests/tags/1.36/current/link",
		"uploads/0f/data", "a/.hidden", "a/..b", "a/b..", "x y/z"}
	for _, p := range good {
		if err := storage.CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v", p, err)
		}
	}
	for _, p := range storagetest.BadPaths {
		if err := storage.CheckPath(p); !errdefs.IsInvalidArgument(err) {
			t.Errorf("CheckPath(%q) = %v, want invalid argument", p, err)
		}
	}
}

// FuzzPath checks that every path CheckPath accepts is clean and relative,
// so the drivers can join it to their root without leaving it.
func FuzzPath(f *testing.F) {
	for _, p := range append([]string{"a", "a/b", "blobs/sha256/x", "a/.b", "a/b/"}, storagetest.BadPaths...) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := storage.CheckPath(p)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("CheckPath(%q): error %v is not invalid argument", p, err)
			}
			return
		}
		if path.Clean(p) != p || path.IsAbs(p) || strings.HasPrefix(p, ".") || strings.ContainsRune(p, 0) {
			t.Fatalf("CheckPath accepted %q", p)
		}
		joined := path.Join("/root/registry", p)
		if !strings.HasPrefix(joined, "/root/registry/") {
			t.Fatalf("accepted %q leaves the root: %s", p, joined)
		}
		for _, c := range strings.Split(p, "/") {
			if c == "" || c == "." || c == ".." {
				t.Fatalf("accepted %q with component %q", p, c)
			}
		}
	})
}
