package registry

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// pushResult is what `strata push` printed, parsed.
type pushResult struct {
	repo   string            // from "The push refers to repository [...]"
	status map[string]string // layer ID -> final status
	tag    string
	digest string
	size   string
}

var pushDigestLine = regexp.MustCompile(`^(\S+): digest: (sha256:[0-9a-f]{64}) size: (\d+)$`)

// parsePush parses push output, failing the test on lines it does not know.
func parsePush(t *testing.T, out string) pushResult {
	t.Helper()
	r := pushResult{status: map[string]string{}}
	ls := testbin.Lines(out)
	if len(ls) < 2 {
		t.Fatalf("push printed too little:\n%s", out)
	}
	repo, ok := strings.CutPrefix(ls[0], "The push refers to repository [")
	if !ok || !strings.HasSuffix(repo, "]") {
		t.Fatalf("push's first line is %q, want \"The push refers to repository [...]\"", ls[0])
	}
	r.repo = strings.TrimSuffix(repo, "]")
	m := pushDigestLine.FindStringSubmatch(ls[len(ls)-1])
	if m == nil {
		t.Fatalf("push's last line is %q, want \"<tag>: digest: sha256:... size: N\"", ls[len(ls)-1])
	}
	r.tag, r.digest, r.size = m[1], m[2], m[3]
	for _, l := range ls[1 : len(ls)-1] {
		id, status, ok := strings.Cut(l, ": ")
		if !ok || len(id) != 12 {
			t.Fatalf("push printed %q, want \"<id>: <status>\"", l)
		}
		r.status[id] = status
	}
	return r
}

// statuses counts the layers of a push by status.
func (p pushResult) statuses() map[string]int {
	n := map[string]int{}
	for _, s := range p.status {
		n[s]++
	}
	return n
}

// pullResult is what `strata pull` printed, parsed.
type pullResult struct {
	from   string            // "<tag>: Pulling from <path>"
	status map[string]string // layer ID -> last status
	digest string
	final  string // "Status: ..."
	name   string // the last line
}

// parsePull parses non-quiet pull output of one image.
func parsePull(t *testing.T, out string) pullResult {
	t.Helper()
	r := pullResult{status: map[string]string{}}
	ls := testbin.Lines(out)
	if len(ls) < 4 {
		t.Fatalf("pull printed too little:\n%s", out)
	}
	r.from, r.name = ls[0], ls[len(ls)-1]
	for _, l := range ls[1 : len(ls)-1] {
		switch {
		case strings.HasPrefix(l, "Digest: "):
			r.digest = strings.TrimPrefix(l, "Digest: ")
		case strings.HasPrefix(l, "Status: "):
			r.final = strings.TrimPrefix(l, "Status: ")
		default:
			id, status, ok := strings.Cut(l, ": ")
			if !ok || len(id) != 12 {
				t.Fatalf("pull printed %q, want \"<id>: <status>\"\n%s", l, out)
			}
			r.status[id] = status
		}
	}
	return r
}

func (p pullResult) statuses() map[string]int {
	n := map[string]int{}
	for _, s := range p.status {
		n[s]++
	}
	return n
}

// manifestOf GETs a manifest as the registry serves it.
func manifestOf(t *testing.T, base, repo, ref string) (raw []byte, mediaType string, status int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v2/"+repo+"/manifests/"+ref, nil)
	req.Header.Set("Accept", strings.Join([]string{mtOCIManifest, "application/vnd.oci.image.index.v1+json",
		"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json"}, ", "))
	resp, err := insecureClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ = io.ReadAll(resp.Body)
	return raw, resp.Header.Get("Content-Type"), resp.StatusCode
}

// loadLayers writes a docker-archive of the layers tagged ref and loads it;
// it returns the image ID.
func (s *sandbox) loadLayers(ref string, layers [][]byte) string {
	s.t.Helper()
	archive := writeDockerArchive(s.t, filepath.Join(s.base, fmt.Sprintf("archive-%d.tar", len(layers))), ref, layers)
	s.ok("load", "-i", archive)
	return s.out("inspect", "-f", "{{.Id}}", ref)
}

