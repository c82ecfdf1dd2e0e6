package oci

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/runtime/spec"
)

// These tests run real containers: they need root, runc and a static
// busybox (Debian's busybox-static) to build a rootfs from.

const busybox = "/bin/busybox"

type harness struct {
	t  *testing.T
	rt *Runtime
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping container test: needs root")
	}
	rt, err := Find("runc")
	if err != nil {
		t.Skip("skipping container test: runc is not installed")
	}
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("skipping container test: " + busybox + " is missing (install busybox-static)")
	}
	if err := SetSubreaper(); err != nil {
		t.Fatal(err)
	}
	rt.StateRoot = t.TempDir()
	return &harness{t: t, rt: rt}
}

// container is a bundle on disk whose runtime state is deleted when the
// test ends, whatever happened.
type container struct {
	id, bundle string
}

// bundle builds a busybox rootfs and a config.json from spec.Generate.
func (h *harness) bundle(args []string, tune func(*spec.Options)) container {
	t := h.t
	t.Helper()
	var rnd [6]byte
	rand.Read(rnd[:])
	id := "strata-test-" + hex.EncodeToString(rnd[:])
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, busybox, filepath.Join(rootfs, "bin/busybox"))
	for _, tool := range []string{"sh", "echo", "sleep", "cat", "id", "true", "exit"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", tool)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
	if err := os.WriteFile(filepath.Join(rootfs, "etc/passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}

	host, err := spec.ProbeHost()
	if err != nil {
		t.Fatal(err)
	}
	user, err := spec.ResolveUser(rootfs, "")
	if err != nil {
		t.Fatal(err)
	}
	o := spec.Options{
		ID:          id,
		RootfsPath:  "rootfs",
		Args:        args,
		User:        user,
		CgroupsPath: "/strata-test/" + id,
		Host:        host,
	}
	if tune != nil {
		tune(&o)
	}
	s, err := spec.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.rt.Delete(ctx, id, true); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return container{id: id, bundle: dir}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// wait reaps the container init with a deadline, killing it on timeout.
func (h *harness) wait(c container, pid int) int {
	h.t.Helper()
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := Wait(pid)
		done <- result{code, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			h.t.Fatalf("wait for %s: %v", c.id, r.err)
		}
		return r.code
	case <-time.After(15 * time.Second):
		h.rt.Kill(context.Background(), c.id, syscall.SIGKILL, true)
		<-done
		h.t.Fatalf("container %s did not exit", c.id)
		return -1
	}
}

func pipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// readAll collects a pipe's output in the background.
func readAll(r io.Reader) <-chan string {
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	return out
}

func TestContainerRunToExit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := t.Context()
	c := h.bundle([]string{"sh", "-c", "echo hello; echo oops >&2; exit 3"}, nil)
	stdoutR, stdoutW := pipe(t)
	stderrR, stderrW := pipe(t)
	pidFile := filepath.Join(c.bundle, "init.pid")
	err := h.rt.Create(ctx, c.id, c.bundle, CreateOpts{PidFile: pidFile, Stdout: stdoutW, Stderr: stderrW})
	if err != nil {
		t.Fatal(err)
	}
	stdoutW.Close()
	stderrW.Close()
	stdout, stderr := readAll(stdoutR), readAll(stderrR)
	pid, err := ReadPidFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := h.rt.State(ctx, c.id)
	if err != nil || st.Status != StatusCreated || st.Pid != pid || st.ID != c.id {
		t.Fatalf("state after create = %+v, %v", st, err)
	}
	if err := h.rt.Create(ctx, c.id, c.bundle, CreateOpts{}); !errdefs.IsAlreadyExists(err) {
		t.Errorf("second create: %v", err)
	}
	if err := h.rt.Start(ctx, c.id); err != nil {
		t.Fatal(err)
	}
	if code := h.wait(c, pid); code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	if got := <-stdout; got != "hello\n" {
		t.Errorf("stdout %q", got)
	}
	if got := <-stderr; got != "oops\n" {
		t.Errorf("stderr %q", got)
	}
	if st, err := h.rt.State(ctx, c.id); err != nil || st.Status != StatusStopped {
		t.Errorf("state after exit = %+v, %v", st, err)
	}
	if err := h.rt.Kill(ctx, c.id, syscall.SIGTERM, false); !errdefs.IsConflict(err) && !errdefs.IsNotFound(err) {
		t.Errorf("kill of a stopped container: %v", err)
	}
	if err := h.rt.Delete(ctx, c.id, false); err != nil {
		t.Fatal(err)
	}
	if _, err := h.rt.State(ctx, c.id); !errdefs.IsNotFound(err) {
		t.Errorf("state after delete: %v", err)
	}
	if err := h.rt.Delete(ctx, c.id, false); err != nil {
		t.Errorf("second delete: %v", err)
	}
}

func TestContainerCreateFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.bundle([]string{"/no/such/binary"}, nil)
	err := h.rt.Create(t.Context(), c.id, c.bundle, CreateOpts{})
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "/no/such/binary") {
		t.Fatalf("create with a missing binary: %v", err)
	}
	t.Log(err)
}

