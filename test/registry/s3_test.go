package registry

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/strata-dev/strata/test/testbin"
)

// makeBucket creates bucket on the S3 gateway, retrying while it starts.
func makeBucket(t *testing.T, s3 *server, bucket string) {
	t.Helper()
	client, err := minio.New(s3.addr, &minio.Options{Creds: credentials.NewStaticV4(s3Access, s3Secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := withTimeout(time.Second)
		err = client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("create bucket %s: %v\n%s", bucket, err, s3.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// s3Registry starts `registry serve` on the gateway's bucket (and prefix,
// if any).
func s3Registry(t *testing.T, gw *server, bucket string, extra ...string) *server {
	t.Helper()
	args := append([]string{"--s3-endpoint", gw.url(), "--s3-bucket", bucket, "--s3-region", "us-east-1"}, extra...)
	return startRegistry(t, "", registryOpts{noRoot: true, args: args,
		env: []string{"AWS_ACCESS_KEY_ID=" + s3Access, "AWS_SECRET_ACCESS_KEY=" + s3Secret}})
}

// TestS3SharedBucket runs two registry processes on one bucket: what one
// stores the other serves, and an upload begun on one finishes on the
// other.
func TestS3SharedBucket(t *testing.T) {
	t.Parallel()
	gw := startS3(t, "shared")
	a := s3Registry(t, gw, "shared")
	b := s3Registry(t, gw, "shared")
	s := newSandbox(t)
	layers := randomLayers(t, 20, 2, 128<<10)
	refA := a.addr + "/s3/app:v1"
	id := s.loadLayers(refA, layers)
	push := parsePush(t, s.ok("push", refA))

	refB := b.addr + "/s3/app:v1"
	p := s.withRoot("pulled")
	pull := parsePull(t, p.ok("pull", refB))
	if pull.digest != push.digest {
		t.Errorf("pull from the second server: digest %s, pushed %s", pull.digest, push.digest)
	}
	if got := p.out("inspect", "-f", "{{.Id}}", refB); got != id {
		t.Errorf("pulled from the second server: ID %s, want %s", got, id)
	}
	p.checkClean()
	// Pushing to the second server finds every blob there.
	s.ok("tag", refA, refB)
	if again := parsePush(t, s.ok("push", refB)); again.statuses()["Layer already exists"] < len(layers) {
		t.Errorf("push to the second server: %v", again.status)
	}

	// An upload: POST and a first chunk on a, the second chunk and the
	// completion on b.
	data := randomBytes(21, 300<<10)
	dg := digestOf(data)
	c := insecureClient()
	resp, err := c.Post(a.url()+"/v2/s3/chunked/blobs/uploads/", "", nil)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST upload on a: %v %v", resp, err)
	}
	resp.Body.Close()
	loc := uploadURL(t, a.url(), resp, nil)
	half := len(data) / 2
	loc = patchChunk(t, a.url(), loc, data[:half], 0)
	onB := strings.Replace(loc, a.addr, b.addr, 1)
	onB = patchChunk(t, b.url(), onB, data[half:], int64(half))
	u, _ := url.Parse(onB)
	q := u.Query()
	q.Set("digest", dg)
	u.RawQuery = q.Encode()
	req, _ := http.NewRequest(http.MethodPut, u.String(), nil)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("completing on b an upload begun on a: %s %s", resp.Status, body)
	}
	for _, srv := range []*server{a, b} {
		got, code := getBlob(t, srv.url(), "s3/chunked", dg)
		if code != http.StatusOK || !bytes.Equal(got, data) {
			t.Errorf("%s serves the blob as %d, %d bytes (want %d)", srv.addr, code, len(got), len(data))
		}
	}

	// registry gc on the bucket sees both repositories and keeps
	// everything (all referenced, and young).
	cmd := exec.Command(strataBin, "registry", "gc", "--dry-run", "--s3-endpoint", gw.url(), "--s3-bucket", "shared", "--s3-region", "us-east-1")
	cmd.Env = testbin.Env("HOME="+t.TempDir(), "AWS_ACCESS_KEY_ID="+s3Access, "AWS_SECRET_ACCESS_KEY="+s3Secret)
	r, err := testbin.Capture(cmd)
	if err != nil || r.Code != 0 {
		t.Fatalf("registry gc on S3: %v\n%s", err, r)
	}
	if del := gcDeleted(t, r.Stdout); len(del) != 0 || !strings.Contains(r.Stdout, "Manifests:1") {
		t.Errorf("registry gc --dry-run on S3: %s", r.Stdout)
	}

	// Another prefix of the bucket is another registry.
	other := s3Registry(t, gw, "shared", "--s3-prefix", "elsewhere")
	if _, _, code := manifestOf(t, other.url(), "s3/app", "v1"); code != http.StatusNotFound {
		t.Errorf("a registry on another prefix serves s3/app:v1: %d", code)
	}
}

// patchChunk sends one chunk of an upload and returns the next Location.
func patchChunk(t *testing.T, base, loc string, chunk []byte, offset int64) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPatch, loc, bytes.NewReader(chunk))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", offset, offset+int64(len(chunk))-1))
	resp, err := insecureClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH %s at %d: %s %s", loc, offset, resp.Status, body)
	}
	if want := fmt.Sprintf("0-%d", offset+int64(len(chunk))-1); resp.Header.Get("Range") != want {
		t.Errorf("PATCH at %d: Range %q, want %q", offset, resp.Header.Get("Range"), want)
	}
	return uploadURL(t, base, resp, nil)
}

// getBlob GETs a blob and returns its bytes and the status.
func getBlob(t *testing.T, base, repo, dg string) ([]byte, int) {
	t.Helper()
	resp, err := insecureClient().Get(base + "/v2/" + repo + "/blobs/" + dg)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return data, resp.StatusCode
}
