// Package flock takes whole-file advisory locks (flock(2)) that several
// strata processes use to coordinate: the lock is released by the returned
// function or, if the process dies, by the kernel.
package flock
