package imagearchive

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/strata-dev/strata/internal/archive"
)

// FuzzLoad feeds arbitrary bytes to Load: it must never panic, and a load
// that fails must leave no image, no blob and no ingest behind.
func FuzzLoad(f *testing.F) {
	fx := newFixture(f)
	saved := save(f, fx.s, "busybox:latest", fx.anon.ID.String())
	legacy, _ := legacyArchive(f)
	oci, _, _, _ := ociArchive(f, map[string]string{"a": "oci:1"})
	for _, seed := range [][]byte{
		saved, gzipBytes(f, saved), zstdBytes(f, legacy), legacy, oci,
		dockerArchive(f, testImage{layers: [][]byte{layerTar(f, "x")}, tags: []string{"x:1"}}),
		saved[:len(saved)/2], nil, []byte("not an archive"),
	} {
		f.Add(seed)
	}
	s := newStore(f)
	lim := archive.Limits{MaxSize: 8 << 20, MaxEntries: 1000}
	f.Fuzz(func(t *testing.T, data []byte) {
		imgs, blobs := s.images(t), s.blobs(t)
		loaded, err := Load(context.Background(), s.Store, bytes.NewReader(data), LoadOptions{Limits: lim})
		if err != nil {
			if after := s.images(t); len(after) != len(imgs) {
				t.Errorf("failed load (%v) changed the images: %d -> %d", err, len(imgs), len(after))
			}
			if after := s.blobs(t); !slices.Equal(after, blobs) {
				t.Errorf("failed load (%v) changed the blobs", err)
			}
		}
		for _, l := range loaded {
			if _, err := s.Meta.Get(context.Background(), l.ID); err != nil {
				t.Errorf("loaded image %s is not in the store: %v", l.ID, err)
			}
		}
		if left := s.ingests(t); len(left) > 0 {
			t.Errorf("ingests left behind: %v", left)
		}
	})
}
