package build

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cleanup checks that the test's builds left nothing behind; whatever
// leaked is reported and then removed by force, so that t.TempDir can be
// removed and the next tests start clean.
func (e *env) cleanup() {
	t := e.t
	// A RUN step killed with its build may need a moment to go.
	waitFor(10*time.Second, func() bool { return len(e.processes()) == 0 })
	for _, p := range e.processes() {
		t.Errorf("leak: process %d of this root is still running: %s", p.pid, p.args)
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
	for _, mp := range mountsUnder(e.base) {
		t.Errorf("leak: mount %s", mp)
	}
	for _, mp := range mountsUnder(e.base) {
		_ = syscall.Unmount(mp, syscall.MNT_DETACH)
	}
	if _, err := os.Stat(e.root); err != nil {
		return // the test failed before the root was made
	}
	for _, sub := range []string{"build/work", "build/tmp", "runtime", "network/netns", "containers"} {
		if left, _ := os.ReadDir(filepath.Join(e.root, sub)); len(left) > 0 {
			var names []string
			for _, d := range left {
				names = append(names, d.Name())
			}
			t.Errorf("leak: %s holds %s", filepath.Join(e.root, sub), strings.Join(names, ", "))
		}
	}
	if r := e.exec("ps", "-aq", "--no-trunc"); r.Code != 0 || r.Stdout != "" {
		t.Errorf("leak: containers left by builds or runs: %s", r)
	}
}

// waitFor polls cond every 50 ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type process struct {
	pid  int
	args string // NULs replaced by spaces
}

// processes lists the live processes whose command line names this
// test's directory (strata itself, runc, monitors) other than this one.
func (e *env) processes() []process {
	var out []process
	for _, p := range liveProcesses() {
		if p.pid != os.Getpid() && strings.Contains(p.args, e.base+"/") {
			out = append(out, p)
		}
	}
	return out
}

// liveProcesses lists the processes that are not zombies.
func liveProcesses() []process {
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
