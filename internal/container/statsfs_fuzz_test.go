package container

import (
	"path/filepath"
	"strings"
	"testing"
)

// The parsers of kernel and ps output must never panic, and what they
// return must be consistent with their input.

func FuzzParseMountinfo(f *testing.F) {
	f.Add("35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")
	f.Add("1 2 3 /a\\040b /m\\134x rw - cgroup c rw,pids\n")
	f.Add(" - \n - cgroup\n1 2 3 4 5 - cgroup x\n")
	f.Fuzz(func(t *testing.T, data string) {
		cm := parseMountinfo([]byte(data))
		for ctrl, mp := range cm.v1 {
			if ctrl == "rw" || ctrl == "ro" {
				t.Fatalf("mount option %q taken as a controller", ctrl)
			}
			// Whatever the cgroup path, it stays inside the hierarchy.
			p := mp.path("/../../x/../..")
			if rel, err := filepath.Rel(filepath.Clean(mp.dir), p); err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("path %q escapes %q", p, mp.dir)
			}
		}
	})
}

func FuzzParseProcStat(f *testing.F) {
	f.Add("cpu  100 5 50 1000 10 1 4 7 0 0\ncpu0 50 2 25 500 5 1 2 3 0 0\n")
	f.Add("cpu 1 2 3\n")
	f.Add("cpu 18446744073709551615 1 1 1 1 1 1\n")
	f.Fuzz(func(t *testing.T, data string) {
		ns, online, ok := parseProcStat([]byte(data))
		if !ok && (ns != 0 || online != 0) {
			t.Fatalf("failed parse returned %d, %d", ns, online)
		}
		if online > strings.Count(data, "cpu") {
			t.Fatalf("%d CPUs from %d cpu lines", online, strings.Count(data, "cpu"))
		}
	})
}

func FuzzParseNetDev(f *testing.F) {
	f.Add("h\nh\n  eth0: 1 2 3 4 5 6 7 8 9 10\n lo: 5 0 0 0 0 0 0 0 5\n")
	f.Add("x:1 2 3 4 5 6 7 8 99999999999999999999\n")
	f.Fuzz(func(t *testing.T, data string) {
		rx, tx := parseNetDev([]byte(data))
		if !strings.Contains(data, ":") && (rx != 0 || tx != 0) {
			t.Fatalf("counters without an interface line: %d %d", rx, tx)
		}
	})
}

func FuzzParseBlkio(f *testing.F) {
	f.Add("8:0 Read 4096\n8:0 Write 8192\nTotal 12288\n")
	f.Add("8:0 rbytes=4096 wbytes=100 rios=1\n")
	f.Add("Total 0\n")
	f.Fuzz(func(t *testing.T, data string) {
		r, w, n := parseBlkio([]byte(data))
		if n == 0 && (r != 0 || w != 0) {
			t.Fatalf("bytes without entries: %d %d", r, w)
		}
		if n > strings.Count(data, "\n")+1 {
			t.Fatalf("%d entries from %d lines", n, strings.Count(data, "\n")+1)
		}
		parseIOStat([]byte(data))
	})
}

func FuzzParseKeyedCounters(f *testing.F) {
	f.Add("usage_usec 1500\nuser_usec 1000\n")
	f.Add("max\n")
	f.Add("MemTotal: 123 kB\n")
	f.Add("MemTotal: 99999999999999999 kB\n")
	f.Fuzz(func(t *testing.T, data string) {
		for k := range parseKeyed([]byte(data)) {
			if !strings.Contains(data, k) {
				t.Fatalf("key %q not in input", k)
			}
		}
		if v, ok := parseCounter([]byte(data)); !ok && v != 0 {
			t.Fatalf("failed counter parse returned %d", v)
		}
		parseMemTotal([]byte(data))
		unescapeMount(data)
	})
}

func FuzzParsePS(f *testing.F) {
	f.Add("UID PID PPID CMD\nroot 1 0 init\nroot 2 1 sleep 10\n-   -  - -\n", 2)
	f.Add("PID\n", 1)
	f.Add("USER COMMAND\n", 1)
	f.Add("PID CMD\nx y\n", 1)
	f.Fuzz(func(t *testing.T, data string, pid int) {
		res, err := parsePS([]byte(data), []int{pid})
		if err != nil {
			return
		}
		for _, row := range res.Processes {
			if len(row) != len(res.Titles) {
				t.Fatalf("row %q has %d columns for %d titles", row, len(row), len(res.Titles))
			}
		}
	})
}
