package registry

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// skopeoInfo is the part of `skopeo inspect` the tests read.
type skopeoInfo struct {
	Digest       string
	Architecture string
	Os           string
	Layers       []string
}

// skopeoInspect runs `skopeo inspect flags... docker://ref`.
func (s *sandbox) skopeoInspect(ref string, flags ...string) skopeoInfo {
	s.t.Helper()
	var info skopeoInfo
	out := s.skopeo(append(append([]string{"inspect"}, flags...), "docker://"+ref)...)
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		s.t.Fatalf("skopeo inspect %s: %v\n%s", ref, err, out)
	}
	return info
}

// manifestLayers returns the layer digests of an image manifest.
func manifestLayers(t *testing.T, raw []byte) []string {
	t.Helper()
	var m struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest %s: %v", raw, err)
	}
	var out []string
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// TestCNCFRoundTrip pushes with strata to the CNCF registry and pulls the
// image back into another root.
func TestCNCFRoundTrip(t *testing.T) {
	t.Parallel()
	requireBusybox(t)
	reg := startCNCF(t)
	s := newSandbox(t)
	ref := reg.addr + "/library/bb:v1"
	id := s.importBusybox(ref)

	first := parsePush(t, s.ok("push", ref))
	if n := first.statuses(); n["Pushed"] < 1 || len(n) != 1 {
		t.Errorf("first push to the CNCF registry: %v", first.status)
	}
	raw, _, code := manifestOf(t, reg.url(), "library/bb", "v1")
	if code != http.StatusOK || digestOf(raw) != first.digest {
		t.Fatalf("the CNCF registry serves library/bb:v1 as %d %s, push said %s", code, digestOf(raw), first.digest)
	}
	second := parsePush(t, s.ok("push", ref))
	if n := second.statuses(); n["Layer already exists"] < 1 || len(n) != 1 || second.digest != first.digest {
		t.Errorf("second push to the CNCF registry: %v %s", second.status, second.digest)
	}
	other := reg.addr + "/team/bb:v1"
	s.ok("tag", ref, other)
	mounted := parsePush(t, s.ok("push", other))
	if n := mounted.statuses(); n["Mounted from library/bb"] < 1 || len(n) != 1 {
		t.Errorf("push to another repository of the CNCF registry: %v", mounted.status)
	}

	p := s.withRoot("pulled")
	pull := parsePull(t, p.ok("pull", ref))
	if pull.digest != first.digest || pull.final != "Downloaded newer image for "+ref {
		t.Errorf("pull from the CNCF registry: digest %s status %q", pull.digest, pull.final)
	}
	if got := p.out("inspect", "-f", "{{.Id}} {{.RepoDigests}}", ref); got != id+" ["+reg.addr+"/library/bb@"+first.digest+"]" {
		t.Errorf("pulled image: %q", got)
	}
	p.checkClean()

	if info := s.skopeoInspect(ref, "--tls-verify=false"); info.Digest != first.digest || !slices.Equal(info.Layers, manifestLayers(t, raw)) || info.Os != "linux" {
		t.Errorf("skopeo inspect: %+v; manifest %s", info, raw)
	}

	// A manifest deleted from the registry cannot be pulled.
	req, _ := http.NewRequest(http.MethodDelete, reg.url()+"/v2/library/bb/manifests/"+first.digest, nil)
	resp, err := insecureClient().Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE manifest: %v %v", resp, err)
	}
	resp.Body.Close()
	r := s.withRoot("gone").fail(1, "pull", ref)
	testbin.WantContains(t, "pull of a deleted manifest", strings.ToLower(r.Stderr), "not found")
}

