package fsutil

import (
	"io/fs"
	"path/filepath"
	"syscall"
)

// DiskUsage sums the allocated blocks of the distinct inodes under root
// (root included), like du: a file with several hard links counts once.
func DiskUsage(root string) (size, inodes int64, err error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]struct{}{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		k := inode{uint64(st.Dev), st.Ino} //nolint:unconvert // Dev is uint32 on mips
		if _, dup := seen[k]; dup {
			return nil
		}
		seen[k] = struct{}{}
		size += st.Blocks * 512
		return nil
	})
	return size, int64(len(seen)), err
}