func TestPushPullRoundTrip(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "", registryOpts{})
	host := reg.addr
	s := newSandbox(t)
	layers := randomLayers(t, 1, 3, 256<<10)
	ref := host + "/app:v1"
	id := s.loadLayers(ref, layers)

	// First push: everything is uploaded, the manifest is what the registry
	// serves under the tag.
	m := reg.mark()
	first := parsePush(t, s.ok("push", ref))
	if first.repo != host+"/app" || first.tag != "v1" {
		t.Errorf("push header/trailer: repo %q tag %q", first.repo, first.tag)
	}
	if n := first.statuses(); n["Pushed"] < len(layers) || len(n) != 1 {
		t.Errorf("first push statuses %v, want every layer Pushed", first.status)
	}
	raw, _, code := manifestOf(t, reg.url(), "app", "v1")
	if code != http.StatusOK || digestOf(raw) != first.digest || fmt.Sprint(len(raw)) != first.size {
		t.Errorf("registry serves app:v1 as %d %s (%d bytes), push said %s size %s", code, digestOf(raw), len(raw), first.digest, first.size)
	}
	puts := 0
	for _, e := range reg.since(m) {
		if e.Route == "upload" && e.Method == "PUT" && e.Status == http.StatusCreated {
			puts++
		}
	}
	if puts != len(layers)+1 {
		t.Errorf("first push completed %d blob uploads, want %d (layers and config)", puts, len(layers)+1)
	}

	// Docker records the pushed digest: images --digests and RepoDigests
	// show it in the pushing store too.
	if got := s.out("inspect", "-f", "{{.RepoDigests}}", ref); got != "["+host+"/app@"+first.digest+"]" {
		t.Errorf("RepoDigests after push: %s, want [%s/app@%s]", got, host, first.digest)
	}

	// Second push: nothing is uploaded.
	m = reg.mark()
	second := parsePush(t, s.ok("push", ref))
	if n := second.statuses(); n["Layer already exists"] < len(layers) || len(n) != 1 {
		t.Errorf("second push statuses %v, want every layer \"Layer already exists\"", second.status)
	}
	if second.digest != first.digest {
		t.Errorf("second push digest %s, first %s", second.digest, first.digest)
	}
	if n := blobUploads(reg.since(m)); n != 0 {
		t.Errorf("second push made %d blob upload requests (PATCH/PUT), want 0", n)
	}

	// Another repository of the same registry: blobs are mounted.
	other := host + "/team/app:v1"
	s.ok("tag", ref, other)
	m = reg.mark()
	mounted := parsePush(t, s.ok("push", other))
	if n := mounted.statuses(); n["Mounted from app"] < len(layers) || len(n) != 1 {
		t.Errorf("push to another repository: statuses %v, want every layer \"Mounted from app\"", mounted.status)
	}
	if n := blobUploads(reg.since(m)); n != 0 {
		t.Errorf("push to another repository made %d blob upload requests, want 0 (mounts)", n)
	}
	if mounted.digest != first.digest {
		t.Errorf("push to another repository: digest %s, want %s", mounted.digest, first.digest)
	}

	// Pull into a fresh root.
	p := s.withRoot("pulled")
	pull := parsePull(t, p.ok("pull", ref))
	if pull.from != "v1: Pulling from app" {
		t.Errorf("pull's first line %q, want \"v1: Pulling from app\"", pull.from)
	}
	if n := pull.statuses(); n["Pull complete"] != len(layers) || len(n) != 1 {
		t.Errorf("pull statuses %v, want %d layers \"Pull complete\"", pull.status, len(layers))
	}
	if pull.digest != first.digest || pull.final != "Downloaded newer image for "+ref || pull.name != ref {
		t.Errorf("pull: digest %q status %q name %q", pull.digest, pull.final, pull.name)
	}
	if got := p.out("inspect", "-f", "{{.Id}}", ref); got != id {
		t.Errorf("pulled image ID %s, pushed %s", got, id)
	}
	diffIDs := make([]string, len(layers))
	for i, l := range layers {
		diffIDs[i] = digestOf(l)
	}
	if got := p.out("inspect", "-f", "{{.RootFS.Layers}}", ref); got != "["+strings.Join(diffIDs, " ")+"]" {
		t.Errorf("pulled layers %s, want %v", got, diffIDs)
	}
	if got := p.out("inspect", "-f", "{{.RepoDigests}}", ref); got != "["+host+"/app@"+first.digest+"]" {
		t.Errorf("RepoDigests %s, want [%s/app@%s]", got, host, first.digest)
	}
	rows := p.out("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}")
	if rows != host+"/app v1 "+first.digest {
		t.Errorf("images --digests: %q, want %q", rows, host+"/app v1 "+first.digest)
	}
	table := testbin.Lines(p.ok("images", "--digests"))
	if len(table) != 2 || !strings.Contains(table[0], "DIGEST") || !strings.Contains(table[1], first.digest) {
		t.Errorf("images --digests table:\n%s", strings.Join(table, "\n"))
	}

	// Pulling again fetches no blob.
	m = reg.mark()
	again := parsePull(t, p.ok("pull", ref))
	if n := again.statuses(); n["Already exists"] != len(layers) || len(n) != 1 {
		t.Errorf("second pull statuses %v, want every layer \"Already exists\"", again.status)
	}
	if again.final != "Image is up to date for "+ref {
		t.Errorf("second pull status %q", again.final)
	}
	for _, e := range reg.since(m) {
		if e.Route == "blob" && e.Method == "GET" {
			t.Errorf("second pull fetched blob %s", e.Path)
		}
	}
	p.checkClean()
}

