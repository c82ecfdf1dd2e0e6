package storage

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Limits of S3's multipart copy.
const (
	s3MaxCopy     = 5 << 30 // largest single copy, and largest part
	s3MaxParts    = 10000
	s3CopyWorkers = 4
)

// s3Source is an object to concatenate.
type s3Source struct {
	key  string
	size int64
}

// s3Part is a part object of pending content: bytes [start, start+size).
type s3Part struct {
	key         string
	start, size int64
}

// compose writes the concatenation of srcs to dst on the server: one copy
// for a single source up to 5 GiB, else a multipart copy whose part copies
// run in parallel. Every source but the last must be at least 5 MiB.
func (s *S3) compose(ctx context.Context, dst string, srcs []s3Source) error {
	if len(srcs) == 1 && srcs[0].size <= s3MaxCopy {
		_, err := s.client.CopyObject(ctx,
			minio.CopyDestOptions{Bucket: s.bucket, Object: dst},
			minio.CopySrcOptions{Bucket: s.bucket, Object: srcs[0].key})
		return err
	}
	type copyRange struct {
		key           string
		start, length int64
	}
	var ranges []copyRange
	for _, src := range srcs {
		n := (src.size + s3MaxCopy - 1) / s3MaxCopy
		for i := range n {
			start, end := src.size*i/n, src.size*(i+1)/n
			ranges = append(ranges, copyRange{src.key, start, end - start})
		}
	}
	if len(ranges) > s3MaxParts {
		return errdefs.Newf(errdefs.ErrLimitExceeded, "compose %s: %d parts exceed S3's limit of %d", dst, len(ranges), s3MaxParts)
	}
	uploadID, err := s.core.NewMultipartUpload(ctx, s.bucket, dst, minio.PutObjectOptions{})
	if err != nil {
		return err
	}
	parts := make([]minio.CompletePart, len(ranges))
	errs := make([]error, len(ranges))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(s3CopyWorkers, len(ranges)) {
		wg.Go(func() {
			for i := range next {
				r := ranges[i]
				parts[i], errs[i] = s.core.CopyObjectPart(ctx, s.bucket, r.key, s.bucket, dst, uploadID,
					i+1, r.start, r.length, nil)
			}
		})
	}
	for i := range ranges {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			_ = s.core.AbortMultipartUpload(context.WithoutCancel(ctx), s.bucket, dst, uploadID)
			return err
		}
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, dst, uploadID, parts, minio.PutObjectOptions{}); err != nil {
		_ = s.core.AbortMultipartUpload(context.WithoutCancel(ctx), s.bucket, dst, uploadID)
		return err
	}
	return nil
}

// partName is the name of a part object starting at offset start.
func partName(start int64, token string) string {
	return fmt.Sprintf("%020d.%s", start, token)
}

// parsePartName returns the start offset in a part object's name.
func parsePartName(name string) (int64, bool) {
	if len(name) < 22 || name[20] != '.' || strings.Contains(name, "/") {
		return 0, false
	}
	start, err := strconv.ParseInt(name[:20], 10, 64)
	return start, err == nil && start >= 0
}

// chain rebuilds p's pending content from its part objects: base is the
// committed object it continues, if any; parts follow it in order. No parts
// means no pending content.
func (s *S3) chain(ctx context.Context, p string) (*s3Source, []s3Part, error) {
	prefix := s.pendingKey(p)
	var all []s3Part
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if obj.Err != nil {
			return nil, nil, s3Error("write", p, obj.Err)
		}
		start, ok := parsePartName(strings.TrimPrefix(obj.Key, prefix))
		if ok && obj.Size > 0 {
			all = append(all, s3Part{key: obj.Key, start: start, size: obj.Size})
		}
	}
	if len(all) == 0 {
		return nil, nil, nil
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].start != all[j].start {
			return all[i].start < all[j].start
		}
		return all[i].size > all[j].size
	})
	var base *s3Source
	off := int64(0)
	if first := all[0].start; first > 0 {
		info, err := s.client.StatObject(ctx, s.bucket, s.key(p), minio.StatObjectOptions{})
		if err != nil && !isS3NotFound(err) {
			return nil, nil, s3Error("write", p, err)
		}
		if err != nil || info.Size != first {
			return nil, nil, errdefs.Newf(errdefs.ErrConflict,
				"write %s: pending content continues a committed file of %d bytes that is gone or changed", p, first)
		}
		base, off = &s3Source{key: s.key(p), size: info.Size}, info.Size
	}
	var parts []s3Part
	for _, pt := range all {
		switch {
		case pt.start == off:
			parts = append(parts, pt)
			off += pt.size
		case pt.start > off:
			return nil, nil, errdefs.Newf(errdefs.ErrCorrupt, "write %s: pending content has a gap at offset %d", p, off)
		}
	}
	return base, parts, nil
}
