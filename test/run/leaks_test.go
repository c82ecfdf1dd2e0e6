package run

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/strata-dev/strata/test/testbin"
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
	if ids := testbin.Lines(r.Stdout); r.Code == 0 && len(ids) > 0 {
		if rm := e.exec(append([]string{"rm", "-f", "-v"}, ids...)...); rm.Code != 0 {
			t.Errorf("cleanup: rm -f: %s", rm)
		}
	} else if r.Code != 0 {
		t.Errorf("cleanup: ps: %s", r)
	}
	// A monitor that lost its container may need a moment to finish.
	testbin.WaitFor(10*time.Second, func() bool { return len(e.monitors()) == 0 })
	for _, pid := range e.monitors() {
		t.Errorf("leak: monitor process %d of this root is still running", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, mp := range testbin.MountsUnder(e.base) {
		t.Errorf("leak: mount %s", mp)
	}
	for _, mp := range testbin.MountsUnder(e.base) {
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
	for _, p := range testbin.LiveProcesses() {
		if strings.Contains(p.Args, "container-monitor") && strings.Contains(p.Args, "--root "+e.root+" ") {
			pids = append(pids, p.PID)
		}
	}
	return pids
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