// TestCraneInterop drives strata's registry with crane, and moves images
// between crane and strata both ways.
func TestCraneInterop(t *testing.T) {
	t.Parallel()
	requireBusybox(t)
	requireTools(t, "crane")
	reg := startRegistry(t, "", registryOpts{})
	host := reg.addr
	s := newSandbox(t)
	id := s.importBusybox("bb:v1")
	archive := filepath.Join(s.base, "bb.tar")
	s.ok("save", "-o", archive, "bb:v1")

	// crane push of strata's save.
	pushed := strings.TrimSpace(s.crane("push", archive, host+"/crane/bb:v1"))
	name, dg, ok := strings.Cut(pushed, "@")
	if !ok || name != host+"/crane/bb" || !strings.HasPrefix(dg, "sha256:") {
		t.Fatalf("crane push printed %q", pushed)
	}
	if got := strings.TrimSpace(s.crane("digest", host+"/crane/bb:v1")); got != dg {
		t.Errorf("crane digest %s, crane push said %s", got, dg)
	}
	if got := s.crane("ls", host+"/crane/bb"); got != "v1\n" {
		t.Errorf("crane ls: %q", got)
	}
	manifest := s.crane("manifest", host+"/crane/bb:v1")
	if digestOf([]byte(manifest)) != dg {
		t.Errorf("crane manifest bytes hash to %s, want %s", digestOf([]byte(manifest)), dg)
	}
	s.crane("copy", host+"/crane/bb:v1", host+"/copy/bb:v2")
	if got := s.crane("catalog", host); !slices.Equal(testbin.Lines(got), []string{"copy/bb", "crane/bb"}) {
		t.Errorf("crane catalog: %q", got)
	}

	// strata pulls what crane pushed and copied.
	p := s.withRoot("pulled")
	pull := parsePull(t, p.ok("pull", host+"/copy/bb:v2"))
	if pull.digest != dg {
		t.Errorf("strata pulled digest %s, crane pushed %s", pull.digest, dg)
	}
	if got := p.out("inspect", "-f", "{{.Id}}", host+"/copy/bb:v2"); got != id {
		t.Errorf("image pulled after crane push has ID %s, want %s", got, id)
	}
	p.checkClean()

	// strata push, crane reads it back.
	s.ok("tag", "bb:v1", host+"/strata/bb:v1")
	push := parsePush(t, s.ok("push", host+"/strata/bb:v1"))
	if got := strings.TrimSpace(s.crane("digest", host+"/strata/bb:v1")); got != push.digest {
		t.Errorf("crane digest of strata's push %s, push said %s", got, push.digest)
	}
	if got := digestOf([]byte(s.crane("config", host+"/strata/bb:v1"))); got != id {
		t.Errorf("crane config of strata's push hashes to %s, want the image ID %s", got, id)
	}
	out := filepath.Join(s.base, "crane-pull.tar")
	s.crane("pull", host+"/strata/bb:v1", out)
	l := s.withRoot("loaded")
	l.ok("load", "-i", out)
	if got := l.out("inspect", "-f", "{{.Id}}", host+"/strata/bb:v1"); got != id {
		t.Errorf("crane pull + strata load: ID %s, want %s", got, id)
	}

	// crane delete removes the manifest; strata can no longer pull it.
	s.crane("delete", host+"/copy/bb@"+dg)
	if got := s.crane("ls", host+"/copy/bb"); got != "" {
		t.Errorf("crane ls after crane delete: %q", got)
	}
	r := s.withRoot("gone").fail(1, "pull", host+"/copy/bb:v2")
	testbin.WantContains(t, "pull after crane delete", strings.ToLower(r.Stderr), "not found")
	if _, _, code := manifestOf(t, reg.url(), "crane/bb", "v1"); code != http.StatusOK {
		t.Errorf("deleting copy/bb's manifest broke crane/bb:v1: %d", code)
	}
}