// memoryLimit reads the memory limit of pid's cgroup from the host side.
func memoryLimit(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	var v1, v2 string
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if slices.Contains(strings.Split(parts[1], ","), "memory") {
			v1 = parts[2]
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
		}
	}
	file := filepath.Join("/sys/fs/cgroup/memory", v1, "memory.limit_in_bytes")
	if v1 == "" {
		file = filepath.Join("/sys/fs/cgroup", v2, "memory.max")
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return n
}

func TestContainerLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := t.Context()
	script := `trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done`
	c := h.bundle([]string{"sh", "-c", script}, func(o *spec.Options) { o.Memory = 64 << 20 })
	outR, outW := pipe(t)
	pidFile := filepath.Join(c.bundle, "init.pid")
	if err := h.rt.Create(ctx, c.id, c.bundle, CreateOpts{PidFile: pidFile, Stdout: outW, Stderr: outW}); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	pid, err := ReadPidFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.rt.Start(ctx, c.id); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(outR)
	if line, err := lines.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("first line %q, %v", line, err)
	}

	if st, err := h.rt.State(ctx, c.id); err != nil || st.Status != StatusRunning || st.Pid != pid {
		t.Fatalf("state = %+v, %v", st, err)
	}
	if got := memoryLimit(t, pid); got != 64<<20 {
		t.Errorf("memory limit %d, want %d", got, 64<<20)
	}
	pids, err := h.rt.Ps(ctx, c.id)
	if err != nil || !slices.Contains(pids, pid) {
		t.Errorf("ps = %v, %v; want to contain %d", pids, err, pid)
	}

	if err := h.rt.Pause(ctx, c.id); err != nil {
		t.Fatal(err)
	}
	if st, err := h.rt.State(ctx, c.id); err != nil || st.Status != StatusPaused {
		t.Errorf("state after pause = %+v, %v", st, err)
	}
	if err := h.rt.Resume(ctx, c.id); err != nil {
		t.Fatal(err)
	}
	if st, err := h.rt.State(ctx, c.id); err != nil || st.Status != StatusRunning {
		t.Errorf("state after resume = %+v, %v", st, err)
	}
	if err := h.rt.Resume(ctx, c.id); !errdefs.IsConflict(err) {
		t.Errorf("resume of a running container: %v", err)
	}

	limit := int64(100 << 20)
	if err := h.rt.Update(ctx, c.id, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}); err != nil {
		t.Fatal(err)
	}
	if got := memoryLimit(t, pid); got != limit {
		t.Errorf("memory limit after update %d, want %d", got, limit)
	}

	user, err := spec.ResolveUser(filepath.Join(c.bundle, "rootfs"), "app")
	if err != nil {
		t.Fatal(err)
	}
	execOut, execW := pipe(t)
	proc := specs.Process{
		Args: []string{"id", "-u"},
		Env:  []string{"PATH=" + spec.DefaultPath},
		Cwd:  "/",
		User: specs.User{UID: user.UID, GID: user.GID, AdditionalGids: user.AdditionalGids},
	}
	if err := h.rt.Exec(ctx, c.id, proc, ExecOpts{Stdout: execW}); err != nil {
		t.Fatal(err)
	}
	execW.Close()
	if got := <-readAll(execOut); got != "1000\n" {
		t.Errorf("exec id -u printed %q", got)
	}
	proc.Args = []string{"sh", "-c", "exit 5"}
	var exitErr *ExitError
	if err := h.rt.Exec(ctx, c.id, proc, ExecOpts{}); !errors.As(err, &exitErr) || exitErr.Code != 5 {
		t.Errorf("exec exit 5: %v", err)
	}
	proc.Args = []string{"/missing"}
	if err := h.rt.Exec(ctx, c.id, proc, ExecOpts{}); err == nil || errors.As(err, &exitErr) {
		t.Errorf("exec of a missing binary: %v", err)
	}

	// A detached exec with a terminal: its pty comes through a console
	// socket, and the process is reparented to this subreaper.
	sock, err := NewConsoleSocket(filepath.Join(c.bundle, "exec.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	proc.Terminal = true
	proc.Args = []string{"sh", "-c", "echo in-tty; read line; exit $line"}
	execPidFile := filepath.Join(c.bundle, "exec.pid")
	if err := h.rt.Exec(ctx, c.id, proc, ExecOpts{Detach: true, PidFile: execPidFile, ConsoleSocket: sock.Path()}); err != nil {
		t.Fatal(err)
	}
	master, err := sock.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	readUntil(t, master, "in-tty\r\n")
	if _, err := master.Write([]byte("6\n")); err != nil {
		t.Fatal(err)
	}
	execPid, err := ReadPidFile(execPidFile)
	if err != nil {
		t.Fatal(err)
	}
	if code := h.wait(c, execPid); code != 6 {
		t.Errorf("detached exec exit code %d, want 6", code)
	}

	if err := h.rt.Kill(ctx, c.id, syscall.SIGTERM, false); err != nil {
		t.Fatal(err)
	}
	if code := h.wait(c, pid); code != 7 {
		t.Errorf("exit code after SIGTERM %d, want 7", code)
	}
	if rest, _ := io.ReadAll(lines); string(rest) != "got TERM\n" {
		t.Errorf("output after SIGTERM %q", rest)
	}
}

func TestContainerTerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := t.Context()
	c := h.bundle([]string{"sh"}, func(o *spec.Options) { o.Tty = true })
	sock, err := NewConsoleSocket(filepath.Join(c.bundle, "console.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	type accepted struct {
		f   *os.File
		err error
	}
	got := make(chan accepted, 1)
	go func() {
		f, err := sock.Accept()
		got <- accepted{f, err}
	}()
	pidFile := filepath.Join(c.bundle, "init.pid")
	if err := h.rt.Create(ctx, c.id, c.bundle, CreateOpts{PidFile: pidFile, ConsoleSocket: sock.Path()}); err != nil {
		t.Fatal(err)
	}
	a := <-got
	if a.err != nil {
		t.Fatal(a.err)
	}
	master := a.f
	defer master.Close()
	pid, err := ReadPidFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.rt.Start(ctx, c.id); err != nil {
		t.Fatal(err)
	}
	if _, err := master.Write([]byte("echo hi $TERM\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, master, "\nhi xterm\r\n")
	if _, err := master.Write([]byte("exit 4\n")); err != nil {
		t.Fatal(err)
	}
	if code := h.wait(c, pid); code != 4 {
		t.Errorf("exit code %d, want 4", code)
	}
}

// readUntil reads a pty master until want shows up.
func readUntil(t *testing.T, master *os.File, want string) {
	t.Helper()
	if err := master.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var seen []byte
	buf := make([]byte, 1024)
	for !bytes.Contains(seen, []byte(want)) {
		n, err := master.Read(buf)
		seen = append(seen, buf[:n]...)
		if err != nil {
			t.Fatalf("terminal output %q: %v", seen, err)
		}
	}
}
