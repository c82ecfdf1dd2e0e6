package registry

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// Media types of the images the tests write themselves.
const (
	mtOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	mtOCIConfig   = "application/vnd.oci.image.config.v1+json"
	mtOCILayer    = "application/vnd.oci.image.layer.v1.tar"
	mtOCIIndex    = "application/vnd.oci.image.index.v1+json"
)

// digestOf is "sha256:<hex>" of data.
func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// short is the 12-character form of a digest or ID.
func short(dg string) string {
	return strings.TrimPrefix(dg, "sha256:")[:12]
}

// randomBytes is n pseudo-random bytes determined by seed.
func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// tarLayer is an uncompressed layer tar holding files (name -> content),
// written in name order with fixed metadata.
func tarLayer(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// randomLayers makes n layers, each one file of size random bytes.
func randomLayers(t testing.TB, seed uint64, n, size int) [][]byte {
	t.Helper()
	layers := make([][]byte, n)
	for i := range layers {
		layers[i] = tarLayer(t, map[string][]byte{
			fmt.Sprintf("data/layer%d.bin", i): randomBytes(seed*100+uint64(i), size),
		})
	}
	return layers
}

// imageConfig is a linux/amd64 image config with the given uncompressed
// layers' diff IDs.
func imageConfig(diffIDs []string) []byte {
	return platformConfig("amd64", diffIDs)
}

// platformConfig is a linux image config for arch, which may carry a
// variant ("arm/v7").
func platformConfig(arch string, diffIDs []string) []byte {
	arch, variant, _ := strings.Cut(arch, "/")
	cfg := map[string]any{
		"architecture": arch,
		"os":           "linux",
		"config":       map[string]any{"Cmd": []string{"/bin/sh"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
	}
	if variant != "" {
		cfg["variant"] = variant
	}
	b, _ := json.Marshal(cfg)
	return b
}

// writeDockerArchive writes a `docker save` archive of one image made of
// the uncompressed layers, tagged repoTag, and returns its path.
func writeDockerArchive(t *testing.T, path, repoTag string, layers [][]byte) string {
	t.Helper()
	var diffIDs, layerPaths []string
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range layers {
		dg := digestOf(l)
		diffIDs = append(diffIDs, dg)
		p := strings.TrimPrefix(dg, "sha256:") + "/layer.tar"
		layerPaths = append(layerPaths, p)
		add(p, l)
	}
	cfg := imageConfig(diffIDs)
	cfgName := strings.TrimPrefix(digestOf(cfg), "sha256:") + ".json"
	add(cfgName, cfg)
	man, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{repoTag}, "Layers": layerPaths}})
	add("manifest.json", man)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// blob is a blob to upload: its digest, size and content.
type blob struct {
	digest string
	size   int64
	open   func() (io.ReadCloser, error)
}

func bytesBlob(data []byte) blob {
	return blob{digest: digestOf(data), size: int64(len(data)),
		open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

// uploadBlob uploads b into repo of the registry at base: POST, then a
// monolithic PUT. It fails the test unless the registry answers 201.
func uploadBlob(t *testing.T, base, repo string, b blob) {
	t.Helper()
	c := insecureClient()
	resp, err := c.Post(base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST upload to %s: %s", repo, resp.Status)
	}
	loc := uploadURL(t, base, resp, url.Values{"digest": {b.digest}})
	body, err := b.open()
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	req, _ := http.NewRequest(http.MethodPut, loc, body)
	req.ContentLength = b.size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT blob %s to %s: %s %s", b.digest, repo, resp.Status, msg)
	}
}

// uploadURL resolves an upload session's Location against base and adds q
// to its query.
func uploadURL(t *testing.T, base string, resp *http.Response, q url.Values) string {
	t.Helper()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.Header.Get("Location") == "" {
		t.Fatalf("upload session without a usable Location: %q", resp.Header.Get("Location"))
	}
	b, _ := url.Parse(base)
	u := b.ResolveReference(loc)
	query := u.Query()
	for k, v := range q {
		query[k] = v
	}
	u.RawQuery = query.Encode()
	return u.String()
}

// putManifest PUTs raw as ref of repo and returns the status and the
// response body.
func putManifest(t *testing.T, base, repo, ref, mediaType string, raw []byte) (int, []byte) {
	t.Helper()
	code, _, body := do(t, http.MethodPut, base+"/v2/"+repo+"/manifests/"+ref, raw, map[string]string{"Content-Type": mediaType})
	return code, body
}

// ociManifest is an OCI image manifest of config and layers (uncompressed
// tar media type).
func ociManifest(config blob, layers []blob) []byte {
	desc := func(mt string, b blob) map[string]any {
		return map[string]any{"mediaType": mt, "digest": b.digest, "size": b.size}
	}
	ls := make([]map[string]any, len(layers))
	for i, l := range layers {
		ls[i] = desc(mtOCILayer, l)
	}
	raw, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mtOCIManifest,
		"config": desc(mtOCIConfig, config), "layers": ls})
	return raw
}

