package writeback

import (
	"os"

	"golang.org/x/sys/unix"
)

// Every is how many new bytes a Tracker gathers before it asks the kernel
// to start writing them out.
const Every = 8 << 20

// Tracker remembers where a file's last writeback started. The zero
// value starts at offset 0.
type Tracker struct {
	from int64
}

// Wrote notes that f now holds bytes up to end. Every Every bytes it asks
// the kernel to start writing the new range, and does not wait. It is
// advice: an error here would show at the fsync, so there is none.
func (t *Tracker) Wrote(f *os.File, end int64) {
	if end-t.from < Every {
		return
	}
	_ = unix.SyncFileRange(int(f.Fd()), t.from, end-t.from, unix.SYNC_FILE_RANGE_WRITE)
	t.from = end
}

// Reset makes the next writeback start at off (after a seek or truncate).
func (t *Tracker) Reset(off int64) { t.from = off }