func TestPullByDigest(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "", registryOpts{})
	s := newSandbox(t)
	ref := reg.addr + "/bydigest/img:v1"
	id := s.loadLayers(ref, randomLayers(t, 2, 2, 64<<10))
	dg := parsePush(t, s.ok("push", ref)).digest
	p := s.withRoot("pulled")
	byDigest := reg.addr + "/bydigest/img@" + dg
	out := p.ok("pull", byDigest)
	pull := parsePull(t, out)
	if pull.digest != dg || pull.name != byDigest || pull.final != "Downloaded newer image for "+byDigest {
		t.Errorf("pull by digest printed:\n%s", out)
	}
	if got := p.out("inspect", "-f", "{{.Id}} {{.RepoTags}} {{.RepoDigests}}", byDigest); got != id+" [] ["+byDigest+"]" {
		t.Errorf("inspect after pull by digest: %q", got)
	}
	if got := p.out("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}"); got != reg.addr+"/bydigest/img <none> "+dg {
		t.Errorf("images --digests after pull by digest: %q", got)
	}
	// The tag next: nothing to download (Docker bases the status on
	// layers downloaded), and the tag is added.
	tagged := parsePull(t, p.ok("pull", ref))
	if tagged.final != "Image is up to date for "+ref || tagged.statuses()["Already exists"] != 2 {
		t.Errorf("pull by tag after pull by digest: status %q, layers %v", tagged.final, tagged.status)
	}
	if got := p.out("inspect", "-f", "{{.RepoTags}}", byDigest); got != "["+ref+"]" {
		t.Errorf("tags after pull by tag: %s", got)
	}
	// And by digest again: up to date.
	if again := parsePull(t, p.ok("pull", byDigest)); again.final != "Image is up to date for "+byDigest {
		t.Errorf("second pull by digest: status %q", again.final)
	}

	// A digest the registry does not have fails.
	missing := reg.addr + "/bydigest/img@sha256:" + strings.Repeat("0", 64)
	r := p.fail(1, "pull", missing)
	testbin.WantContains(t, "pull of a missing digest", strings.ToLower(r.Stderr), "not found")
	// -q prints the name only.
	q := s.withRoot("quiet")
	if got := q.out("pull", "-q", byDigest); got != byDigest {
		t.Errorf("pull -q printed %q, want %q", got, byDigest)
	}
	q.checkClean()
}

func TestPullAllTags(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "", registryOpts{})
	s := newSandbox(t)
	repo := reg.addr + "/multi"
	idA := s.loadLayers(repo+":a", randomLayers(t, 3, 1, 32<<10))
	idB := s.loadLayers(repo+":b", randomLayers(t, 4, 2, 32<<10))
	s.ok("tag", repo+":a", repo+":c")
	out := s.ok("push", "--all-tags", repo)
	for _, tag := range []string{"a", "b", "c"} {
		if !regexp.MustCompile(`(?m)^` + tag + `: digest: sha256:[0-9a-f]{64} size: \d+$`).MatchString(out) {
			t.Errorf("push --all-tags did not push %s:\n%s", tag, out)
		}
	}
	p := s.withRoot("pulled")
	out = p.ok("pull", "--all-tags", repo)
	// Docker prints one status for the repository, after every tag.
	ls := testbin.Lines(out)
	if len(ls) < 2 || ls[len(ls)-2] != "Status: Downloaded newer image for "+repo || ls[len(ls)-1] != repo {
		t.Errorf("pull --all-tags does not end with the repository's status and name:\n%s", out)
	}
	if n := strings.Count(out, "Status: "); n != 1 {
		t.Errorf("pull --all-tags printed %d Status lines, want 1:\n%s", n, out)
	}
	got := p.out("images", "--format", "{{.Tag}} {{.ID}}", repo)
	want := strings.Join([]string{"a " + short(idA), "b " + short(idB), "c " + short(idA)}, "\n")
	if strings.Join(sorted(testbin.Lines(got)), "\n") != want {
		t.Errorf("images after pull --all-tags:\n%s\nwant:\n%s", got, want)
	}
}

