package container

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/network"
)

func TestComputeUsage(t *testing.T) {
	base := Sample{CPU: 1_000_000_000, System: 50_000_000_000, OnlineCPUs: 4}
	tests := []struct {
		name     string
		prev     Sample
		cur      Sample
		cpu, mem float64
		memUsed  uint64
	}{
		{
			name: "one CPU busy of four",
			prev: base,
			// 1 s of container CPU while the host's 4 CPUs ran 4 s.
			cur: Sample{CPU: 2_000_000_000, System: 54_000_000_000, OnlineCPUs: 4},
			cpu: 100,
		},
		{
			name: "half a CPU",
			prev: base,
			cur:  Sample{CPU: 1_500_000_000, System: 54_000_000_000, OnlineCPUs: 4},
			cpu:  50,
		},
		{
			name: "no host time passed",
			prev: base,
			cur:  Sample{CPU: 2_000_000_000, System: 50_000_000_000, OnlineCPUs: 4},
			cpu:  0,
		},
		{
			name: "counter went back (restarted container)",
			prev: base,
			cur:  Sample{CPU: 10, System: 54_000_000_000, OnlineCPUs: 4},
			cpu:  0,
		},
		{
			name: "memory without inactive cache",
			prev: base,
			cur:  Sample{Memory: 64 << 20, InactiveFile: 32 << 20, MemoryLimit: 128 << 20},
			mem:  25, memUsed: 32 << 20,
		},
		{
			name: "inactive cache above usage is ignored",
			prev: base,
			cur:  Sample{Memory: 10 << 20, InactiveFile: 20 << 20, MemoryLimit: 100 << 20},
			mem:  10, memUsed: 10 << 20,
		},
		{
			name: "no limit known",
			prev: base,
			cur:  Sample{Memory: 10 << 20},
			mem:  0, memUsed: 10 << 20,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := ComputeUsage(tt.prev, tt.cur)
			if math.Abs(u.CPUPercent-tt.cpu) > 1e-9 {
				t.Errorf("CPU %% = %v, want %v", u.CPUPercent, tt.cpu)
			}
			if math.Abs(u.MemPercent-tt.mem) > 1e-9 {
				t.Errorf("MEM %% = %v, want %v", u.MemPercent, tt.mem)
			}
			if tt.memUsed != 0 && u.Memory != tt.memUsed {
				t.Errorf("memory = %d, want %d", u.Memory, tt.memUsed)
			}
		})
	}
}

