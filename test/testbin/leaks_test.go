package testbin

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWaitFor(t *testing.T) {
	t.Parallel()
	calls := 0
	start := time.Now()
	if !WaitFor(5*time.Second, func() bool { calls++; return calls == 3 }) {
		t.Fatal("WaitFor gave up on a condition that came true")
	}
	if calls != 3 || time.Since(start) < 100*time.Millisecond {
		t.Errorf("came true at call %d after %v; want call 3 after two 50 ms pauses", calls, time.Since(start))
	}
	start = time.Now()
	if WaitFor(120*time.Millisecond, func() bool { return false }) {
		t.Fatal("WaitFor reported a false condition true")
	}
	if d := time.Since(start); d < 120*time.Millisecond || d > 2*time.Second {
		t.Errorf("gave up after %v, want about 120ms", d)
	}
}

const sampleMountinfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
35 22 0:30 / /tmp/a\040b rw,relatime - tmpfs tmpfs rw
36 35 0:31 / /tmp/a\040b/sub\011dir rw,relatime - tmpfs tmpfs rw
37 22 0:32 / /tmp/a\040bc rw,relatime - tmpfs tmpfs rw
38 22 0:33 / /tmp/back\134slash rw,relatime - tmpfs tmpfs rw
short line
`

func TestMountsUnderSample(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"/tmp/a b":        {"/tmp/a b/sub\tdir", "/tmp/a b"},
		"/tmp/a b/sub\td": nil,
		`/tmp/back\slash`: {`/tmp/back\slash`},
		"/tmp":            {`/tmp/back\slash`, "/tmp/a bc", "/tmp/a b/sub\tdir", "/tmp/a b"},
		"/nowhere":        nil,
	}
	for dir, want := range cases {
		if got := mountsUnder(sampleMountinfo, dir); !slices.Equal(got, want) {
			t.Errorf("mountsUnder(%q) = %q, want %q", dir, got, want)
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		`plain`:        "plain",
		`a\040b`:       "a b",
		`end\040`:      "end ",
		`\134\011\012`: "\\\t\n",
		`short\04`:     `short\04`,
		`big\400`:      `big\400`,
		`hex\x41`:      `hex\x41`,
		`\`:            `\`,
	}
	for in, want := range cases {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// escapeMount escapes as the kernel does in mountinfo.
func escapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\\':
			b.WriteString(`\` + strconv.FormatUint(uint64(c)+0o1000, 8)[1:])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func FuzzUnescapeMount(f *testing.F) {
	for _, s := range []string{"", "/a b", "/x\\040y", "\t\n\\", "/\\\\040"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := unescapeMount(escapeMount(s)); got != s {
			t.Fatalf("unescapeMount(escapeMount(%q)) = %q", s, got)
		}
		if got := unescapeMount(s); len(got) > len(s) {
			t.Fatalf("unescapeMount(%q) = %q grew", s, got)
		}
	})
}

// TestMountsUnderHost mounts a tmpfs on a directory with a space in its
// name and finds it in this process's mountinfo.
func TestMountsUnderHost(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a b")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("testbin", dir, "tmpfs", 0, ""); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	if got := MountsUnder(filepath.Dir(dir)); !slices.Equal(got, []string{dir}) {
		t.Errorf("MountsUnder = %q, want %q", got, dir)
	}
}

// TestLiveProcesses finds a child by its command line, and no longer once
// it is a zombie.
func TestLiveProcesses(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "61.25")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	listed := func() bool {
		return slices.Contains(LiveProcesses(), Process{PID: pid, Args: "sleep 61.25 "})
	}
	if !listed() {
		t.Errorf("the running child %d is not listed", pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	zombie := func() bool {
		stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return strings.Contains(string(stat), ") Z")
	}
	if !WaitFor(5*time.Second, zombie) {
		t.Fatal("the killed child did not become a zombie")
	}
	if listed() {
		t.Error("the zombie child is listed")
	}
	var exit *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &exit) {
		t.Errorf("wait: %v", err)
	}
}