func TestPullPlatform(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "", registryOpts{})
	s := newSandbox(t)
	index, digests := pushIndex(t, reg.url(), "multiarch", "v1", "amd64", "arm64")
	ref := reg.addr + "/multiarch:v1"

	arm := s.withRoot("arm")
	pull := parsePull(t, arm.ok("pull", "--platform", "linux/arm64", ref))
	if pull.digest != index {
		t.Errorf("pull of an index printed Digest %s, want the index's %s", pull.digest, index)
	}
	if got := arm.out("inspect", "-f", "{{.Os}}/{{.Architecture}} {{.RepoDigests}}", ref); got != "linux/arm64 ["+reg.addr+"/multiarch@"+index+"]" {
		t.Errorf("pull --platform linux/arm64: inspect %q", got)
	}
	amd := s.withRoot("amd")
	amd.ok("pull", "--platform", "linux/amd64", ref)
	if got := amd.out("inspect", "-f", "{{.Architecture}}", ref); got != "amd64" {
		t.Errorf("pull --platform linux/amd64: architecture %q", got)
	}
	// A platform the index lacks is an error, and nothing is stored.
	none := s.withRoot("none")
	r := none.fail(1, "pull", "--platform", "linux/s390x", ref)
	testbin.WantContains(t, "pull --platform linux/s390x", r.Stderr, "linux/s390x")
	if got := none.out("images", "-q"); got != "" {
		t.Errorf("a failed pull left images: %q", got)
	}
	// One platform's manifest pulled by digest.
	byDigest := reg.addr + "/multiarch@" + digests["arm64"]
	none.ok("pull", byDigest)
	if got := none.out("inspect", "-f", "{{.Architecture}}", byDigest); got != "arm64" {
		t.Errorf("pull of the arm64 manifest by digest: architecture %q", got)
	}
}

// TestPushProgressIDs checks the IDs push prints: one line per layer, named
// by the layer's diff ID as Docker does, the same on every push.
func TestPushProgressIDs(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "", registryOpts{})
	s := newSandbox(t)
	layers := randomLayers(t, 5, 2, 16<<10)
	ref := reg.addr + "/ids:v1"
	s.loadLayers(ref, layers)
	want := map[string]bool{}
	for _, l := range layers {
		want[short(digestOf(l))] = true
	}
	for i, status := range []string{"Pushed", "Layer already exists"} {
		got := parsePush(t, s.ok("push", ref)).status
		ids := map[string]bool{}
		for id, st := range got {
			ids[id] = true
			if st != status {
				t.Errorf("push %d: %s is %q, want %q", i+1, id, st, status)
			}
		}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Errorf("push %d printed layer IDs %v, want the layers' diff IDs %v", i+1, keys(ids), keys(want))
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPushQuiet(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "", registryOpts{})
	s := newSandbox(t)
	repo := reg.addr + "/quiet"
	s.loadLayers(repo+":latest", randomLayers(t, 6, 1, 4096))
	s.ok("tag", repo+":latest", repo+":v1")
	// Docker prints the reference and nothing else, not even "Using
	// default tag".
	if got := s.ok("push", "-q", repo+":v1"); got != repo+":v1\n" {
		t.Errorf("push -q %s printed %q", repo+":v1", got)
	}
	if got := s.ok("push", "-q", repo); got != repo+":latest\n" {
		t.Errorf("push -q %s printed %q, want %q", repo, got, repo+":latest\n")
	}
	if _, _, code := manifestOf(t, reg.url(), "quiet", "latest"); code != http.StatusOK {
		t.Errorf("push -q did not push quiet:latest: %d", code)
	}
}

// TestPullPlatformVariant picks among variants of one architecture as
// Docker does (containerd's platform matching: linux/arm means arm/v7,
// linux/arm64 matches arm64/v8).
func TestPullPlatformVariant(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "", registryOpts{})
	_, digests := pushIndex(t, reg.url(), "variants", "v1", "arm/v6", "arm/v7", "arm64/v8")
	ref := reg.addr + "/variants:v1"
	s := newSandbox(t)
	for _, c := range []struct{ platform, want string }{
		{"linux/arm/v6", "arm/v6"},
		{"linux/arm/v7", "arm/v7"},
		{"linux/arm", "arm/v7"},
		{"linux/arm64", "arm64/v8"},
		{"linux/arm64/v8", "arm64/v8"},
	} {
		p := s.withRoot(strings.ReplaceAll(c.platform, "/", "-"))
		r := p.run("pull", "--platform", c.platform, ref)
		if r.Code != 0 {
			t.Errorf("pull --platform %s: %s", c.platform, r)
			continue
		}
		got := p.out("inspect", "-f", "{{.Architecture}}/{{.Variant}}", ref)
		if got != c.want {
			t.Errorf("pull --platform %s chose %s, want %s (manifests %v)", c.platform, got, c.want, digests)
		}
	}
}