func TestParseProcStat(t *testing.T) {
	data := "cpu  100 5 50 1000 10 1 4 7 0 0\ncpu0 50 2 25 500 5 1 2 3 0 0\ncpu1 50 3 25 500 5 0 2 4 0 0\nintr 1 2 3\nctxt 99\n"
	ns, online, ok := parseProcStat([]byte(data))
	if !ok {
		t.Fatal("not parsed")
	}
	// user..softirq (steal excluded): 1170 ticks of 10 ms.
	if want := uint64(1170) * 10_000_000; ns != want {
		t.Errorf("system time = %d, want %d", ns, want)
	}
	if online != 2 {
		t.Errorf("online CPUs = %d, want 2", online)
	}
	for _, bad := range []string{"", "cpu 1 2 3\n", "cpu a b c d e f g h\n"} {
		if _, _, ok := parseProcStat([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseNetDev(t *testing.T) {
	data := `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    9000      10    0    0    0     0          0         0     9000      10    0    0    0     0       0          0
  eth0:    1500      12    0    0    0     0          0         0      700       8    0    0    0     0       0          0
  eth1:     500       2    0    0    0     0          0         0      300       1    0    0    0     0       0          0
`
	rx, tx := parseNetDev([]byte(data))
	if rx != 2000 || tx != 1000 {
		t.Fatalf("rx, tx = %d, %d; want 2000, 1000 (lo excluded)", rx, tx)
	}
}

func TestParseBlkioAndIOStat(t *testing.T) {
	v1 := "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Total 12288\n8:16 Read 1\n8:16 Write 2\nTotal 12291\n"
	r, w, n := parseBlkio([]byte(v1))
	if r != 4097 || w != 8194 || n != 7 {
		t.Fatalf("v1: read %d write %d entries %d", r, w, n)
	}
	if _, _, n := parseBlkio([]byte("Total 0\n")); n != 0 {
		t.Fatalf("an empty file has %d entries", n)
	}
	v2 := "8:0 rbytes=4096 wbytes=100 rios=1 wios=1 dbytes=0 dios=0\n253:0 rbytes=10 wbytes=20\n"
	r, w = parseIOStat([]byte(v2))
	if r != 4106 || w != 120 {
		t.Fatalf("v2: read %d write %d", r, w)
	}
}

func TestParseCounterAndMemTotal(t *testing.T) {
	for in, want := range map[string]uint64{"42\n": 42, "max\n": math.MaxUint64, "-1": math.MaxUint64, "9223372036854771712\n": 9223372036854771712} {
		if got, ok := parseCounter([]byte(in)); !ok || got != want {
			t.Errorf("parseCounter(%q) = %d, %v", in, got, ok)
		}
	}
	if _, ok := parseCounter([]byte("x")); ok {
		t.Error("parseCounter accepted x")
	}
	if got := parseMemTotal([]byte("MemTotal:       16318480 kB\nMemFree: 1 kB\n")); got != 16318480*1024 {
		t.Errorf("MemTotal = %d", got)
	}
	if got := parseKeyed([]byte("usage_usec 1500\nuser_usec 1000\nbad line here\nx y\n")); got["usage_usec"] != 1500 || len(got) != 2 {
		t.Errorf("parseKeyed = %v", got)
	}
}

func TestParseMountinfo(t *testing.T) {
	data := `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:7 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /kubepods /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/uni\040fied rw,relatime - cgroup2 cgroup2 rw
50 31 0:40 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
`
	cm := parseMountinfo([]byte(data))
	if mp := cm.v1["cpuacct"]; mp.dir != "/sys/fs/cgroup/cpu,cpuacct" {
		t.Errorf("cpuacct at %q", mp.dir)
	}
	if cm.v2 == nil || cm.v2.dir != "/sys/fs/cgroup/uni fied" {
		t.Fatalf("v2 = %+v", cm.v2)
	}
	if _, ok := cm.v1["rw"]; ok {
		t.Error("rw taken for a controller")
	}
	// A mount whose root is a sub-cgroup: paths under it are relative to it.
	if got, v2, _ := cm.dir("memory", "/kubepods/strata/abc"); got != "/sys/fs/cgroup/memory/strata/abc" || v2 {
		t.Errorf("memory dir = %q (v2 %v)", got, v2)
	}
	if got, _, _ := cm.dir("cpuacct", "/strata/abc"); got != "/sys/fs/cgroup/cpu,cpuacct/strata/abc" {
		t.Errorf("cpuacct dir = %q", got)
	}
	// pids is on no v1 hierarchy here: the unified one serves it.
	if got, v2, ok := cm.dir("pids", "/strata/abc"); !ok || !v2 || got != "/sys/fs/cgroup/uni fied/strata/abc" {
		t.Errorf("pids dir = %q v2=%v ok=%v", got, v2, ok)
	}
	if got, _, _ := cm.dir("memory", "/../../etc"); !strings.HasPrefix(got, "/sys/fs/cgroup/memory") {
		t.Errorf("cgroup path escaped its hierarchy: %q", got)
	}
	if _, _, ok := (cgroupMounts{}).dir("memory", "/x"); ok {
		t.Error("found a hierarchy where there is none")
	}
}

// fakeHost lays out a /proc and cgroup tree for StatsReader.
type fakeHost struct {
	t                        *testing.T
	proc, cgroup, containers string
}

func newFakeHost(t *testing.T, v2 bool) *fakeHost {
	base := t.TempDir()
	h := &fakeHost{t: t, proc: filepath.Join(base, "proc"), cgroup: filepath.Join(base, "cgroup"),
		containers: filepath.Join(base, "containers")}
	var mi strings.Builder
	if v2 {
		mi.WriteString("30 1 0:26 / " + h.cgroup + " rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n")
	} else {
		for i, ctrl := range []string{"cpuacct", "memory", "blkio", "pids"} {
			mi.WriteString(strings.Join([]string{"3" + string(rune('0'+i)), "1", "0:2" + string(rune('0'+i)), "/",
				filepath.Join(h.cgroup, ctrl), "rw", "-", "cgroup", "cgroup", "rw," + ctrl}, " ") + "\n")
		}
	}
	h.write(filepath.Join(h.proc, "self", "mountinfo"), mi.String())
	h.write(filepath.Join(h.proc, "meminfo"), "MemTotal: 1048576 kB\n")
	h.write(filepath.Join(h.proc, "stat"), "cpu 100 0 100 800 0 0 0 0 0 0\ncpu0 1 0 0 0 0 0 0\ncpu1 1 0 0 0 0 0 0\n")
	return h
}

func (h *fakeHost) write(path, data string) {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *fakeHost) container(id string, pid int, cgPath string, cfg Config) metadata.Container {
	bundle, _ := json.Marshal(map[string]any{"linux": map[string]any{"cgroupsPath": cgPath}})
	h.write(filepath.Join(h.containers, id, "config.json"), string(bundle))
	h.write(filepath.Join(h.proc, "1234", "net", "dev"), "h1\nh2\n lo: 5 0 0 0 0 0 0 0 5 0 0 0 0 0 0 0\neth0: 3000 0 0 0 0 0 0 0 1000 0 0 0 0 0 0 0\n")
	raw, _ := json.Marshal(cfg)
	return metadata.Container{ID: id, Name: "web", State: metadata.StateRunning, Pid: pid, Config: raw}
}

func TestStatsReaderV1(t *testing.T) {
	h := newFakeHost(t, false)
	c := h.container("abc", 1234, "/custom/abc", Config{Network: network.ModeBridge})
	cg := func(ctrl, file, data string) { h.write(filepath.Join(h.cgroup, ctrl, "custom", "abc", file), data) }
	cg("cpuacct", "cpuacct.usage", "5000000000\n")
	cg("memory", "memory.usage_in_bytes", "10485760\n")
	cg("memory", "memory.limit_in_bytes", "9223372036854771712\n") // unlimited
	cg("memory", "memory.stat", "cache 100\ninactive_file 1\ntotal_inactive_file 2097152\n")
	cg("blkio", "blkio.io_service_bytes_recursive", "Total 0\n")
	cg("blkio", "blkio.throttle.io_service_bytes_recursive", "8:0 Read 4096\n8:0 Write 1024\nTotal 5120\n")
	cg("pids", "pids.current", "3\n")
	r, err := newStatsReader(h.containers, h.proc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Sample(c)
	if err != nil {
		t.Fatal(err)
	}
	want := Sample{CPU: 5e9, System: 1000 * 1e7, OnlineCPUs: 2, Memory: 10 << 20, InactiveFile: 2 << 20,
		MemoryLimit: 1 << 30, NetRx: 3000, NetTx: 1000, BlockRead: 4096, BlockWrite: 1024, Pids: 3}
	s.Read = time.Time{}
	if s != want {
		t.Fatalf("sample:\n got %+v\nwant %+v", s, want)
	}
	// Host networking has no counters of its own, like Docker.
	hc := h.container("abc", 1234, "/custom/abc", Config{Network: network.ModeHost})
	if s, _ := r.Sample(hc); s.NetRx != 0 || s.NetTx != 0 {
		t.Fatalf("host network counted: %+v", s)
	}
	// A stopped container reads as zeros but keeps the host's CPU time.
	c.State = metadata.StateExited
	if s, err := r.Sample(c); err != nil || s.Memory != 0 || s.CPU != 0 || s.System == 0 {
		t.Fatalf("stopped: %+v, %v", s, err)
	}
}

func TestStatsReaderV2(t *testing.T) {
	h := newFakeHost(t, true)
	c := h.container("def", 1234, "", Config{})
	cg := func(file, data string) { h.write(filepath.Join(h.cgroup, "strata", "def", file), data) }
	cg("cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
	cg("memory.current", "8388608\n")
	cg("memory.max", "67108864\n")
	cg("memory.stat", "anon 1\ninactive_file 4194304\n")
	cg("io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n")
	cg("pids.current", "7\n")
	r, err := newStatsReader(h.containers, h.proc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Sample(c)
	if err != nil {
		t.Fatal(err)
	}
	want := Sample{CPU: 2.5e9, System: 1000 * 1e7, OnlineCPUs: 2, Memory: 8 << 20, InactiveFile: 4 << 20,
		MemoryLimit: 64 << 20, NetRx: 3000, NetTx: 1000, BlockRead: 100, BlockWrite: 200, Pids: 7}
	s.Read = time.Time{}
	if s != want {
		t.Fatalf("sample:\n got %+v\nwant %+v", s, want)
	}
	if u := ComputeUsage(s, s); u.Memory != 4<<20 || u.MemPercent != 6.25 {
		t.Fatalf("usage %+v", u)
	}
}

func TestStatsReaderGoneCgroup(t *testing.T) {
	h := newFakeHost(t, true)
	c := h.container("gone", 1234, "/strata/gone", Config{})
	r, err := newStatsReader(h.containers, h.proc)
	if err != nil {
		t.Fatal(err)
	}
	// The container stopped between the listing and the reading: zeros.
	s, err := r.Sample(c)
	if err != nil || s.CPU != 0 || s.Memory != 0 || s.Pids != 0 {
		t.Fatalf("sample %+v, %v", s, err)
	}
}
