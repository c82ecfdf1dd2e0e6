package build

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// cleanup checks that the test's builds left nothing behind; whatever
// leaked is reported and then removed by force, so that t.TempDir can be
// removed and the next tests start clean.
func (e *env) cleanup() {
	t := e.t
	// A RUN step killed with its build may need a moment to go.
	testbin.WaitFor(10*time.Second, func() bool { return len(e.processes()) == 0 })
	for _, p := range e.processes() {
		t.Errorf("leak: process %d of this root is still running: %s", p.PID, p.Args)
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
	for _, mp := range testbin.MountsUnder(e.base) {
		t.Errorf("leak: mount %s", mp)
	}
	for _, mp := range testbin.MountsUnder(e.base) {
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

// processes lists the live processes whose command line names this
// test's directory (strata itself, runc, monitors) other than this one.
func (e *env) processes() []testbin.Process {
	var out []testbin.Process
	for _, p := range testbin.LiveProcesses() {
		if p.PID != os.Getpid() && strings.Contains(p.Args, e.base+"/") {
			out = append(out, p)
		}
	}
	return out
}
