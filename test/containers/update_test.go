package containers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cgroupFile reads a file of the container's cgroup for a v1 controller
// (v1File) or its v2 equivalent, wherever the bundle put the cgroup.
func (s *sandbox) cgroupFile(id, ctrl, v1File, v2File string) string {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.root, "containers", id, "config.json"))
	if err != nil {
		s.t.Fatal(err)
	}
	var spec struct {
		Linux struct {
			CgroupsPath string `json:"cgroupsPath"`
		} `json:"linux"`
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		s.t.Fatal(err)
	}
	for _, p := range []string{
		filepath.Join("/sys/fs/cgroup", ctrl, spec.Linux.CgroupsPath, v1File),
		filepath.Join("/sys/fs/cgroup", spec.Linux.CgroupsPath, v2File),
	} {
		if data, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(data))
		}
	}
	s.t.Fatalf("no %s or %s for cgroup %s", v1File, v2File, spec.Linux.CgroupsPath)
	return ""
}

func TestUpdate(t *testing.T) {
	s := newSandbox(t)
	id := s.start("--name", "up", "--network", "none", "-m", "64m", "busybox", "sleep", "1000")
	if got := s.cgroupFile(id, "memory", "memory.limit_in_bytes", "memory.max"); got != strconv.Itoa(64<<20) {
		t.Fatalf("memory limit before update: %s", got)
	}

	out := s.ok("update", "-m", "128m", "--cpus", "0.5", "--pids-limit", "50", "--restart", "unless-stopped", "up")
	if out != "up\n" {
		t.Fatalf("update printed %q", out)
	}
	check := func(when string) {
		t.Helper()
		cid := strings.TrimSpace(s.ok("container", "inspect", "-f", "{{.Id}}", "up"))
		if got := s.cgroupFile(cid, "memory", "memory.limit_in_bytes", "memory.max"); got != strconv.Itoa(128<<20) {
			t.Fatalf("%s: memory limit %s", when, got)
		}
		if got := s.cgroupFile(cid, "pids", "pids.max", "pids.max"); got != "50" {
			t.Fatalf("%s: pids limit %s", when, got)
		}
		quota := s.cgroupFile(cid, "cpu", "cpu.cfs_quota_us", "cpu.max")
		if quota != "50000" && !strings.HasPrefix(quota, "50000 ") {
			t.Fatalf("%s: cpu quota %s", when, quota)
		}
		got := s.ok("container", "inspect", "-f",
			"{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}", "up")
		if got != "134217728 500000000 50 unless-stopped\n" {
			t.Fatalf("%s: inspect %q", when, got)
		}
	}
	check("live")
	if out := s.ok("stats", "--no-stream", "--format", "{{.MemUsage}}", "up"); !strings.HasSuffix(out, " / 128MiB\n") {
		t.Fatalf("stats after update: %q", out)
	}
	// Stored: a new start keeps the new limits.
	s.ok("stop", "-t", "0", "up")
	s.ok("start", "up")
	check("after restart")

	// Pids back to unlimited.
	s.ok("update", "--pids-limit", "-1", "up")
	if got := s.cgroupFile(id, "pids", "pids.max", "pids.max"); got != "max" {
		t.Fatalf("pids limit after -1: %s", got)
	}

	s.fail(1, "you must provide one or more flags", "update", "up")
	s.fail(1, "Minimum memory limit allowed is 6MB", "update", "-m", "1m", "up")
	s.fail(1, "invalid restart policy", "update", "--restart", "sometimes", "up")
	s.fail(1, "No such container: nope", "update", "--cpus", "1", "nope")

	// A stopped container is updated for its next start.
	s.ok("stop", "-t", "0", "up")
	s.ok("update", "-m", "96m", "up")
	s.ok("start", "up")
	if got := s.cgroupFile(id, "memory", "memory.limit_in_bytes", "memory.max"); got != strconv.Itoa(96<<20) {
		t.Fatalf("memory limit set while stopped: %s", got)
	}
}