// TestSkopeoInterop moves images between skopeo and strata through
// strata's registry.
func TestSkopeoInterop(t *testing.T) {
	t.Parallel()
	requireBusybox(t)
	requireTools(t, "skopeo")
	reg := startRegistry(t, "", registryOpts{})
	host := reg.addr
	s := newSandbox(t)
	id := s.importBusybox("bb:v1")
	diffIDs := s.out("inspect", "-f", "{{.RootFS.Layers}}", "bb:v1")
	archive := filepath.Join(s.base, "bb.tar")
	s.ok("save", "-o", archive, "bb:v1")

	// skopeo pushes a docker-archive (Docker media types, gzip).
	s.skopeo("copy", "--dest-tls-verify=false", "docker-archive:"+archive, "docker://"+host+"/skopeo/docker:v1")
	// ... and an OCI layout with zstd layers.
	layout := filepath.Join(s.base, "oci")
	s.skopeo("copy", "docker-archive:"+archive, "oci:"+layout+":v1")
	s.skopeo("copy", "--dest-tls-verify=false", "--format", "oci", "--dest-compress-format", "zstd",
		"oci:"+layout+":v1", "docker://"+host+"/skopeo/zstd:v1")
	for _, repo := range []string{"skopeo/docker", "skopeo/zstd"} {
		raw, mt, code := manifestOf(t, reg.url(), repo, "v1")
		if code != http.StatusOK {
			t.Fatalf("%s:v1: %d", repo, code)
		}
		p := s.withRoot(strings.ReplaceAll(repo, "/", "-"))
		ref := host + "/" + repo + ":v1"
		pull := parsePull(t, p.ok("pull", ref))
		if pull.digest != digestOf(raw) {
			t.Errorf("%s (%s): strata pulled digest %s, registry has %s", repo, mt, pull.digest, digestOf(raw))
		}
		if got := p.out("inspect", "-f", "{{.RootFS.Layers}} {{.Config.Cmd}}", ref); got != diffIDs+" [/bin/sh]" {
			t.Errorf("%s (%s): pulled image has %q, want %q", repo, mt, got, diffIDs+" [/bin/sh]")
		}
		p.checkClean()
		// Pushed on to another repository, the image keeps its manifest
		// byte for byte (media types and compression included).
		again := host + "/repushed/" + strings.ReplaceAll(repo, "/", "-") + ":v1"
		p.ok("tag", ref, again)
		if push := parsePush(t, p.ok("push", again)); push.digest != digestOf(raw) {
			t.Errorf("%s (%s): pulled and pushed again, the digest changed from %s to %s", repo, mt, digestOf(raw), push.digest)
		}
	}

	// strata pushes; skopeo copies to a directory byte for byte.
	ref := host + "/strata/bb:v1"
	s.ok("tag", "bb:v1", ref)
	push := parsePush(t, s.ok("push", ref))
	dir := filepath.Join(s.base, "dir")
	s.skopeo("copy", "--src-tls-verify=false", "docker://"+ref, "dir:"+dir)
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(raw) != push.digest {
		t.Errorf("skopeo copied a manifest with digest %s, strata pushed %s", digestOf(raw), push.digest)
	}
	var m struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.Config.Digest != id {
		t.Errorf("pushed config %s, want the image ID %s", m.Config.Digest, id)
	}
	for _, dg := range append([]string{m.Config.Digest}, func() (l []string) {
		for _, x := range m.Layers {
			l = append(l, x.Digest)
		}
		return
	}()...) {
		data, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(dg, "sha256:")))
		if err != nil || digestOf(data) != dg {
			t.Errorf("skopeo's copy of blob %s: %v, hashes to %s", dg, err, digestOf(data))
		}
	}
	if info := s.skopeoInspect(ref, "--tls-verify=false"); info.Digest != push.digest {
		t.Errorf("skopeo inspect digest %s, push said %s", info.Digest, push.digest)
	}
}

// TestCNCFAuth logs in to the CNCF registry with htpasswd (Basic auth)
// and pushes and pulls there.
func TestCNCFAuth(t *testing.T) {
	t.Parallel()
	htpasswd := writeHtpasswd(t, filepath.Join(t.TempDir(), "htpasswd"), map[string]string{"carol": "c-pass"})
	reg := startCNCF(t, "auth:\n  htpasswd:\n    realm: test-realm\n    path: "+htpasswd+"\n")
	host := reg.addr
	s := newSandbox(t)
	ref := host + "/auth/app:v1"
	id := s.loadLayers(ref, randomLayers(t, 130, 2, 32<<10))
	wantUnauthorized(t, "anonymous push to the CNCF registry", s.fail(1, "push", ref).Stderr)
	r := s.strata(strings.NewReader("wrong\n"), "login", "-u", "carol", "--password-stdin", host)
	if r.Code != 1 {
		t.Errorf("login to the CNCF registry with a wrong password: %s", r)
	}
	s.login(host, "carol", "c-pass")
	push := parsePush(t, s.ok("push", ref))
	p := s.withRoot("pulled")
	if pull := parsePull(t, p.ok("pull", ref)); pull.digest != push.digest {
		t.Errorf("pull from the CNCF registry with credentials: digest %s, pushed %s", pull.digest, push.digest)
	}
	if got := p.out("inspect", "-f", "{{.Id}}", ref); got != id {
		t.Errorf("pulled ID %s, want %s", got, id)
	}
	s.ok("logout", host)
	wantUnauthorized(t, "pull from the CNCF registry after logout", s.withRoot("out").fail(1, "pull", ref).Stderr)
}
