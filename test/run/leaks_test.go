package run

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cleanup removes every container of the test with `rm -f -v` and then
// checks that nothing outlives it; whatever leaked is reported and then
// removed by force so that the next tests start clean.
func (e *env) cleanup() {
	t := e.t
	if entries, err := os.ReadDir(filepath.Join(e.root, "containers")); err == nil {
		for _, d := range entries {
			if len(d.Name()) == 64 {
				e.ids[d.Name()] = true
			}
		}
	}
	r := e.exec("ps", "-aq", "--no-trunc")
	if ids := lines(r.Stdout); r.Code == 0 && len(ids) > 0 {
		if rm := e.exec(append([]string{"rm", "-f", "-v"}, ids...)...); rm.Code != 0 {
			t.Errorf("cleanup: rm -f: %s", rm)
		}
	} else if r.Code != 0 {
		t.Errorf("cleanup: ps: %s", r)
	}
	// A monitor that lost its container may need a moment to finish.
	waitFor(10*time.Second, func() bool { return len(e.monitors()) == 0 })
	for _, pid := range e.monitors() {
		t.Errorf("leak: monitor process %d of this root is still running", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, mp := range mountsUnder(e.base) {
		t.Errorf("leak: mount %s", mp)
	}
	for _, mp := range mountsUnder(e.base) {
		_ = syscall.Unmount(mp, syscall.MNT_DETACH)
	}
	if ns, _ := os.ReadDir(filepath.Join(e.root, "network", "netns")); len(ns) > 0 {
		t.Errorf("leak: %d network namespace files in %s", len(ns), filepath.Join(e.root, "network", "netns"))
	}
	if st, _ := os.ReadDir(filepath.Join(e.root, "runtime")); len(st) > 0 {
		t.Errorf("leak: runtime state of %d containers in %s", len(st), filepath.Join(e.root, "runtime"))
	}
	for id := range e.ids {
		for _, cg := range cgroupsOf(id) {
			t.Errorf("leak: cgroup %s", cg)
		}
	}
	if dir := e.sockDir(); strings.HasPrefix(dir, os.TempDir()) {
		os.Remove(dir) // the short socket directory of a long root, if empty
	}
}

// sockDir is where monitor sockets of this root live (see sockPath).
func (e *env) sockDir() string {
	dir := filepath.Join(e.root, "run")
	if len(dir) > 70 {
		sum := sha256.Sum256([]byte(e.root))
		dir = filepath.Join(os.TempDir(), "strata-"+hex.EncodeToString(sum[:6]))
	}
	return dir
}

// monitors lists the live (not zombie) monitor processes of this root.
func (e *env) monitors() []int {
	var pids []int
	for _, p := range processes() {
		if strings.Contains(p.args, "container-monitor") && strings.Contains(p.args, "--root "+e.root+" ") {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

type process struct {
	pid  int
	args string // NULs replaced by spaces
}

// processes lists the processes that are not zombies.
func processes() []process {
	entries, _ := os.ReadDir("/proc")
	var out []process
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		if i := strings.LastIndexByte(string(stat), ')'); i < 0 || strings.HasPrefix(string(stat[i+1:]), " Z") {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		out = append(out, process{pid: pid, args: strings.ReplaceAll(string(cmdline), "\x00", " ")})
	}
	return out
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
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

// cgroupsOf lists the cgroup directories a container left (v1 and v2).
func cgroupsOf(id string) []string {
	var out []string
	for _, pattern := range []string{"/sys/fs/cgroup/*/strata/" + id, "/sys/fs/cgroup/strata/" + id} {
		m, _ := filepath.Glob(pattern)
		out = append(out, m...)
	}
	return out
}
