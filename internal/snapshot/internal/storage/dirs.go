package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Prefixes of the directories that are not (yet, or any more) snapshots.
const (
	TempPrefix     = "tmp-"
	RemovingPrefix = "removing-"
)

// lockedDir is a directory this process holds an exclusive flock on. The
// lock follows the directory through renames and dies with the process,
// which is how Cleanup tells a live owner from a crashed one.
type lockedDir struct {
	path string
	fd   int
}

// lockDir opens and flocks path without waiting; it reports false when
// another open file holds the lock.
func lockDir(path string) (*lockedDir, bool, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, false, err
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	return &lockedDir{path: path, fd: fd}, true, nil
}

// same reports whether the locked directory is still at its path.
func (d *lockedDir) same() bool {
	var a, b unix.Stat_t
	return unix.Fstat(d.fd, &a) == nil && unix.Lstat(d.path, &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino
}

func (d *lockedDir) rename(to string) error {
	if err := os.Rename(d.path, to); err != nil {
		return err
	}
	d.path = to
	return nil
}

// remove deletes the directory and drops the lock.
func (d *lockedDir) remove() {
	_ = os.RemoveAll(d.path)
	unix.Close(d.fd)
}

type tempDir struct{ *lockedDir }

// newTemp creates a tmp- directory and locks it. Cleanup may take a tmp-
// directory between its creation and the lock; then it is tried again.
func (s *Store) newTemp() (*tempDir, error) {
	for range 8 {
		path, err := os.MkdirTemp(s.dir, TempPrefix)
		if err != nil {
			return nil, fmt.Errorf("create snapshot directory: %w", err)
		}
		d, ok, err := lockDir(path)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("create snapshot directory: %w", err)
		}
		if ok && d.same() {
			return &tempDir{d}, nil
		}
		if ok {
			unix.Close(d.fd)
		}
	}
	return nil, fmt.Errorf("create snapshot directory in %s: lost it to cleanup 8 times", s.dir)
}

// release deletes the directory unless it was placed, and drops the lock.
func (t *tempDir) release() {
	if strings.HasPrefix(filepath.Base(t.path), TempPrefix) {
		_ = os.RemoveAll(t.path)
	}
	unix.Close(t.fd)
}

// place renames tmp to snapshot id's directory. A directory already there
// can only be left from an insert of the same id that was rolled back; it is
// moved aside and returned for removal.
func (s *Store) place(tmp *tempDir, id int64) ([]*lockedDir, error) {
	dst := s.Path(id)
	err := tmp.rename(dst)
	if err == nil || !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOTEMPTY) {
		return nil, err
	}
	old, ok, err := lockDir(dst)
	if err != nil || !ok {
		return nil, fmt.Errorf("snapshot directory %s exists and is in use: %w", dst, err)
	}
	if err := old.rename(s.removingName()); err != nil {
		unix.Close(old.fd)
		return nil, err
	}
	return []*lockedDir{old}, tmp.rename(dst)
}

func (s *Store) removingName() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return filepath.Join(s.dir, RemovingPrefix+hex.EncodeToString(b))
}

// removeDir deletes a snapshot directory whose row is gone: it is renamed to
// a removing- name first, so a crash halfway leaves an obvious leftover. A
// directory that is missing or locked is being removed by someone else.
func (s *Store) removeDir(path string) error {
	d, ok, err := lockDir(path)
	if errors.Is(err, unix.ENOENT) || (err == nil && !ok) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(d.fd)
	if err := d.rename(s.removingName()); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	return os.RemoveAll(d.path)
}

// Cleanup deletes what crashed processes left: directories of snapshots
// without a row and tmp-/removing- directories nobody holds a lock on.
func (s *Store) Cleanup(ctx context.Context) error {
	var garbage []*lockedDir
	err := s.write(ctx, func(c *sql.Conn) error {
		ids, err := s.ids(ctx, c)
		if err != nil {
			return err
		}
		entries, err := os.ReadDir(s.dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := e.Name()
			id, err := strconv.ParseInt(name, 10, 64)
			isID := err == nil && strconv.FormatInt(id, 10) == name
			if (isID && ids[id]) || (!isID && !strings.HasPrefix(name, TempPrefix) && !strings.HasPrefix(name, RemovingPrefix)) {
				continue
			}
			d, ok, err := lockDir(filepath.Join(s.dir, name))
			if err != nil || !ok {
				continue // gone meanwhile, not a directory, or its owner lives
			}
			if !strings.HasPrefix(name, RemovingPrefix) {
				if err := d.rename(s.removingName()); err != nil {
					unix.Close(d.fd)
					continue
				}
			}
			garbage = append(garbage, d)
		}
		return nil
	})
	var errs []error
	for _, g := range garbage {
		if err := os.RemoveAll(g.path); err != nil {
			errs = append(errs, err)
		}
		unix.Close(g.fd)
	}
	if err != nil {
		return fmt.Errorf("clean snapshots in %s: %w", s.dir, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean snapshots in %s: %w", s.dir, err)
	}
	return nil
}

func (s *Store) ids(ctx context.Context, c *sql.Conn) (map[int64]bool, error) {
	rows, err := c.QueryContext(ctx, fmt.Sprintf(`SELECT id FROM %s`, s.table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, rows.Err()
}
