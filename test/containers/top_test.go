package containers

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var spaces = regexp.MustCompile(`\s{2,}`)

// columns splits a line of a column-aligned table.
func columns(line string) []string {
	return spaces.Split(strings.TrimSpace(line), -1)
}

func TestTop(t *testing.T) {
	s := newSandbox(t)
	s.start("--name", "tp", "--network", "none", "busybox", "sh", "-c", "sleep 1001 & sleep 1002 & wait")
	pid := strings.TrimSpace(s.ok("container", "inspect", "-f", "{{.State.Pid}}", "tp"))

	// Both sleeps may take a moment to be forked.
	var lines []string
	for deadline := time.Now().Add(5 * time.Second); ; {
		lines = strings.Split(strings.TrimSpace(s.ok("top", "tp")), "\n")
		if len(lines) == 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(lines) != 4 {
		t.Fatalf("top: want a header and 3 processes, got:\n%s", strings.Join(lines, "\n"))
	}
	head := strings.Fields(lines[0])
	if len(head) < 2 || head[1] != "PID" || head[len(head)-1] != "CMD" {
		t.Fatalf("header %q", lines[0])
	}
	var cmds []string
	pids := map[string]bool{}
	for _, l := range lines[1:] {
		f := columns(l)
		if len(f) != len(head) {
			t.Fatalf("row %q has %d columns for %d titles", l, len(f), len(head))
		}
		pids[f[1]] = true
		cmds = append(cmds, f[len(f)-1])
	}
	if !pids[pid] {
		t.Fatalf("init pid %s not in %v", pid, pids)
	}
	joined := strings.Join(cmds, "|")
	for _, want := range []string{"sh -c sleep 1001 & sleep 1002 & wait", "sleep 1001", "sleep 1002"} {
		if !strings.Contains(joined, want) {
			t.Fatalf("commands %q lack %q", cmds, want)
		}
	}

	// ps options after the container; their header is ps's.
	out := s.ok("top", "tp", "-o", "pid,comm")
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if f := strings.Fields(rows[0]); len(f) != 2 || f[0] != "PID" || f[1] != "COMMAND" {
		t.Fatalf("header %q", rows[0])
	}
	if len(rows) != 4 || !strings.Contains(out, "sleep") {
		t.Fatalf("top -o pid,comm:\n%s", out)
	}
	for _, r := range rows[1:] {
		if _, err := strconv.Atoi(strings.Fields(r)[0]); err != nil {
			t.Fatalf("row %q", r)
		}
	}
	s.fail(1, `specifying "x=PID" is not allowed`, "top", "tp", "-o", "x=PID")

	s.ok("stop", "-t", "0", "tp")
	s.fail(1, "is not running", "top", "tp")
	s.fail(1, "No such container: nope", "top", "nope")
}
