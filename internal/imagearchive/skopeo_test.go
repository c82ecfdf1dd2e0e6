package imagearchive

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/image"
)

// skopeo runs skopeo copy, or skips the test when skopeo is missing.
func skopeo(t *testing.T, src, dst string) {
	t.Helper()
	bin, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo is not installed")
	}
	cmd := exec.Command(bin, "--insecure-policy", "--tmpdir", t.TempDir(), "copy", "--quiet", src, dst)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy %s %s: %v\n%s", src, dst, err, out)
	}
}

// TestSkopeoInterop checks that skopeo reads what Save writes (as a
// docker-archive and as an oci-archive) and that Load reads the oci-archive and docker-archive
// skopeo writes.
func TestSkopeoInterop(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo is not installed")
	}
	fx := newFixture(t)
	dir := t.TempDir()
	saved := filepath.Join(dir, "saved.tar")
	if err := os.WriteFile(saved, save(t, fx.s, "busybox:latest"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantDiffIDs := diffIDsOf(t, fx.s, fx.busybox.ID)

	t.Run("dir", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "img")
		skopeo(t, "docker-archive:"+saved, "dir:"+out)
		if _, err := os.Stat(filepath.Join(out, "manifest.json")); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(out, fx.busybox.ID.Encoded())); err != nil {
			t.Errorf("config blob not copied: %v", err)
		}
	})
	t.Run("read as oci-archive", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "img")
		skopeo(t, "oci-archive:"+saved+":latest", "dir:"+out)
		if _, err := os.Stat(filepath.Join(out, fx.busybox.ID.Encoded())); err != nil {
			t.Errorf("config blob not copied: %v", err)
		}
	})
	t.Run("oci-archive", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "oci.tar")
		skopeo(t, "docker-archive:"+saved, "oci-archive:"+out+":repo/name:tag")
		s := newStore(t)
		loaded := load(t, s, readFile(t, out))
		// skopeo rewrites the Docker-shaped config as an OCI config, so
		// the image ID changes; the layers do not.
		if len(loaded) != 1 || !slices.Equal(loaded[0].Tags, []string{"repo/name:tag"}) {
			t.Fatalf("loaded %+v, want one image repo/name:tag", loaded)
		}
		if img, err := s.Meta.Get(context.Background(), loaded[0].ID); err != nil || img.ManifestMediaType != image.MediaTypeOCIManifest {
			t.Errorf("image %+v, %v: want skopeo's OCI manifest kept", img, err)
		}
		if got := diffIDsOf(t, s, loaded[0].ID); !slices.Equal(got, wantDiffIDs) {
			t.Errorf("diff IDs %v, want %v", got, wantDiffIDs)
		}
	})
	t.Run("docker-archive", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "docker.tar")
		skopeo(t, "docker-archive:"+saved, "docker-archive:"+out+":repo/name:tag")
		s := newStore(t)
		loaded := load(t, s, readFile(t, out))
		if len(loaded) != 1 || !slices.Equal(loaded[0].Tags, []string{"repo/name:tag"}) {
			t.Fatalf("loaded %+v, want one image repo/name:tag", loaded)
		}
		if got := diffIDsOf(t, s, loaded[0].ID); !slices.Equal(got, wantDiffIDs) {
			t.Errorf("diff IDs %v, want %v", got, wantDiffIDs)
		}
	})
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// diffIDsOf returns the diff IDs of the layers stored for image id.
func diffIDsOf(t *testing.T, s *testStore, id digest.Digest) []digest.Digest {
	t.Helper()
	img, err := s.Meta.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []digest.Digest
	for _, l := range img.Layers() {
		if !image.IsLayerMediaType(l.MediaType) {
			t.Errorf("layer %s has media type %q", l.Digest, l.MediaType)
		}
		out = append(out, l.DiffID)
	}
	return out
}
