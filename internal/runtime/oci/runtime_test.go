package oci

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
	"golang.org/x/sys/unix"
)

func TestFind(t *testing.T) {
	bin := t.TempDir()
	fake := filepath.Join(bin, "crun")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	r, err := Find("")
	if err != nil || r.Binary != fake {
		t.Fatalf("Find(\"\") with only crun on PATH = %+v, %v", r, err)
	}
	if _, err := Find("runc"); !errdefs.IsNotFound(err) {
		t.Fatalf("Find(runc) without runc: %v", err)
	}
	if r, err := Find(fake); err != nil || r.Binary != fake {
		t.Fatalf("Find(path) = %+v, %v", r, err)
	}
	t.Setenv("PATH", t.TempDir())
	_, err = Find("")
	if !errdefs.IsNotFound(err) || err.Error() != "no OCI runtime found: install runc or crun" {
		t.Fatalf("Find with nothing on PATH: %v", err)
	}
}

func TestErrorMessages(t *testing.T) {
	out := []byte(`{"level":"warning","msg":"ignored","time":"t"}
{"level":"error","msg":"container does not exist","time":"t"}

plain text line
{"level":"fatal","msg":"boom"}
`)
	got := errorMessages(out)
	want := []string{"container does not exist", "plain text line", "boom"}
	if !slices.Equal(got, want) {
		t.Fatalf("errorMessages = %q, want %q", got, want)
	}
}

func TestClassify(t *testing.T) {
	tests := map[string]error{
		"container does not exist":                                           errdefs.ErrNotFound,
		"container with given ID already exists":                             errdefs.ErrAlreadyExists,
		"container not running":                                              errdefs.ErrConflict,
		"container not paused":                                               errdefs.ErrConflict,
		"cannot start a container that has stopped":                          errdefs.ErrConflict,
		"cannot start an already running container":                          errdefs.ErrConflict,
		"error opening file `/run/crun/x/status`: No such file or directory": errdefs.ErrNotFound,
		"unable to apply cgroup configuration: permission denied":            errdefs.ErrUnavailable,
	}
	for msg, want := range tests {
		if got := classify(msg); !errors.Is(got, want) {
			t.Errorf("classify(%q) = %v, want %v", msg, got, want)
		}
	}
}

// A runtime that is a shell script shows how failures are reported.
func TestFailureCarriesRuntimeMessage(t *testing.T) {
	script := filepath.Join(t.TempDir(), "runc")
	body := "#!/bin/sh\necho '{\"level\":\"error\",\"msg\":\"container does not exist\"}' >&2\nexit 1\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &Runtime{Binary: script, StateRoot: t.TempDir()}
	_, err := r.State(t.Context(), "abc")
	if !errdefs.IsNotFound(err) || err.Error() != "runc state abc: container does not exist" {
		t.Fatalf("State error = %v", err)
	}
	if err := r.Delete(t.Context(), "abc", true); err != nil {
		t.Fatalf("Delete of a missing container: %v", err)
	}
}

func TestReadPidFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pid")
	if err := os.WriteFile(p, []byte("4242"), 0o644); err != nil {
		t.Fatal(err)
	}
	if pid, err := ReadPidFile(p); err != nil || pid != 4242 {
		t.Fatalf("ReadPidFile = %d, %v", pid, err)
	}
	for _, bad := range []string{"", "x", "-3", "0"} {
		if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadPidFile(p); !errors.Is(err, errdefs.ErrCorrupt) {
			t.Errorf("ReadPidFile(%q): %v", bad, err)
		}
	}
}

// An orphaned grandchild is reparented to a subreaper, which can then
// collect its exit status: the path a container init takes when the
// runtime process that forked it exits.
func TestSubreaperWait(t *testing.T) {
	if err := SetSubreaper(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/sh", "-c", "(sleep 0.1; exit 9) >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	if code, err := Wait(pid); err != nil || code != 9 {
		t.Fatalf("Wait(grandchild) = %d, %v; want 9", code, err)
	}

	out, err = exec.Command("/bin/sh", "-c", "sleep 5 >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code, err := Wait(pid); err != nil || code != 128+9 {
		t.Fatalf("Wait(killed) = %d, %v; want 137", code, err)
	}
	if _, err := Wait(pid); !errdefs.IsNotFound(err) {
		t.Fatalf("Wait(reaped pid): %v", err)
	}
}

func TestConsoleSocket(t *testing.T) {
	sock, err := NewConsoleSocket(filepath.Join(t.TempDir(), "console.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		defer w.Close()
		conn, err := dialUnix(sock.Path())
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(conn)
		if err := unix.Sendmsg(conn, []byte("/dev/pts/7"), unix.UnixRights(int(w.Fd())), nil, 0); err != nil {
			t.Error(err)
		}
	}()
	f, err := sock.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Name() != "/dev/pts/7" {
		t.Errorf("name = %q", f.Name())
	}
	if _, err := f.Write([]byte("through")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	w.Close()
	buf := make([]byte, 16)
	n, _ := r.Read(buf)
	if string(buf[:n]) != "through" {
		t.Fatalf("read %q through the received descriptor", buf[:n])
	}

	path := sock.Path()
	done := make(chan error, 1)
	go func() { _, err := sock.Accept(); done <- err }()
	time.Sleep(10 * time.Millisecond)
	sock.Close()
	if err := <-done; err == nil {
		t.Fatal("Accept after Close succeeded")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file left behind: %v", err)
	}
}

// dialUnix connects a raw unix stream socket, as runc does.
func dialUnix(path string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func FuzzErrorMessages(f *testing.F) {
	f.Add([]byte(`{"level":"error","msg":"container does not exist","time":"t"}`))
	f.Add([]byte("plain\n{\"level\":\"info\"}\n{"))
	f.Fuzz(func(t *testing.T, out []byte) {
		for _, m := range errorMessages(out) {
			if strings.Contains(m, "\n") {
				t.Fatalf("message %q spans lines", m)
			}
			_ = classify(m)
		}
	})
}
