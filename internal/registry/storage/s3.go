package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/strata-dev/strata/internal/errdefs"
)

// S3Config says where an S3 driver stores its objects.
type S3Config struct {
	// Endpoint is host[:port] or a URL (http:// means Insecure); empty
	// means AWS (s3.amazonaws.com).
	Endpoint string
	Bucket   string
	Region   string
	// AccessKey and SecretKey default to $AWS_ACCESS_KEY_ID and
	// $AWS_SECRET_ACCESS_KEY (with $AWS_SESSION_TOKEN) when both are empty.
	AccessKey string
	SecretKey string
	// Prefix is prepended to every key ("registry" stores
	// "registry/blobs/..."); a missing trailing slash is added.
	Prefix string
	// PathStyle addresses the bucket as endpoint/bucket rather than
	// bucket.endpoint (needed by most self-hosted servers).
	PathStyle bool
	// Insecure uses plain HTTP.
	Insecure bool
}

// s3PendingDir is the key prefix (after Prefix) of pending content.
const s3PendingDir = ".pending/"

// S3 is a Driver on an S3 bucket (see the package doc for the key layout).
// It keeps no state between calls beyond its client, so several processes
// may share one bucket and prefix.
type S3 struct {
	client *minio.Client
	core   minio.Core
	bucket string
	prefix string
	// partSize is how much a Writer buffers before it uploads a part
	// object; minPart is the least size of a part that is not the last.
	partSize int
	minPart  int64
}

var _ Driver = (*S3)(nil)

// Part sizes: S3 needs every source but the last of a multipart copy to be
// at least 5 MiB; larger parts mean fewer requests at Commit.
const (
	s3MinPart  = 5 << 20
	s3PartSize = 16 << 20
)

// NewS3 connects to the bucket described by cfg and checks that it exists.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "s3 storage: bucket is not set")
	}
	endpoint, secure, err := s3Endpoint(cfg)
	if err != nil {
		return nil, err
	}
	creds := credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	if cfg.AccessKey == "" && cfg.SecretKey == "" {
		creds = credentials.NewStaticV4(os.Getenv("AWS_ACCESS_KEY_ID"),
			os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))
	}
	opts := &minio.Options{Creds: creds, Secure: secure, Region: cfg.Region}
	if cfg.PathStyle {
		opts.BucketLookup = minio.BucketLookupPath
	}
	client, err := minio.New(endpoint, opts)
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "s3 storage %s: %v", endpoint, err)
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, s3Error("open bucket", cfg.Bucket, err)
	}
	if !ok {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "s3 storage: bucket %q does not exist at %s", cfg.Bucket, endpoint)
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3{
		client: client, core: minio.Core{Client: client},
		bucket: cfg.Bucket, prefix: prefix,
		partSize: s3PartSize, minPart: s3MinPart,
	}, nil
}

// s3Endpoint splits cfg.Endpoint into host[:port] and whether to use TLS.
func s3Endpoint(cfg S3Config) (string, bool, error) {
	ep := cfg.Endpoint
	if ep == "" {
		return "s3.amazonaws.com", !cfg.Insecure, nil
	}
	if !strings.Contains(ep, "://") {
		return ep, !cfg.Insecure, nil
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return "", false, errdefs.Newf(errdefs.ErrInvalidArgument, "s3 endpoint %q: want host[:port] or http(s)://host[:port]", ep)
	}
	return u.Host, u.Scheme == "https" && !cfg.Insecure, nil
}

func (s *S3) key(p string) string { return s.prefix + p }

// pendingKey is the key prefix of p's part objects.
func (s *S3) pendingKey(p string) string { return s.prefix + s3PendingDir + p + "/" }

// GetContent reads the object at p whole.
func (s *S3) GetContent(ctx context.Context, p string) ([]byte, error) {
	rc, err := s.Reader(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, s3Error("read", p, err)
	}
	return data, nil
}

// PutContent writes the object at p in one PUT, which S3 makes atomic.
func (s *S3) PutContent(ctx context.Context, p string, data []byte) error {
	if err := CheckPath(p); err != nil {
		return err
	}
	return s.put(ctx, s.key(p), p, data)
}

func (s *S3) put(ctx context.Context, key, p string, data []byte) error {
	_, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
	if err != nil {
		return s3Error("write", p, err)
	}
	return nil
}

// Reader streams the object at p from offset.
func (s *S3) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	if err := CheckPath(p); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "read %s: negative offset %d", p, offset)
	}
	var opts minio.GetObjectOptions
	if offset > 0 {
		if err := opts.SetRange(offset, 0); err != nil {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "read %s: %v", p, err)
		}
	}
	// One GET whose body is the stream (minio.Client.GetObject would send
	// a HEAD first and re-request with If-Match, failing on a replaced
	// object that a reader already started on).
	body, _, _, err := s.core.GetObject(ctx, s.bucket, s.key(p), opts)
	if err == nil {
		return body, nil
	}
	if r := minio.ToErrorResponse(err); r.StatusCode == http.StatusRequestedRangeNotSatisfiable || r.Code == "InvalidRange" {
		return s.readerPastEnd(ctx, p, offset)
	}
	return nil, s3Error("read", p, err)
}

// readerPastEnd answers a read whose offset is at or after the end.
func (s *S3) readerPastEnd(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	info, err := s.client.StatObject(ctx, s.bucket, s.key(p), minio.StatObjectOptions{})
	if err != nil {
		return nil, s3Error("read", p, err)
	}
	if offset == info.Size {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "read %s: offset %d outside [0, %d]", p, offset, info.Size)
}

