package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/registry/storage"
)

// An upload session lives entirely in storage (see doc.go), so any server
// process can continue it:
//
//	uploads/<uuid>/startedat  RFC 3339 time the session began
//	uploads/<uuid>/state      uploadState JSON, rewritten after every chunk
//	uploads/<uuid>/data       the bytes received so far
//
// The state binds the session to its repository and carries the hash state
// at Size, so completing it does not reread the data.
type uploadState struct {
	Name   string        `json:"name"`
	Alg    string        `json:"alg"`
	Size   int64         `json:"size"`
	Hash   []byte        `json:"hash,omitempty"`   // marshaled hash at Size
	Digest digest.Digest `json:"digest,omitempty"` // set when completing onto an existing blob; GC keeps it
	// StartedAt repeats the startedat file so a request reads one file.
	StartedAt time.Time `json:"startedat"`
}

func uploadDataPath(id string) string  { return uploadDir(id) + "/data" }
func uploadStatePath(id string) string { return uploadDir(id) + "/state" }
func uploadStartPath(id string) string { return uploadDir(id) + "/startedat" }

func newHasher(alg string) hash.Hash {
	if alg == "sha512" {
		return sha512.New()
	}
	return sha256.New()
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// createUpload starts a session for repository name hashing with alg.
func (s *Server) createUpload(ctx context.Context, name, alg string, want digest.Digest) (string, *uploadState, error) {
	id := newUUID()
	now := time.Now().UTC()
	st := &uploadState{Name: name, Alg: alg, Digest: want, StartedAt: now}
	if err := s.store.d.PutContent(ctx, uploadStartPath(id), []byte(now.Format(time.RFC3339Nano))); err != nil {
		return "", nil, err
	}
	if err := s.saveUpload(ctx, id, st); err != nil {
		return "", nil, err
	}
	return id, st, nil
}

func (s *Server) saveUpload(ctx context.Context, id string, st *uploadState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.store.d.PutContent(ctx, uploadStatePath(id), b)
}

// loadUpload reads a session; one from another repository, or expired, is
// unknown.
func (s *Server) loadUpload(ctx context.Context, name, id string) (*uploadState, error) {
	unknown := newError(codeBlobUploadUnknown, "upload %s unknown to repository %s", id, name)
	b, err := s.store.d.GetContent(ctx, uploadStatePath(id))
	if errdefs.IsNotFound(err) {
		return nil, unknown
	}
	if err != nil {
		return nil, err
	}
	var st uploadState
	if err := json.Unmarshal(b, &st); err != nil || st.Name != name {
		return nil, unknown
	}
	started := st.StartedAt
	if started.IsZero() {
		if started, err = s.uploadStarted(ctx, id); err != nil {
			return nil, unknown
		}
	}
	if time.Since(started) > s.cfg.UploadExpiry {
		return nil, unknown
	}
	return &st, nil
}

func (s *Server) uploadStarted(ctx context.Context, id string) (time.Time, error) {
	b, err := s.store.d.GetContent(ctx, uploadStartPath(id))
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
}

// openData opens the upload's data for appending. The bytes received so
// far are the driver's pending content of the data path, so any process
// can continue them.
func (s *Server) openData(ctx context.Context, id string) (storage.FileWriter, error) {
	return s.store.d.Writer(ctx, uploadDataPath(id), true)
}

// uploadSize is the number of bytes received so far. While another request
// is appending, the size saved after the last chunk is the answer.
func (s *Server) uploadSize(ctx context.Context, id string, st *uploadState) (int64, error) {
	w, err := s.openData(ctx, id)
	if errors.Is(err, errdefs.ErrUnavailable) {
		return st.Size, nil
	}
	if err != nil {
		return 0, err
	}
	size := w.Size()
	return size, w.Close()
}

// chunk is one body appended to an upload.
type chunk struct {
	body  io.Reader
	start int64 // required offset, -1 = append wherever the upload is
	size  int64 // exact length, -1 = until EOF
}

// appendChunk streams c into w, the upload's data, hashing as it goes, and
// updates st. A chunk cut short keeps what arrived (the client can ask
// for the offset and resume); st then still describes the data exactly.
func (s *Server) appendChunk(ctx context.Context, w storage.FileWriter, id string, st *uploadState, c chunk) error {
	cur := w.Size()
	if c.start >= 0 && c.start != cur {
		return newError(codeRangeInvalid, "chunk starts at %d but upload %s has %d bytes", c.start, id, cur).
			withHeader("Range", rangeHeader(cur)).withHeader("Location", uploadLocation(st.Name, id))
	}
	h := s.resumeHash(st, cur)
	hashed := &countWriter{w: io.Discard}
	if h != nil {
		hashed.w = h
	}
	src := c.body
	if c.size >= 0 {
		src = io.LimitReader(c.body, c.size)
	}
	n, err := io.CopyBuffer(io.MultiWriter(w, hashed), src, make([]byte, 1<<20))
	s.metrics.addUpload(n)
	if err == nil && c.size >= 0 {
		if n != c.size {
			err = newError(codeSizeInvalid, "chunk has %d bytes, expected %d", n, c.size)
		} else if m, _ := c.body.Read(make([]byte, 1)); m > 0 {
			err = newError(codeSizeInvalid, "chunk is longer than the %d bytes declared", c.size)
		}
	}
	st.Size = w.Size()
	st.Hash = nil
	if h != nil && cur+hashed.n == st.Size {
		if m, ok := h.(encoding.BinaryMarshaler); ok {
			st.Hash, _ = m.MarshalBinary()
		}
	}
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			err = newError(codeBlobUploadInvalid, "reading chunk: %v", err)
		}
		return err
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// dropUpload removes an upload that failed or was settled without its
// data. It is best effort: the caller has its own outcome to report, and
// an upload left behind expires and is deleted by the collector.
func (s *Server) dropUpload(ctx context.Context, id string) {
	_ = s.store.deleteIfExists(ctx, uploadDir(id))
}

// resumeHash restores the hash saved at size, or returns nil when the
// saved state does not describe the data (the digest is then computed by
// rereading it at completion).
func (s *Server) resumeHash(st *uploadState, size int64) hash.Hash {
	h := newHasher(st.Alg)
	if size == 0 {
		return h
	}
	if st.Size != size || len(st.Hash) == 0 {
		return nil
	}
	if u, ok := h.(encoding.BinaryUnmarshaler); !ok || u.UnmarshalBinary(st.Hash) != nil {
		return nil
	}
	return h
}

// completeUpload checks the committed data (size bytes) against want and
// moves it into blobs/, linking it into the repository. On a mismatch
// nothing is kept.
func (s *Server) completeUpload(ctx context.Context, id string, st *uploadState, size int64, want digest.Digest) error {
	got, err := s.uploadDigest(ctx, id, st, size, want.Algorithm().String())
	if err != nil {
		return err
	}
	if got != want {
		s.dropUpload(ctx, id)
		return newError(codeDigestInvalid, "upload has digest %s, not %s", got, want).withDetail(map[string]string{"digest": want.String()})
	}
	// An old copy of the blob may be on its way out: lease it and let the
	// collector finish with it first (see gclease.go).
	if err := s.waitUndoomed(ctx, want); err != nil {
		return err
	}
	dst := blobPath(want)
	have, err := s.store.exists(ctx, dst)
	if err != nil {
		return err
	}
	if !have {
		if err := s.store.d.Move(ctx, uploadDataPath(id), dst); err != nil {
			if ok, _ := s.store.exists(ctx, dst); !ok { // a concurrent completion may have won
				return fmt.Errorf("store blob %s: %w", want, err)
			}
		}
	}
	if err := s.store.linkBlob(ctx, st.Name, want); err != nil {
		return err
	}
	if have { // the collector may have taken the old copy meanwhile
		if ok, err := s.store.exists(ctx, dst); err == nil && !ok {
			if err := s.store.d.Move(ctx, uploadDataPath(id), dst); err != nil {
				return fmt.Errorf("store blob %s: %w", want, err)
			}
			if err := s.store.linkBlob(ctx, st.Name, want); err != nil {
				return err
			}
		}
	}
	return s.store.deleteIfExists(ctx, uploadDir(id))
}

// uploadDigest returns the digest of the upload's committed data with alg,
// from the saved hash state when it is current, else by rereading it.
func (s *Server) uploadDigest(ctx context.Context, id string, st *uploadState, size int64, alg string) (digest.Digest, error) {
	if alg == st.Alg {
		if h := s.resumeHash(st, size); h != nil {
			return digest.NewDigestFromEncoded(digest.Algorithm(alg), hex.EncodeToString(h.Sum(nil))), nil
		}
	}
	h := newHasher(alg)
	if size > 0 {
		rc, err := s.store.d.Reader(ctx, uploadDataPath(id), 0)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		n, err := io.CopyBuffer(h, rc, make([]byte, 1<<20))
		if err != nil {
			return "", err
		}
		if n != size {
			return "", errors.New("upload data changed while hashing")
		}
	}
	return digest.NewDigestFromEncoded(digest.Algorithm(alg), hex.EncodeToString(h.Sum(nil))), nil
}

func uploadLocation(name, id string) string { return "/v2/" + name + "/blobs/uploads/" + id }

// rangeHeader renders the Range of an upload holding size bytes: 0-<last>,
// and 0-0 when empty, as Docker's registry does.
func rangeHeader(size int64) string {
	if size == 0 {
		return "0-0"
	}
	return fmt.Sprintf("0-%d", size-1)
}
