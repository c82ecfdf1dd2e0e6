package containers

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var reclaimed = regexp.MustCompile(`(?m)^Total reclaimed space: ([0-9.]+)(B|kB|MB)$`)

// reclaimedBytes reads prune's last line back into bytes.
func reclaimedBytes(t *testing.T, out string) float64 {
	t.Helper()
	m := reclaimed.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no reclaimed space line in %q", out)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v * map[string]float64{"B": 1, "kB": 1e3, "MB": 1e6}[m[2]]
}

func TestContainerPrune(t *testing.T) {
	s := newSandbox(t)
	running := s.start("--name", "keep", "--network", "none", "busybox", "sleep", "1000")
	labelled := strings.TrimSpace(s.ok("create", "--name", "lab", "-l", "prune=yes", "busybox"))
	s.ok("run", "--name", "fat", "--network", "none", "busybox", "sh", "-c", "head -c 300000 /bin/busybox > /blob")
	fat := strings.TrimSpace(s.ok("container", "inspect", "-f", "{{.Id}}", "fat"))

	// Declined: nothing goes.
	r := s.exec(strings.NewReader("n\n"), "container", "prune")
	if r.Code != 0 || r.Stdout != "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] " {
		t.Fatalf("declined prune: %s", r)
	}
	if n := len(strings.Fields(s.ok("ps", "-aq"))); n != 3 {
		t.Fatalf("%d containers after a declined prune", n)
	}

	// A label filter picks the created container only.
	out := s.ok("container", "prune", "-f", "--filter", "label=prune=yes")
	if !strings.HasPrefix(out, "Deleted Containers:\n"+labelled+"\n\nTotal reclaimed space: ") {
		t.Fatalf("prune --filter label:\n%s", out)
	}
	// until in the past matches nothing.
	out = s.ok("container", "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z")
	if out != "Total reclaimed space: 0B\n" {
		t.Fatalf("prune until=2000:\n%s", out)
	}

	out = s.okIn(strings.NewReader("y\n"), "container", "prune")
	if !strings.Contains(out, "Deleted Containers:\n"+fat+"\n\n") {
		t.Fatalf("prune:\n%s", out)
	}
	// The 300 kB written in the container's layer left the disk.
	if got := reclaimedBytes(t, out); got < 300e3 || got > 2e6 {
		t.Fatalf("reclaimed %v bytes:\n%s", got, out)
	}
	if ids := strings.Fields(s.ok("ps", "-aq", "--no-trunc")); len(ids) != 1 || ids[0] != running {
		t.Fatalf("left after prune: %q", ids)
	}
	s.fail(1, "invalid filter 'status'", "container", "prune", "-f", "--filter", "status=exited")
}
