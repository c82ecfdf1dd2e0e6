package content

import (
	_ "crypto/sha256" // registers the SHA-256 implementation go-digest uses
	_ "crypto/sha512" // registers the SHA-512 implementation go-digest uses
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Info describes a committed blob.
type Info struct {
	Digest digest.Digest
	Size   int64
}

// Store is a content-addressed blob store rooted at one directory. It holds no
// in-memory state beyond paths, so any number of Stores (in any number of
// processes) may use the same root at once.
type Store struct {
	root   string
	blobs  string
	ingest string
}

// algorithms are the digest algorithms the store accepts, in Walk order.
var algorithms = []digest.Algorithm{digest.SHA256, digest.SHA512}

// Open opens the store at root, creating its directories if needed.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("content store %q: %w", root, err)
	}
	s := &Store{
		root:   abs,
		blobs:  filepath.Join(abs, "blobs"),
		ingest: filepath.Join(abs, "ingest"),
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("content store %q: %w", abs, err)
	}
	dirs := []string{s.blobs, s.ingest}
	for _, alg := range algorithms {
		dirs = append(dirs, filepath.Join(s.blobs, string(alg)))
	}
	for _, dir := range dirs {
		if err := ensureDir(dir); err != nil {
			return nil, fmt.Errorf("content store %q: %w", abs, err)
		}
	}
	return s, nil
}

// ensureDir creates dir if it is missing and then fsyncs its parent, so a blob
// renamed into it later cannot be lost with a directory entry that was never
// written out.
func ensureDir(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// syncDir fsyncs a directory so that entries created or renamed in it persist.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// Root returns the absolute path of the store's root directory.
func (s *Store) Root() string { return s.root }

// BlobPath returns the path where the blob d is (or would be) stored. It
// rejects digests with an unsupported algorithm or a malformed encoding with
// errdefs.ErrInvalidArgument; the path it returns is always inside the store.
func (s *Store) BlobPath(d digest.Digest) (string, error) {
	alg, hex, err := splitDigest(d)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.blobs, string(alg), hex), nil
}

// splitDigest validates d and returns its algorithm and hex encoding.
func splitDigest(d digest.Digest) (digest.Algorithm, string, error) {
	s := string(d)
	for i := 0; i < len(s); i++ {
		if s[i] != ':' {
			continue
		}
		alg := digest.Algorithm(s[:i])
		if !supported(alg) {
			return "", "", errdefs.Newf(errdefs.ErrInvalidArgument, "digest %q: unsupported algorithm %q", s, s[:i])
		}
		hex := s[i+1:]
		if !validHex(alg, hex) {
			return "", "", errdefs.Newf(errdefs.ErrInvalidArgument,
				"digest %q: encoding must be %d lower-case hex characters", s, alg.Size()*2)
		}
		return alg, hex, nil
	}
	return "", "", errdefs.Newf(errdefs.ErrInvalidArgument, "digest %q: missing algorithm prefix", s)
}

func supported(alg digest.Algorithm) bool {
	for _, a := range algorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// validHex reports whether hex is a well-formed encoding for alg: exactly the
// hash size in lower-case hex digits.
func validHex(alg digest.Algorithm, hex string) bool {
	if len(hex) != alg.Size()*2 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Info returns the size of blob d, or errdefs.ErrNotFound if it is absent.
func (s *Store) Info(d digest.Digest) (Info, error) {
	p, err := s.BlobPath(d)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Info{}, blobError(d, err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, errdefs.Newf(errdefs.ErrCorrupt, "blob %s: not a regular file", d)
	}
	return Info{Digest: d, Size: fi.Size()}, nil
}

// Open opens blob d for reading, or returns errdefs.ErrNotFound.
func (s *Store) Open(d digest.Digest) (*os.File, error) {
	p, err := s.BlobPath(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, blobError(d, err)
	}
	return f, nil
}

// ReadAll reads a whole blob into memory and verifies its digest; it is meant
// for small blobs such as manifests and configs. A blob larger than max bytes
// fails with errdefs.ErrLimitExceeded (a negative max means no limit); content
// that does not match d fails with errdefs.ErrCorrupt.
func (s *Store) ReadAll(d digest.Digest, max int64) ([]byte, error) {
	f, err := s.Open(d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	size := fi.Size()
	if max >= 0 && size > max {
		return nil, errdefs.Newf(errdefs.ErrLimitExceeded, "blob %s: size %d exceeds limit of %d bytes", d, size, max)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, errdefs.Newf(errdefs.ErrCorrupt, "blob %s: read %d bytes: %v", d, size, err)
	}
	if got := d.Algorithm().FromBytes(buf); got != d {
		return nil, errdefs.Newf(errdefs.ErrCorrupt, "blob %s: content has digest %s", d, got)
	}
	return buf, nil
}

// Delete removes blob d, or returns errdefs.ErrNotFound if it is absent.
// Readers that already opened the blob keep reading it.
func (s *Store) Delete(d digest.Digest) error {
	p, err := s.BlobPath(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return blobError(d, err)
	}
	return nil
}

// blobError classes an error from a blob file operation.
func blobError(d digest.Digest, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errdefs.Newf(errdefs.ErrNotFound, "blob %s: not found", d)
	}
	return fmt.Errorf("blob %s: %w", d, err)
}

// Walk calls fn for every committed blob, algorithm by algorithm, in directory
// order. Files whose names are not valid digests are skipped, as are blobs
// deleted while the walk runs. An error from fn stops the walk and is returned.
func (s *Store) Walk(fn func(Info) error) error {
	for _, alg := range algorithms {
		if err := s.walkAlg(alg, fn); err != nil {
			return err
		}
	}
	return nil
}

// walkBatch is how many directory entries Walk reads at a time.
const walkBatch = 1024

func (s *Store) walkAlg(alg digest.Algorithm, fn func(Info) error) error {
	dir := filepath.Join(s.blobs, string(alg))
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("walk blobs: %w", err)
	}
	defer f.Close()
	for {
		entries, err := f.ReadDir(walkBatch)
		for _, e := range entries {
			if !e.Type().IsRegular() || !validHex(alg, e.Name()) {
				continue
			}
			fi, ierr := e.Info()
			if errors.Is(ierr, fs.ErrNotExist) {
				continue
			}
			if ierr != nil {
				return fmt.Errorf("walk blobs: %w", ierr)
			}
			d := digest.NewDigestFromEncoded(alg, e.Name())
			if ferr := fn(Info{Digest: d, Size: fi.Size()}); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("walk blobs in %s: %w", dir, err)
		}
	}
}

// Usage returns the number of committed blobs and the sum of their sizes.
func (s *Store) Usage() (blobs int, bytes int64, err error) {
	err = s.Walk(func(i Info) error {
		blobs++
		bytes += i.Size
		return nil
	})
	return blobs, bytes, err
}
