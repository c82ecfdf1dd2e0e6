package flock

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Exclusive waits for an exclusive lock on path (created if missing).
func Exclusive(path string) (release func(), err error) { return lock(path, unix.LOCK_EX) }

// Shared waits for a shared lock on path (created if missing).
func Shared(path string) (release func(), err error) { return lock(path, unix.LOCK_SH) }

func lock(path string, how int) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
