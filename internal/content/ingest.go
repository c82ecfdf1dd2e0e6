package content

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

// tmpPrefix marks one-shot ingests that can never be resumed.
const tmpPrefix = "tmp-"

// Ingest stores the blob read from r in one go and returns its Info. size
// (if >= 0) and expected (if not empty) are checked as in Writer.Commit; with a
// known size, at most size+1 bytes are read from r. If expected is set and the
// blob is already in the store, Ingest returns at once WITHOUT reading r (a
// caller that must drain r does so itself). Any failure removes the ingest.
func (s *Store) Ingest(r io.Reader, size int64, expected digest.Digest) (Info, error) {
	alg := digest.SHA256
	if expected != "" {
		a, _, err := splitDigest(expected)
		if err != nil {
			return Info{}, fmt.Errorf("ingest: expected %w", err)
		}
		alg = a
		if info, err := s.Info(expected); err == nil {
			if size >= 0 && info.Size != size {
				return Info{}, errdefs.Newf(errdefs.ErrCorrupt,
					"blob %s: size mismatch: expected %d bytes, stored blob has %d", expected, size, info.Size)
			}
			return info, nil
		} else if !errdefs.IsNotFound(err) {
			return Info{}, err
		}
	}
	ref, err := tmpRef()
	if err != nil {
		return Info{}, err
	}
	w, err := s.Writer(ref, alg)
	if err != nil {
		return Info{}, err
	}
	if size >= 0 {
		r = io.LimitReader(r, size+1)
	}
	if _, err := io.Copy(w, r); err != nil {
		return Info{}, w.fail(fmt.Errorf("ingest %s: read: %w", ref, err))
	}
	return w.Commit(size, expected)
}

// tmpRef returns a fresh one-shot ingest ref.
func tmpRef() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("ingest: random ref: %w", err)
	}
	return tmpPrefix + hex.EncodeToString(b[:]), nil
}

// CleanIngests removes ingests abandoned by writers that are gone (their lock
// is free). One-shot "tmp-" ingests are always removed; named ingests are
// resumable downloads and are removed only when their data has not changed
// for maxAge. Ingests of live writers are never touched. It returns how many
// ingests it removed.
func (s *Store) CleanIngests(maxAge time.Duration) (int, error) {
	entries, err := os.ReadDir(s.ingest)
	if err != nil {
		return 0, fmt.Errorf("clean ingests: %w", err)
	}
	removed := 0
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !validRef(e.Name()) {
			continue
		}
		ok, err := s.cleanIngest(e.Name(), maxAge)
		if ok {
			removed++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// cleanIngest removes one ingest if its lock is free and it is stale.
func (s *Store) cleanIngest(ref string, maxAge time.Duration) (bool, error) {
	dir := filepath.Join(s.ingest, ref)
	lock, err := lockIngest(dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return removeLockless(dir)
	}
	if errors.Is(err, errLockBusy) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("clean ingest %s: %w", ref, err)
	}
	// A writer that had created the lock file but not taken it yet when we
	// took it retries (see Writer), so removing a temporary ingest is safe.
	if !strings.HasPrefix(ref, tmpPrefix) {
		stale, err := staleIngest(dir, maxAge)
		if err != nil || !stale {
			lock.Close()
			return false, err
		}
	}
	if err := removeIngest(dir, lock); err != nil {
		return false, err
	}
	return true, nil
}

// removeLockless removes an ingest directory that has no lock file: a
// writer died between creating it and its lock. A younger one may belong
// to a writer that is about to lock it.
func removeLockless(dir string) (bool, error) {
	old, err := staleIngest(dir, time.Minute)
	if err != nil {
		// Gone meanwhile (its writer or another cleaner finished it) or not
		// judgeable: either way it is not this cleaner's to remove.
		return false, nil //nolint:nilerr // see above
	}
	if !old {
		return false, nil
	}
	if _, err := os.Stat(filepath.Join(dir, lockName)); !errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return false, fmt.Errorf("clean ingest %s: %w", filepath.Base(dir), err)
	}
	return true, nil
}

// staleIngest reports whether an ingest's data (or, without data, the
// directory) was last modified more than maxAge ago.
func staleIngest(dir string, maxAge time.Duration) (bool, error) {
	fi, err := os.Stat(filepath.Join(dir, dataName))
	if errors.Is(err, fs.ErrNotExist) {
		fi, err = os.Stat(dir)
	}
	if err != nil {
		return false, fmt.Errorf("clean ingest %s: %w", filepath.Base(dir), err)
	}
	return time.Since(fi.ModTime()) > maxAge, nil
}
