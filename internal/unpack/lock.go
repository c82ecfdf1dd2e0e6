package unpack

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/snapshot"
)

// lockSuffix ends every extraction lock file name.
const lockSuffix = ".lock"

// extractLock is the flock an extraction holds on LockDir/<key>.lock.
type extractLock struct {
	key string
	f   *os.File
}

// lock picks a fresh extraction key and takes its lock.
func (u *Unpacker) lock() (*extractLock, error) {
	if u.LockDir == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "unpacker has no lock directory")
	}
	if err := os.MkdirAll(u.LockDir, 0o700); err != nil {
		return nil, fmt.Errorf("extraction lock directory: %w", err)
	}
	for range 8 {
		key, err := randomKey()
		if err != nil {
			return nil, err
		}
		p := filepath.Join(u.LockDir, key+lockSuffix)
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("extraction lock: %w", err)
		}
		ok, err := tryLock(f)
		if err == nil && ok {
			// Cleanup may have removed the file before we locked it.
			ok, err = stillAt(f, p)
		}
		if err == nil && ok {
			return &extractLock{key: key, f: f}, nil
		}
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return nil, errdefs.Newf(errdefs.ErrUnavailable, "could not take an extraction lock in %s", u.LockDir)
}

// release removes the lock file, then unlocks it.
func (l *extractLock) release() {
	_ = os.Remove(l.f.Name())
	l.f.Close()
}

// tryLock takes an exclusive flock on f without waiting; false if another
// holds it.
func tryLock(f *os.File) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		}
		return false, fmt.Errorf("flock %s: %w", f.Name(), err)
	}
}

// stillAt reports whether the open file f is still the file at p.
func stillAt(f *os.File, p string) (bool, error) {
	held, err := f.Stat()
	if err != nil {
		return false, err
	}
	cur, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(held, cur), nil
}

// Cleanup removes what killed unpackers left: extract-* snapshots whose
// lock is free or gone, and free lock files. Extractions in progress, in
// this process or another, hold their lock and are left alone.
func (u *Unpacker) Cleanup(ctx context.Context) error {
	if u.LockDir == "" {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "unpacker has no lock directory")
	}
	var keys []string
	err := u.Snapshotter.Walk(ctx, func(info snapshot.Info) error {
		if strings.HasPrefix(info.Name, extractPrefix) && info.Kind == snapshot.KindActive {
			keys = append(keys, info.Name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var errs []error
	seen := make(map[string]bool, len(keys))
	for _, key := range keys {
		seen[key] = true
		errs = append(errs, u.cleanKey(ctx, key))
	}
	// Lock files of extractions that died before preparing a snapshot
	// or after removing it.
	ents, err := os.ReadDir(u.LockDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, e := range ents {
		key, ok := strings.CutSuffix(e.Name(), lockSuffix)
		if ok && strings.HasPrefix(key, extractPrefix) && !seen[key] {
			errs = append(errs, u.cleanKey(ctx, key))
		}
	}
	return errors.Join(errs...)
}

// cleanKey removes the extraction key if its lock is free or missing.
func (u *Unpacker) cleanKey(ctx context.Context, key string) error {
	p := filepath.Join(u.LockDir, key+lockSuffix)
	f, err := os.OpenFile(p, os.O_RDWR|unix.O_CLOEXEC, 0)
	if errors.Is(err, fs.ErrNotExist) {
		// No lock: its extraction ended (the snapshot is gone) or the lock
		// directory was emptied (a reboot).
		return removeSnapshot(ctx, u.Snapshotter, key)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	ok, err := tryLock(f)
	if err != nil || !ok {
		return err // busy: a live extraction
	}
	if err := removeSnapshot(ctx, u.Snapshotter, key); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func removeSnapshot(ctx context.Context, sn snapshot.Snapshotter, key string) error {
	err := sn.Remove(ctx, key)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove stale snapshot %s: %w", key, err)
	}
	return nil
}
