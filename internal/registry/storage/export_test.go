package storage

// SetS3PartSizes lets tests use small parts; S3 still wants minPart >= 5 MiB
// for composing, so a test against a strict server keeps that.
func SetS3PartSizes(s *S3, partSize int, minPart int64) {
	s.partSize, s.minPart = partSize, minPart
}
