package content

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Names inside an ingest directory.
const (
	lockName = "lock"
	dataName = "data"
)

// lockAttempts bounds the retries when a lock file is removed under us by the
// process that held it; each retry means another process made progress.
const lockAttempts = 100

// errLockBusy reports that another open file description holds the lock.
var errLockBusy = errors.New("lock busy")

// validRef reports whether ref matches [A-Za-z0-9][A-Za-z0-9._-]{0,127}, which
// makes it a single, harmless path element.
func validRef(ref string) bool {
	if len(ref) == 0 || len(ref) > 128 {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !alnum && (i == 0 || (c != '.' && c != '_' && c != '-')) {
			return false
		}
	}
	return true
}

// lockIngest takes the exclusive lock of the ingest directory dir, creating
// dir first if create is set. It returns errLockBusy if a live writer holds
// it, and an fs.ErrNotExist error if dir is gone (and create is not set).
//
// The holder of a lock may unlink the lock file and remove the directory, so
// after flock succeeds the lock file must still be the one at dir/lock; if it
// is not, the lock we hold protects nothing and we start over.
func lockIngest(dir string, create bool) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	for range lockAttempts {
		if create {
			// Not MkdirAll: it fails if dir vanishes between its mkdir and stat.
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return nil, err
			}
		}
		flags := os.O_RDWR
		if create {
			// Only a writer creates the lock file: a cleaner that created it
			// could take the lock of an ingest being born.
			flags |= os.O_CREATE
		}
		f, err := os.OpenFile(path, flags, 0o644)
		if errors.Is(err, fs.ErrNotExist) && create {
			continue // directory removed between MkdirAll and open
		}
		if err != nil {
			return nil, err
		}
		if err := flock(f); err != nil {
			f.Close()
			return nil, err
		}
		if same, err := samePath(f, path); err != nil || !same {
			f.Close()
			if err != nil {
				return nil, err
			}
			if !create {
				return nil, fmt.Errorf("lock %s: %w", path, fs.ErrNotExist)
			}
			continue
		}
		return f, nil
	}
	return nil, errdefs.Newf(errdefs.ErrUnavailable, "lock %s: gave up after %d attempts", path, lockAttempts)
}

// flock takes an exclusive, non-blocking flock on f.
func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return errLockBusy
		default:
			return fmt.Errorf("flock %s: %w", f.Name(), err)
		}
	}
}

// samePath reports whether the open file f is still the file at path.
func samePath(f *os.File, path string) (bool, error) {
	held, err := f.Stat()
	if err != nil {
		return false, err
	}
	cur, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(held, cur), nil
}

// removeIngest deletes a locked ingest directory and then releases the lock.
// The data file goes first and the lock file last, so a process that takes
// the lock after us can never find stale data. Removing the directory itself
// may fail because a new writer already created a lock in it; that is fine.
func removeIngest(dir string, lock *os.File) error {
	err := os.Remove(filepath.Join(dir, dataName))
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if err == nil {
		err = os.Remove(filepath.Join(dir, lockName))
		if err == nil {
			err = os.Remove(dir)
			if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) || errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
		}
	}
	if cerr := lock.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("remove ingest %s: %w", filepath.Base(dir), err)
	}
	return nil
}
