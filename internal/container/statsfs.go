package container

import (
	"bufio"
	"bytes"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// Parsers of the kernel files `stats` reads. Each takes the file's bytes
// and skips what it does not understand: the kernel adds fields over time.

// cgroupMounts are the host's cgroup hierarchies: v1 ones by controller,
// and the v2 (unified) one. A hybrid host has both; its controllers are
// on v1.
type cgroupMounts struct {
	v1 map[string]mountPoint
	v2 *mountPoint
}

// mountPoint is where a hierarchy is mounted and which of its cgroups is
// the mount's root (not "/" inside some containers).
type mountPoint struct {
	root, dir string
}

// path is the directory of the cgroup cgPath (as in a runtime spec's
// cgroupsPath) in this hierarchy.
func (mp mountPoint) path(cgPath string) string {
	rel := cgPath
	if mp.root != "/" && (cgPath == mp.root || strings.HasPrefix(cgPath, mp.root+"/")) {
		rel = strings.TrimPrefix(cgPath, mp.root)
	}
	return filepath.Join(mp.dir, filepath.Clean("/"+rel))
}

// dir returns the directory of cgroup cgPath for controller, and whether
// it is in the v2 hierarchy.
func (cm cgroupMounts) dir(controller, cgPath string) (string, bool, bool) {
	if mp, ok := cm.v1[controller]; ok {
		return mp.path(cgPath), false, true
	}
	if cm.v2 != nil {
		return cm.v2.path(cgPath), true, true
	}
	return "", false, false
}

// parseMountinfo finds the cgroup mounts in /proc/self/mountinfo:
//
//	ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
func parseMountinfo(data []byte) cgroupMounts {
	cm := cgroupMounts{v1: map[string]mountPoint{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 1 {
			continue
		}
		mp := mountPoint{root: unescapeMount(f[3]), dir: unescapeMount(f[4])}
		switch g[0] {
		case "cgroup2":
			if cm.v2 == nil {
				cm.v2 = &mp
			}
		case "cgroup":
			if len(g) < 3 {
				continue
			}
			for _, opt := range strings.Split(g[2], ",") {
				if _, seen := cm.v1[opt]; !seen && opt != "rw" && opt != "ro" {
					cm.v1[opt] = mp
				}
			}
		}
	}
	return cm
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// clockTicks is USER_HZ, the unit of /proc/stat; Docker also assumes 100.
const clockTicks = 100

// parseProcStat returns the host's CPU time in nanoseconds (user, nice,
// system, idle, iowait, irq and softirq of the "cpu" line, as Docker sums
// them) and the number of online CPUs (the "cpuN" lines).
func parseProcStat(data []byte) (uint64, int, bool) {
	var total uint64
	online, found := 0, false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		if f[0] != "cpu" {
			online++
			continue
		}
		if len(f) < 8 {
			return 0, 0, false
		}
		for _, v := range f[1:8] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, 0, false
			}
			total += n
		}
		found = true
	}
	if !found {
		return 0, 0, false
	}
	return total * (1e9 / clockTicks), online, true
}

// parseNetDev sums received and sent bytes of every interface in
// /proc/PID/net/dev but the loopback.
func parseNetDev(data []byte) (rx, tx uint64) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 == nil && err2 == nil {
			rx += r
			tx += t
		}
	}
	return rx, tx
}

// parseKeyed reads "key value" lines (memory.stat, cpu.stat).
func parseKeyed(data []byte) map[string]uint64 {
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			out[f[0]] = v
		}
	}
	return out
}

// parseBlkio sums a v1 blkio.*io_service_bytes_recursive file
// ("8:0 Read 4096" lines and a "Total" line) by operation, as Docker's CLI
// does; entries is how many device lines there were.
func parseBlkio(data []byte) (read, write uint64, entries int) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		v, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			continue
		}
		entries++
		switch strings.ToLower(f[1]) {
		case "read":
			read += v
		case "write":
			write += v
		}
	}
	return read, write, entries
}

// parseIOStat sums rbytes and wbytes of a v2 io.stat file
// ("8:0 rbytes=4096 wbytes=0 rios=1 ...").
func parseIOStat(data []byte) (read, write uint64) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		for _, kv := range strings.Fields(sc.Text()) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "rbytes":
				read += n
			case "wbytes":
				write += n
			}
		}
	}
	return read, write
}

// parseMemTotal returns MemTotal of /proc/meminfo in bytes.
func parseMemTotal(data []byte) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil || n > 1<<53 {
				return 0
			}
			if len(f) == 3 && f[2] == "kB" {
				n *= 1024
			}
			return n
		}
	}
	return 0
}

// parseCounter reads a file holding one number, or "max" (unlimited, as
// math.MaxUint64).
func parseCounter(data []byte) (uint64, bool) {
	s := string(bytes.TrimSpace(data))
	if s == "max" {
		return 1<<64 - 1, true
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// v1 reports an unlimited limit as a huge signed value; a negative
		// one (-1) also means none.
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n < 0 {
			return 1<<64 - 1, true
		}
		return 0, false
	}
	return v, true
}

// readSmall reads up to 1 MiB of r (kernel files are small; a hostile or
// broken one must not make stats allocate without bound).
func readSmall(r io.Reader) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, 1<<20))
}
