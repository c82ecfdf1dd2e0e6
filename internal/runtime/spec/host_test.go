package spec

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCapabilityNames(t *testing.T) {
	// 0x1fffeffffff: every capability up to 40 except CAP_SYS_RESOURCE (24).
	got := capabilityNames(0x1fffeffffff)
	if len(got) != 40 || slices.Contains(got, "CAP_SYS_RESOURCE") || got[0] != "CAP_CHOWN" || got[39] != "CAP_CHECKPOINT_RESTORE" {
		t.Fatalf("capabilityNames = %v", got)
	}
	if got := capabilityNames(1<<21 | 1<<63); !slices.Equal(got, []string{"CAP_SYS_ADMIN"}) {
		t.Fatalf("capabilityNames = %v", got)
	}
}

func TestReadStatusCaps(t *testing.T) {
	p := filepath.Join(t.TempDir(), "status")
	writeFile(t, p, "Name:\tx\nCapEff:\t0000000000000005\nCapBnd:\t000001ffffffffff\n")
	got, err := readStatusCaps(p)
	if err != nil || got["CapEff"] != 5 || got["CapBnd"] != 0x1ffffffffff {
		t.Fatalf("readStatusCaps = %v, %v", got, err)
	}
	writeFile(t, p, "CapEff:\tzz\n")
	if _, err := readStatusCaps(p); err == nil {
		t.Fatal("bad mask accepted")
	}
}

func TestProbeHost(t *testing.T) {
	h, err := ProbeHost()
	if err != nil {
		t.Fatal(err)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if h.NofileLimit < lim.Max {
		t.Errorf("NofileLimit %d below the current hard limit %d", h.NofileLimit, lim.Max)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &fs); err != nil {
		t.Fatal(err)
	}
	if h.CgroupV2 != (fs.Type == unix.CGROUP2_SUPER_MAGIC) {
		t.Errorf("CgroupV2 = %v", h.CgroupV2)
	}
	if os.Geteuid() == 0 && !slices.Contains(h.Capabilities, "CAP_CHOWN") {
		t.Errorf("root without CAP_CHOWN in its bounding set? %v", h.Capabilities)
	}
}

func TestHostDevices(t *testing.T) {
	devs, err := HostDevices()
	if err != nil {
		t.Fatal(err)
	}
	var null bool
	for _, d := range devs {
		if d.Path == "/dev/null" {
			null = d.Type == "c" && d.Major == 1 && d.Minor == 3 && d.FileMode != nil
		}
		if d.Path == "/dev/console" || filepath.Dir(d.Path) == "/dev/pts" {
			t.Errorf("%s listed", d.Path)
		}
	}
	if !null {
		t.Errorf("/dev/null missing or wrong in %d devices", len(devs))
	}
}
