package storage_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/strata-dev/strata/internal/registry/storage"
	"github.com/strata-dev/strata/internal/registry/storage/storagetest"
	"github.com/strata-dev/strata/test/testbin"
)

// The S3 tests run against versitygw (an S3 gateway on a local directory)
// started on a loopback port for the whole test binary.
const (
	s3Access = "strata-test"
	s3Secret = "strata-test-secret"
	s3Bucket = "strata-test"
)

var gateway struct {
	once     sync.Once
	endpoint string
	skip     string
	err      error
	cmd      *exec.Cmd
	dir      string
	output   bytes.Buffer
	prefixes atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	if gateway.cmd != nil {
		_ = gateway.cmd.Process.Kill()
		_ = gateway.cmd.Wait()
	}
	if gateway.dir != "" {
		os.RemoveAll(gateway.dir)
	}
	os.Exit(code)
}

// s3Endpoint returns the gateway's address, starting it once, or skips the
// test when versitygw is not installed.
func s3Endpoint(t *testing.T) string {
	t.Helper()
	gateway.once.Do(startGateway)
	if gateway.skip != "" {
		t.Skip(gateway.skip)
	}
	if gateway.err != nil {
		t.Fatalf("versitygw: %v\n%s", gateway.err, gateway.output.String())
	}
	return gateway.endpoint
}

func startGateway() {
	bin := testbin.Tool("versitygw")
	if bin == "" {
		gateway.skip = "versitygw not found in PATH or $GOPATH/bin (make deps installs it); S3 driver not tested"
		return
	}
	dir, err := os.MkdirTemp("", "strata-s3-test-")
	if err != nil {
		gateway.err = err
		return
	}
	gateway.dir = dir
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		gateway.err = err
		return
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--access", s3Access, "--secret", s3Secret, "--port", addr, "--quiet", "posix", dir)
	cmd.Stdout, cmd.Stderr = &gateway.output, &gateway.output
	if err := cmd.Start(); err != nil {
		gateway.err = err
		return
	}
	gateway.cmd = cmd
	client, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(s3Access, s3Secret, "")})
	if err != nil {
		gateway.err = err
		return
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = client.MakeBucket(ctx, s3Bucket, minio.MakeBucketOptions{})
		cancel()
		if err == nil {
			gateway.endpoint = addr
			return
		}
		if time.Now().After(deadline) {
			gateway.err = fmt.Errorf("not ready on %s: %w", addr, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newS3 returns a driver on a fresh prefix of the test bucket, or one on
// prefix when it is given.
func newS3(t *testing.T, prefix string) *storage.S3 {
	t.Helper()
	ep := s3Endpoint(t)
	if prefix == "" {
		prefix = fmt.Sprintf("t%d", gateway.prefixes.Add(1))
	}
	d, err := storage.NewS3(context.Background(), storage.S3Config{
		Endpoint: "http://" + ep, Bucket: s3Bucket, AccessKey: s3Access, SecretKey: s3Secret,
		Prefix: prefix, PathStyle: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestS3Suite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver { return newS3(t, "") })
}

func TestS3MissingBucket(t *testing.T) {
	ep := s3Endpoint(t)
	_, err := storage.NewS3(context.Background(), storage.S3Config{
		Endpoint: ep, Insecure: true, Bucket: "no-such-bucket", AccessKey: s3Access, SecretKey: s3Secret, PathStyle: true,
	})
	if err == nil || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Fatalf("NewS3 on a missing bucket: %v", err)
	}
}

// TestS3TwoInstances uses two drivers on one bucket and prefix as two
// registry processes would, with parts large enough to need a multipart
// composition (S3's 5 MiB minimum).
func TestS3TwoInstances(t *testing.T) {
	ctx := context.Background()
	prefix := fmt.Sprintf("two%d", gateway.prefixes.Add(1))
	a, b := newS3(t, prefix), newS3(t, prefix)
	const mib = 1 << 20
	for _, d := range []*storage.S3{a, b} {
		storage.SetS3PartSizes(d, 5*mib, 5*mib)
	}
	const p = "uploads/two/data"
	data := storagetest.RandomBytes(7, 13*mib+123)
	// a: one full part and a short last one.
	storagetest.WriteSession(t, a, p, false, data[:7*mib], false)
	// b: resumes (rewriting the short part longer) and commits.
	if before := storagetest.WriteSession(t, b, p, true, data[7*mib:], true); before != 7*mib {
		t.Fatalf("b resumed at %d, want %d", before, 7*mib)
	}
	if got := storagetest.MustGet(t, a, p); !bytes.Equal(got, data) {
		t.Fatalf("a reads %d bytes, want %d (equal: %v)", len(got), len(data), bytes.Equal(got[:min(len(got), len(data))], data[:min(len(got), len(data))]))
	}
	// Appending to the large committed object uses it as the base.
	tail := []byte("tail")
	if before := storagetest.WriteSession(t, a, p, true, tail, false); before != int64(len(data)) {
		t.Fatalf("append to committed: Size %d, want %d", before, len(data))
	}
	storagetest.WriteSession(t, b, p, true, nil, true)
	want := append(data, tail...)
	r, err := b.Reader(ctx, p, int64(len(data))-10)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := got.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if !bytes.Equal(got.Bytes(), want[len(data)-10:]) {
		t.Fatalf("tail read %q", got.Bytes())
	}
	if fi, err := a.Stat(ctx, p); err != nil || fi.Size != int64(len(want)) {
		t.Fatalf("Stat = %+v, %v; want size %d", fi, err, len(want))
	}
	// Move of a large object and a listing from the other instance.
	if err := a.Move(ctx, p, storagetest.Blob); err != nil {
		t.Fatal(err)
	}
	list, err := b.List(ctx, "blobs/sha256")
	if err != nil || len(list) != 1 || list[0] != storagetest.Blob {
		t.Fatalf("List = %q, %v", list, err)
	}
}

// TestS3SupersededPartIgnored replays a crash between writing a longer part
// and deleting the short part it replaced.
func TestS3SupersededPartIgnored(t *testing.T) {
	ctx := context.Background()
	prefix := fmt.Sprintf("crash%d", gateway.prefixes.Add(1))
	d := newS3(t, prefix)
	const p = "uploads/crash/data"
	storagetest.WriteSession(t, d, p, false, []byte("abc"), false)
	storagetest.WriteSession(t, d, p, true, []byte("def"), false)
	client, err := minio.New(s3Endpoint(t), &minio.Options{Creds: credentials.NewStaticV4(s3Access, s3Secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	stale := prefix + "/.pending/" + p + "/00000000000000000000.0123456789abcdef"
	if _, err := client.PutObject(ctx, s3Bucket, stale, strings.NewReader("abc"), 3, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := storagetest.PendingSize(t, d, p); n != 6 {
		t.Fatalf("pending size %d, want 6", n)
	}
	storagetest.WriteSession(t, d, p, true, []byte("g"), true)
	if got := storagetest.MustGet(t, d, p); string(got) != "abcdefg" {
		t.Fatalf("content %q", got)
	}
	for obj := range client.ListObjects(ctx, s3Bucket, minio.ListObjectsOptions{Prefix: prefix + "/.pending/", Recursive: true}) {
		t.Errorf("part left after commit: %s %v", obj.Key, obj.Err)
	}
}
