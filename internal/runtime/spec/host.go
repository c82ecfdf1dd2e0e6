package spec

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Host holds the facts about the machine that change the generated spec.
// The zero value describes an unrestricted root on cgroup v1 with swap
// accounting; ProbeHost reads the real ones.
type Host struct {
	// Capabilities the runtime can grant (the bounding set of the process
	// that runs it). Privileged containers and --cap-add ALL get these;
	// nil means every capability known to strata.
	Capabilities []string
	// NofileLimit is the highest RLIMIT_NOFILE the runtime may set; the
	// default (1048576, as Docker's containers get) is lowered to it. 0
	// means no ceiling.
	NofileLimit uint64
	// CgroupV2 is true on a unified (v2-only) hierarchy; containers then get
	// a private cgroup namespace, as with Docker.
	CgroupV2 bool
	// NoSwapLimit is true when the memory controller cannot limit swap;
	// --memory then sets no swap limit (Docker warns and does the same).
	NoSwapLimit bool
}

// capSysResource is the kernel number of CAP_SYS_RESOURCE, needed to raise
// a hard rlimit.
const capSysResource = 24

// ProbeHost reads the Host facts of the running process and machine.
func ProbeHost() (Host, error) {
	var h Host
	status, err := readStatusCaps("/proc/self/status")
	if err != nil {
		return Host{}, err
	}
	h.Capabilities = capabilityNames(status["CapBnd"])
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return Host{}, fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	if status["CapEff"]&(1<<capSysResource) == 0 {
		h.NofileLimit = lim.Max
	} else if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		h.NofileLimit, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &fs); err != nil {
		return Host{}, fmt.Errorf("stat /sys/fs/cgroup: %w", err)
	}
	h.CgroupV2 = fs.Type == unix.CGROUP2_SUPER_MAGIC
	h.NoSwapLimit = !swapLimitSupported(h.CgroupV2)
	return h, nil
}

// readStatusCaps reads the Cap* bit masks of a /proc/PID/status file.
func readStatusCaps(path string) (map[string]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make(map[string]uint64)
	s := bufio.NewScanner(f)
	for s.Scan() {
		key, val, ok := strings.Cut(s.Text(), ":")
		if !ok || !strings.HasPrefix(key, "Cap") {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: bad %s value %q", path, key, val)
		}
		out[key] = mask
	}
	return out, s.Err()
}

// capabilityNames lists the known capabilities set in mask.
func capabilityNames(mask uint64) []string {
	out := []string{}
	for i, name := range knownCapabilities {
		if mask&(1<<uint(i)) != 0 {
			out = append(out, name)
		}
	}
	return out
}

// swapLimitSupported checks for the memory controller's swap files: the v1
// hierarchy's memsw, or v2's memory.swap.max in this process's cgroup (the
// root cgroup has none, and is taken as supporting it).
func swapLimitSupported(v2 bool) bool {
	if !v2 {
		_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
		return err == nil
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return true
	}
	own := strings.TrimSpace(strings.TrimPrefix(string(b), "0::"))
	if own == "/" || own == "" {
		return true
	}
	_, err = os.Stat(filepath.Join("/sys/fs/cgroup", own, "memory.swap.max"))
	return err == nil
}
