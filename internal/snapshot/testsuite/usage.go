package testsuite

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/snapshot"
)

// testUsage checks that Usage is the disk used by a snapshot's own
// directory and that the usages of all snapshots add up to the disk used
// under root: two containers on one base do not count the base twice.
func testUsage(t *testing.T, f *fixture) {
	const big, own = 256 << 10, 16 << 10
	files := map[string]string{"big": strings.Repeat("b", big)}
	for i := range 8 {
		files[fmt.Sprintf("etc/small%d", i)] = "small"
	}
	f.layer("base", "", files)
	usage := map[string]snapshot.Usage{}
	get := func(key string) snapshot.Usage {
		u, err := f.sn.Usage(f.ctx, key)
		if err != nil {
			t.Fatalf("usage of %s: %v", key, err)
		}
		usage[key] = u
		return u
	}
	if u := get("base"); u.Size < big || u.Inodes < 10 {
		t.Fatalf("base usage %+v: want at least %d bytes and 10 inodes", u, big)
	}
	for _, key := range []string{"c1", "c2"} {
		mounts, err := f.sn.Prepare(f.ctx, key, "base")
		if err != nil {
			t.Fatal(err)
		}
		dir, unmount := f.mount(mounts)
		writeFiles(t, dir, map[string]string{"own": strings.Repeat("o", own)})
		unmount()
		u := get(key)
		size, inodes := diskUsage(t, upperDir(t, mounts))
		if u.Size != size || u.Inodes != inodes {
			t.Fatalf("usage of %s = %+v; its upper dir holds %d bytes in %d inodes", key, u, size, inodes)
		}
		switch {
		case layered(mounts) && (u.Size < own || u.Size >= big):
			t.Fatalf("usage of layered %s = %d bytes: want its own %d, without the base's %d", key, u.Size, own, big)
		case !layered(mounts) && u.Size < big+own:
			t.Fatalf("usage of copied %s = %d bytes: want the copy of the base and its own file, %d", key, u.Size, big+own)
		}
	}
	var sum int64
	for _, u := range usage {
		sum += u.Size
	}
	total, _ := diskUsage(t, filepath.Join(f.root, "snapshots"))
	const overhead = 4<<10 + 3*16<<10 // the snapshots dir, and per snapshot a few directories
	if total < sum || total > sum+overhead {
		t.Fatalf("snapshots use %d bytes on disk, their usages add up to %d: the difference should be directory overhead only", total, sum)
	}
	if layered(mustMounts(t, f, "c1")) && total >= 2*big {
		t.Fatalf("snapshots use %d bytes on disk for a %d byte base under two containers: the base is stored twice", total, big)
	}
}

func mustMounts(t *testing.T, f *fixture, key string) []snapshot.Mount {
	t.Helper()
	m, err := f.sn.Mounts(f.ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