// Writer returns a writer on the pending content of p.
func (s *S3) Writer(ctx context.Context, p string, append bool) (FileWriter, error) {
	if err := CheckPath(p); err != nil {
		return nil, err
	}
	return openS3Writer(ctx, s, p, append)
}

// Stat describes the object at p, or the "directory" of keys under p/.
func (s *S3) Stat(ctx context.Context, p string) (FileInfo, error) {
	if err := CheckPath(p); err != nil {
		return FileInfo{}, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, s.key(p), minio.StatObjectOptions{})
	if err == nil {
		return FileInfo{Path: p, Size: info.Size, ModTime: info.LastModified}, nil
	}
	if !isS3NotFound(err) {
		return FileInfo{}, s3Error("stat", p, err)
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	objs := s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.key(p) + "/", MaxKeys: 1})
	if obj, ok := <-objs; ok {
		if obj.Err != nil {
			return FileInfo{}, s3Error("stat", p, obj.Err)
		}
		return FileInfo{Path: p, IsDir: true}, nil
	}
	return FileInfo{}, errdefs.Newf(errdefs.ErrNotFound, "stat %s: not found", p)
}

// List returns the sorted children of the "directory" p.
func (s *S3) List(ctx context.Context, p string) ([]string, error) {
	if err := CheckPath(p); err != nil {
		return nil, err
	}
	var out []string
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.key(p) + "/"}) {
		if obj.Err != nil {
			return nil, s3Error("list", p, obj.Err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(obj.Key, s.prefix), "/")
		if name != p {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "list %s: not found", p)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Move copies src to dest on the server and deletes src.
func (s *S3) Move(ctx context.Context, src, dest string) error {
	if err := checkPaths(src, dest); err != nil {
		return err
	}
	info, err := s.client.StatObject(ctx, s.bucket, s.key(src), minio.StatObjectOptions{})
	if err != nil {
		return s3Error("move", src, err)
	}
	if src == dest {
		return nil
	}
	if err := s.compose(ctx, s.key(dest), []s3Source{{key: s.key(src), size: info.Size}}); err != nil {
		return fmt.Errorf("move %s to %s: %w", src, dest, err)
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.key(src), minio.RemoveObjectOptions{}); err != nil {
		return s3Error("move", src, err)
	}
	return nil
}

// Delete removes the object at p, every key under p/ and the pending
// content under p.
func (s *S3) Delete(ctx context.Context, p string) error {
	if err := CheckPath(p); err != nil {
		return err
	}
	n, err := s.removePrefix(ctx, s.key(p)+"/")
	if err != nil {
		return s3Error("delete", p, err)
	}
	if _, err := s.client.StatObject(ctx, s.bucket, s.key(p), minio.StatObjectOptions{}); err == nil {
		if err := s.client.RemoveObject(ctx, s.bucket, s.key(p), minio.RemoveObjectOptions{}); err != nil {
			return s3Error("delete", p, err)
		}
		n++
	} else if !isS3NotFound(err) {
		return s3Error("delete", p, err)
	}
	pn, err := s.removePrefix(ctx, s.pendingKey(p))
	if err != nil {
		return s3Error("delete", p, err)
	}
	if n+pn == 0 {
		return errdefs.Newf(errdefs.ErrNotFound, "delete %s: not found", p)
	}
	return nil
}

// removePrefix deletes every key starting with prefix and says how many.
func (s *S3) removePrefix(ctx context.Context, prefix string) (int, error) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	keys := make(chan minio.ObjectInfo)
	var listErr error
	n := 0
	go func() {
		defer close(keys)
		for obj := range s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if obj.Err != nil {
				listErr = obj.Err
				return
			}
			n++
			select {
			case keys <- obj:
			case <-lctx.Done():
				return
			}
		}
	}()
	var errs []error
	for rerr := range s.client.RemoveObjects(lctx, s.bucket, keys, minio.RemoveObjectsOptions{}) {
		errs = append(errs, fmt.Errorf("%s: %w", rerr.ObjectName, rerr.Err))
	}
	cancel()
	for range keys { // drain, so the lister has finished with listErr and n
	}
	return n, errors.Join(append(errs, listErr)...)
}

// isS3NotFound reports a missing object or key.
func isS3NotFound(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.StatusCode == http.StatusNotFound || r.Code == "NoSuchKey" || r.Code == "NotFound"
}

// s3Error classes an S3 error on driver path p.
func s3Error(op, p string, err error) error {
	r := minio.ToErrorResponse(err)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s %s: %w", op, p, err)
	case r.Code == "NoSuchBucket":
		return errdefs.Newf(errdefs.ErrNotFound, "%s %s: bucket %s does not exist", op, p, r.BucketName)
	case isS3NotFound(err):
		return errdefs.Newf(errdefs.ErrNotFound, "%s %s: not found", op, p)
	case r.StatusCode == http.StatusForbidden || r.StatusCode == http.StatusUnauthorized:
		return errdefs.Newf(errdefs.ErrPermission, "%s %s: %v", op, p, err)
	case r.StatusCode == 0 || r.StatusCode >= 500:
		return errdefs.Newf(errdefs.ErrUnavailable, "%s %s: %v", op, p, err)
	}
	return fmt.Errorf("%s %s: %w", op, p, err)
}
