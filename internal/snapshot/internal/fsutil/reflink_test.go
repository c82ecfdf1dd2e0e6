package fsutil

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCopyDirReflink copies on a loop-mounted btrfs, where files must be
// cloned (by FICLONE, or by copy_file_range, which clones there too): the
// copy of a 16 MiB file takes almost no space. It needs root and
// mkfs.btrfs (Debian btrfs-progs).
func TestCopyDirReflink(t *testing.T) {
	requireRoot(t)
	mkfs, err := exec.LookPath("mkfs.btrfs")
	if err != nil {
		t.Skip("no mkfs.btrfs (btrfs-progs)")
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "img"), filepath.Join(dir, "mnt")
	must(t, os.Mkdir(mnt, 0o755))
	must(t, os.WriteFile(img, nil, 0o600))
	must(t, os.Truncate(img, 256<<20))
	if out, err := exec.Command(mkfs, "-q", img).CombinedOutput(); err != nil {
		t.Skipf("mkfs.btrfs: %v: %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("loop mount: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })

	src := filepath.Join(mnt, "src")
	must(t, os.MkdirAll(filepath.Join(src, "d"), 0o755))
	data := bytes.Repeat([]byte("reflink!"), 2<<20)
	must(t, os.WriteFile(filepath.Join(src, "d/big"), data, 0o644))
	must(t, os.WriteFile(filepath.Join(src, "small"), []byte("s"), 0o644))
	unix.Sync()
	before := free(t, mnt)
	must(t, CopyDir(t.Context(), filepath.Join(mnt, "dst"), src))
	unix.Sync()
	if used := before - free(t, mnt); used > 4<<20 {
		t.Fatalf("copying a %d byte file used %d bytes: it was not cloned", len(data), used)
	}
	got, err := os.ReadFile(filepath.Join(mnt, "dst/d/big"))
	must(t, err)
	if !bytes.Equal(got, data) {
		t.Fatal("cloned file differs")
	}
	must(t, os.WriteFile(filepath.Join(mnt, "dst/d/big"), []byte("changed"), 0o644))
	if b, _ := os.ReadFile(filepath.Join(src, "d/big")); !bytes.Equal(b, data) {
		t.Fatal("writing the clone changed the source")
	}
}

func free(t *testing.T, path string) int64 {
	var st unix.Statfs_t
	must(t, unix.Statfs(path, &st))
	return int64(st.Bfree) * st.Bsize
}