// pushImage uploads a linux/amd64 image of uncompressed layers (diff IDs
// are their digests) over HTTP and tags it; it returns the manifest digest.
func pushImage(t *testing.T, base, repo, tag string, layers []blob) string {
	t.Helper()
	dg, _ := pushPlatformImage(t, base, repo, tag, "amd64", layers)
	return dg
}

// pushPlatformImage is pushImage for a linux/arch image; ref may be a tag
// or "" (the manifest is put by digest). It returns the manifest digest
// and size.
func pushPlatformImage(t *testing.T, base, repo, ref, arch string, layers []blob) (string, int) {
	t.Helper()
	diffIDs := make([]string, len(layers))
	for i, l := range layers {
		diffIDs[i] = l.digest
		uploadBlob(t, base, repo, l)
	}
	cfg := bytesBlob(platformConfig(arch, diffIDs))
	uploadBlob(t, base, repo, cfg)
	raw := ociManifest(cfg, layers)
	if ref == "" {
		ref = digestOf(raw)
	}
	if code, body := putManifest(t, base, repo, ref, mtOCIManifest, raw); code != http.StatusCreated {
		t.Fatalf("PUT manifest %s:%s: %d %s", repo, ref, code, body)
	}
	return digestOf(raw), len(raw)
}

// pushIndex pushes one image per architecture (one random layer each) and
// an OCI index of them under tag; it returns the index digest and the
// per-architecture manifest digests.
func pushIndex(t *testing.T, base, repo, tag string, archs ...string) (string, map[string]string) {
	t.Helper()
	var manifests []map[string]any
	digests := map[string]string{}
	for i, arch := range archs {
		layer := bytesBlob(tarLayer(t, map[string][]byte{arch + ".bin": randomBytes(uint64(900+i), 4096)}))
		dg, size := pushPlatformImage(t, base, repo, "", arch, []blob{layer})
		digests[arch] = dg
		a, variant, _ := strings.Cut(arch, "/")
		platform := map[string]string{"os": "linux", "architecture": a}
		if variant != "" {
			platform["variant"] = variant
		}
		manifests = append(manifests, map[string]any{"mediaType": mtOCIManifest, "digest": dg, "size": size, "platform": platform})
	}
	raw, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mtOCIIndex, "manifests": manifests})
	if code, body := putManifest(t, base, repo, tag, mtOCIIndex, raw); code != http.StatusCreated {
		t.Fatalf("PUT index %s:%s: %d %s", repo, tag, code, body)
	}
	return digestOf(raw), digests
}

// tool runs a third-party client with the sandbox's environment; it skips
// the test when the program is missing.
func (s *sandbox) tool(name string, args ...string) testbin.Result {
	s.t.Helper()
	path := findTool(s.t, name)
	cmd := exec.Command(path, args...)
	cmd.Env = s.environ()
	cmd.Dir = s.base
	r, err := testbin.Capture(cmd)
	if err != nil {
		s.t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return r
}

// toolOK runs tool and requires exit 0; it returns stdout.
func (s *sandbox) toolOK(name string, args ...string) string {
	s.t.Helper()
	r := s.tool(name, args...)
	if r.Code != 0 {
		s.t.Fatalf("%s %s: %s", name, strings.Join(args, " "), r)
	}
	return r.Stdout
}

// skopeo runs skopeo with --insecure-policy (no /etc/containers/policy.json
// needed).
func (s *sandbox) skopeo(args ...string) string {
	s.t.Helper()
	return s.toolOK("skopeo", append([]string{"--insecure-policy"}, args...)...)
}

// crane runs crane with --insecure (plain http).
func (s *sandbox) crane(args ...string) string {
	s.t.Helper()
	return s.toolOK("crane", append(args, "--insecure")...)
}

// findTool finds a client in PATH or ~/go/bin, or skips the test.
func findTool(t *testing.T, name string) string {
	t.Helper()
	p := testbin.Tool(name)
	if p == "" {
		t.Skipf("%s is not installed", name)
	}
	return p
}

// requireTools skips the test unless every named client is installed.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		findTool(t, n)
	}
}
