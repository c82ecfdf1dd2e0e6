package containers

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStats(t *testing.T) {
	s := newSandbox(t)
	busy := s.start("--name", "busy", "--network", "none", "-m", "64m", "busybox", "sh", "-c", "while :; do :; done")
	idle := s.start("--name", "idle", "--network", "none", "busybox", "sleep", "1000")
	s.ok("run", "--name", "done", "--network", "none", "busybox", "true")

	out := s.ok("stats", "--no-stream", "busy", "idle")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if want := "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS"; columnsOf(lines[0]) != columnsOf(want) {
		t.Fatalf("header %q", lines[0])
	}
	if len(lines) != 3 {
		t.Fatalf("stats:\n%s", out)
	}
	b := columns(lines[1])
	if len(b) != 8 || b[0] != busy[:12] || b[1] != "busy" {
		t.Fatalf("busy row %q", lines[1])
	}
	// A busy loop uses a good part of a CPU (the machine may be loaded).
	if cpu := percentOf(t, b[2]); cpu < 5 {
		t.Errorf("busy loop at %v%% CPU", cpu)
	}
	if !strings.HasSuffix(b[3], " / 64MiB") {
		t.Errorf("memory %q, want a 64MiB limit", b[3])
	}
	if b[7] != "1" { // the shell runs the loop itself
		t.Errorf("pids %q", b[7])
	}
	i := columns(lines[2])
	if i[0] != idle[:12] || percentOf(t, i[2]) > 5 || i[7] != "1" {
		t.Errorf("idle row %q", lines[2])
	}

	// Without names: the running containers; -a adds the stopped one.
	out = s.ok("stats", "--no-stream", "--no-trunc", "--format", "{{.ID}} {{.Name}} {{.MemUsage}}")
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, busy+" busy ") || !strings.Contains(out, idle+" idle ") {
		t.Fatalf("stats of running containers:\n%s", out)
	}
	out = s.ok("stats", "--no-stream", "-a", "--format", "{{json .}}")
	found := false
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var row map[string]string
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("json row %q: %v", l, err)
		}
		if len(row) != 9 {
			t.Fatalf("json row has %d keys: %v", len(row), row)
		}
		if row["Name"] == "done" {
			found = true
			if row["MemUsage"] != "0B / 0B" || row["CPUPerc"] != "0.00%" || row["PIDs"] != "0" {
				t.Fatalf("stopped container row %v", row)
			}
		}
	}
	if !found {
		t.Fatalf("-a did not list the stopped container:\n%s", out)
	}

	s.fail(1, "No such container: nope", "stats", "--no-stream", "idle", "nope")
	s.fail(1, "template", "stats", "--no-stream", "--format", "{{.Nope", "idle")

	// Streaming redraws in place until interrupted.
	cmd := exec.Command(strataBin, "--root", s.root, "stats", "idle")
	var buf strings.Builder
	cmd.Stdout = &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	_ = cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("stats after Ctrl-C: %v\n%s", err, buf.String())
	}
	frames := strings.Count(buf.String(), "\033[H")
	if frames < 1 || frames > 3 || !strings.Contains(buf.String(), "\033[K\n") || !strings.Contains(buf.String(), idle[:12]) {
		t.Fatalf("stream output (%d frames): %q", frames, buf.String())
	}
}

func columnsOf(line string) string { return strings.Join(columns(line), "|") }

func percentOf(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		t.Fatalf("percentage %q: %v", s, err)
	}
	return v
}
