package imagearchive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/ulikunitz/xz"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
)

// testImage describes one image of an archive built by dockerArchive.
type testImage struct {
	layers  [][]byte
	tags    []string
	diffIDs []digest.Digest // overrides the layers' real diff IDs
	paths   []string        // overrides the layer paths in manifest.json
}

// dockerArchive builds a Docker 25+ style archive (blobs/sha256/<hex>,
// manifest.json last) of imgs, without validating anything.
func dockerArchive(t testing.TB, imgs ...testImage) []byte {
	t.Helper()
	var files []file
	seen := map[string]bool{}
	add := func(b []byte) string {
		p := blobPath(digest.FromBytes(b))
		if !seen[p] {
			seen[p] = true
			files = append(files, file{name: p, body: string(b)})
		}
		return p
	}
	var items []manifestItem
	for i, img := range imgs {
		cfg := image.Config{Architecture: runtime.GOARCH, OS: "linux", RootFS: image.RootFS{Type: "layers", DiffIDs: img.diffIDs}}
		cfg.Config.Labels = map[string]string{"n": string(rune('a' + i))}
		item := manifestItem{RepoTags: img.tags, Layers: img.paths}
		for _, l := range img.layers {
			p := add(l)
			if img.paths == nil {
				item.Layers = append(item.Layers, p)
			}
			if img.diffIDs == nil {
				cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID(t, l))
			}
		}
		if cfg.RootFS.DiffIDs == nil {
			cfg.RootFS.DiffIDs = []digest.Digest{}
		}
		raw, _, err := cfg.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		item.Config = add(raw)
		items = append(items, item)
	}
	files = append(files, file{name: "manifest.json", body: mustJSON(t, items)})
	return buildTar(t, files...)
}

func xzBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLoadRefusesHostileArchives(t *testing.T) {
	t.Parallel()
	good := layerTar(t, "good")
	dotdot := buildTar(t, file{name: "../etc/passwd", body: "root::0:0::/:/bin/sh\n"})
	symlinkWrite := buildTar(t, file{name: "a", typeflag: tar.TypeSymlink, linkname: "/etc"}, file{name: "a/passwd", body: "x"})
	hardlink := buildTar(t, file{name: "shadow", typeflag: tar.TypeLink, linkname: "../../etc/shadow"})
	device := buildTar(t, file{name: "dev/null", typeflag: tar.TypeChar})
	bomb := gzipBytes(t, buildTar(t, file{name: "zeros", body: string(make([]byte, 8<<20))}))
	valid := dockerArchive(t, testImage{layers: [][]byte{good}, tags: []string{"ok:1"}})
	layerName := func(l []byte) string { return "layer " + blobPath(digest.FromBytes(l)) + ": " }

	cases := []struct {
		name  string
		arch  []byte
		class error
		msg   string
	}{
		{"outer dotdot", buildTar(t, file{name: "../x", body: "x"}), errdefs.ErrInvalidArgument,
			`archive entry "../x": path escapes the archive`},
		{"outer absolute", buildTar(t, file{name: "/etc/cron.d/x", body: "x"}), errdefs.ErrInvalidArgument,
			`archive entry "/etc/cron.d/x": path is absolute`},
		{"outer symlink escapes", buildTar(t, file{name: "x/layer.tar", typeflag: tar.TypeSymlink, linkname: "../../etc/passwd"}),
			errdefs.ErrInvalidArgument, `archive entry "x/layer.tar": symlink target escapes the archive`},
		{"outer symlink absolute", buildTar(t, file{name: "x/layer.tar", typeflag: tar.TypeSymlink, linkname: "/etc/passwd"}),
			errdefs.ErrInvalidArgument, `archive entry "x/layer.tar": symlink target is absolute`},
		{"outer hard link escapes", buildTar(t, file{name: "x", typeflag: tar.TypeLink, linkname: "../x"}),
			errdefs.ErrInvalidArgument, `archive entry "x": hard link target escapes the archive`},
		{"layer dotdot", dockerArchive(t, testImage{layers: [][]byte{good, dotdot}}), errdefs.ErrInvalidArgument,
			layerName(dotdot) + `entry "../etc/passwd": path escapes the root`},
		{"layer symlink then write", dockerArchive(t, testImage{layers: [][]byte{gzipBytes(t, symlinkWrite)}}), errdefs.ErrInvalidArgument,
			layerName(gzipBytes(t, symlinkWrite)) + `entry "a/passwd": writes through symlink "a"`},
		{"layer hard link escapes", dockerArchive(t, testImage{layers: [][]byte{hardlink}}), errdefs.ErrInvalidArgument,
			layerName(hardlink) + `entry "shadow": hard link target escapes the root`},
		{"layer device node", dockerArchive(t, testImage{layers: [][]byte{device}}), errdefs.ErrInvalidArgument,
			layerName(device) + `entry "dev/null": device node`},
		{"manifest names escaping path", dockerArchive(t, testImage{layers: [][]byte{good}, paths: []string{"../../etc/passwd"}}),
			errdefs.ErrInvalidArgument, `manifest.json references "../../etc/passwd", which is not in the archive`},
		{"diff ID mismatch", dockerArchive(t, testImage{layers: [][]byte{good}, diffIDs: []digest.Digest{digest.FromString("other")}}),
			errdefs.ErrCorrupt, "layer " + blobPath(digest.FromBytes(good)) + " has diff ID " + diffID(t, good).String()},
		{"second image bad", dockerArchive(t, testImage{layers: [][]byte{good}, tags: []string{"ok:1"}}, testImage{layers: [][]byte{dotdot}, tags: []string{"bad:1"}}),
			errdefs.ErrInvalidArgument, `entry "../etc/passwd": path escapes the root`},
		{"bad tag", dockerArchive(t, testImage{layers: [][]byte{good}, tags: []string{"UPPER:case"}}), errdefs.ErrInvalidArgument,
			`manifest.json: repo tag "UPPER:case"`},
		{"truncated gzip", gzipBytes(t, valid)[:len(gzipBytes(t, valid))/2], errdefs.ErrCorrupt, "truncated"},
		{"gzip without trailer", gzipBytes(t, valid)[:len(gzipBytes(t, valid))-4], errdefs.ErrCorrupt, "truncated"},
		{"bomb", dockerArchive(t, testImage{layers: [][]byte{bomb}}), errdefs.ErrLimitExceeded,
			layerName(bomb) + "layer is larger than the limit of 1048576 bytes"},
		{"xz layer", dockerArchive(t, testImage{layers: [][]byte{xzBytes(t, good)}}), errdefs.ErrUnsupported,
			"xz-compressed layers are not supported"},
		{"blob content differs from name", buildTar(t, file{name: blobPath(digest.FromString("x")), body: string(good)}, file{name: "manifest.json",
			body: mustJSON(t, []manifestItem{{Config: "c.json", Layers: []string{blobPath(digest.FromString("x"))}}})},
			file{name: "c.json", body: string(configFor(t, "c", good))}),
			errdefs.ErrCorrupt, "content has digest " + digest.FromBytes(good).String()},
		{"no manifest", buildTar(t, file{name: "layer.tar", body: string(good)}), errdefs.ErrInvalidArgument,
			"archive has neither manifest.json nor index.json"},
		{"not a tar", bytes.Repeat([]byte("garbage!"), 100), errdefs.ErrInvalidArgument, "not a valid tar"},
		{"large non-layer file", buildTar(t, file{name: "big.json", body: strings.Repeat(" ", maxSmallFile+1)}), errdefs.ErrLimitExceeded,
			`archive entry "big.json"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			pre := addImage(t, s, "pre", []string{"pre:1"}, layerTar(t, "pre"))
			blobs := s.blobs(t)
			_, err := Load(context.Background(), s.Store, bytes.NewReader(tc.arch), LoadOptions{Limits: archive.Limits{MaxSize: 1 << 20}})
			if err == nil {
				t.Fatal("load succeeded")
			}
			t.Log(err)
			if !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v (class %v), want %q (%v)", err, errors.Is(err, tc.class), tc.msg, tc.class)
			}
			if imgs := s.images(t); len(imgs) != 1 || imgs[0].ID != pre.ID {
				t.Errorf("images after a failed load: %+v", imgs)
			}
			if after := s.blobs(t); !slices.Equal(after, blobs) {
				t.Errorf("blobs after a failed load: %v, before %v", after, blobs)
			}
			if left := s.ingests(t); len(left) > 0 {
				t.Errorf("ingests left behind: %v", left)
			}
		})
	}
}

func TestLoadEntryErrorIsTyped(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	_, err := Load(context.Background(), s.Store, bytes.NewReader(buildTar(t, file{name: "a/../../x", body: "x"})), LoadOptions{})
	var ee *archive.EntryError
	if !errors.As(err, &ee) || ee.Entry != "a/../../x" {
		t.Fatalf("err = %v, want an *archive.EntryError naming the entry", err)
	}
}

func TestLoadCanceled(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	arch, _ := legacyArchive(t)
	if _, err := Load(ctx, s.Store, bytes.NewReader(arch), LoadOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if len(s.images(t)) != 0 || len(s.blobs(t)) != 0 || len(s.ingests(t)) != 0 {
		t.Error("a canceled load left something behind")
	}
}
