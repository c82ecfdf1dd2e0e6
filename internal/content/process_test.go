package content

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Environment of a re-executed test binary acting as another strata process.
const (
	envChild = "STRATA_CONTENT_TEST_CHILD" // "ingest" or "hold"
	envRoot  = "STRATA_CONTENT_TEST_ROOT"
	envRef   = "STRATA_CONTENT_TEST_REF"
)

// sharedData is what every concurrent committer writes.
func sharedData() []byte { return testData(42, 4<<20) }

func TestMain(m *testing.M) {
	if mode := os.Getenv(envChild); mode != "" {
		if err := runChild(mode, os.Getenv(envRoot), os.Getenv(envRef)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild is the body of a child process. "ingest" commits sharedData;
// "hold" takes an ingest lock, reports "ready" and waits to be killed.
func runChild(mode, root, ref string) error {
	s, err := Open(root)
	if err != nil {
		return err
	}
	switch mode {
	case "ingest":
		data := sharedData()
		_, err := s.Ingest(bytes.NewReader(data), int64(len(data)), digest.FromBytes(data))
		return err
	case "hold":
		w, err := s.Writer(ref, "")
		if err != nil {
			return err
		}
		w.Write([]byte("partial"))
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin) // until the parent kills us or goes away
		os.Exit(0)                    // without Close: the process just dies
	}
	return fmt.Errorf("unknown child mode %q", mode)
}

func childCmd(t *testing.T, mode, root, ref string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envChild+"="+mode, envRoot+"="+root, envRef+"="+ref)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestConcurrentCommitSameDigest(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	data := sharedData()
	want := digest.FromBytes(data)

	var children []*exec.Cmd
	for range 2 {
		cmd := childCmd(t, "ingest", root, "")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, cmd)
	}
	const goroutines = 6
	start := make(chan struct{})
	errs := make(chan error, goroutines*2)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(root) // one Store per goroutine, like separate processes
			if err != nil {
				errs <- err
				return
			}
			<-start
			if i%2 == 0 {
				_, err = s.Ingest(bytes.NewReader(data), int64(len(data)), want)
			} else {
				// Unknown digest: Ingest must read and commit, racing the others.
				var info Info
				info, err = s.Ingest(bytes.NewReader(data), -1, "")
				if err == nil && info.Digest != want {
					err = fmt.Errorf("got digest %s", info.Digest)
				}
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	for _, cmd := range children {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child process: %v", err)
		}
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent ingest: %v", err)
		}
	}

	s, _ := Open(root)
	n, size, err := s.Usage()
	if err != nil || n != 1 || size != int64(len(data)) {
		t.Fatalf("Usage = %d blobs, %d bytes, %v; want one blob of %d", n, size, err, len(data))
	}
	if got, err := s.ReadAll(want, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("blob after concurrent commits: %v", err)
	}
	if refs := ingestRefs(t, s); len(refs) != 0 {
		t.Fatalf("ingest left behind: %v", refs)
	}
}

func TestLockAcrossProcesses(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	cmd := childCmd(t, "hold", s.Root(), "tmp-held")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("child did not get ready: %q, %v", line, err)
	}

	_, err = s.Writer("tmp-held", "")
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("Writer on a ref held by another process: %v", err)
	}
	if n, err := s.CleanIngests(0); err != nil || n != 0 {
		t.Fatalf("CleanIngests with a live owner removed %d (%v)", n, err)
	}

	// kill -9: the lock dies with the process and the ingest is abandoned.
	cmd.Process.Kill()
	cmd.Wait()
	killed = true
	if n, err := s.CleanIngests(0); err != nil || n != 1 {
		t.Fatalf("CleanIngests after the owner died = %d, %v; want 1", n, err)
	}
	if refs := ingestRefs(t, s); len(refs) != 0 {
		t.Fatalf("ingest left behind: %v", refs)
	}
}

// TestSharedRefStress has writers in separate Stores take turns on one named
// ingest, resuming each other's partial data, while a cleaner removes
// abandoned ingests. Every writer must see a consistent prefix of the blob.
func TestSharedRefStress(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	data := testData(9, 256<<10)
	const chunk = 48 << 10
	want := digest.FromBytes(data)

	var wg sync.WaitGroup
	var commits, resumes atomic.Int64
	done := make(chan struct{})
	errs := make(chan error, 16)
	worker := func() {
		defer wg.Done()
		s, err := Open(root)
		if err != nil {
			errs <- err
			return
		}
		for turns := 0; turns < 40; {
			w, err := s.Writer("shared", "")
			if errors.Is(err, errdefs.ErrUnavailable) {
				continue
			}
			if err != nil {
				errs <- err
				return
			}
			turns++
			off := w.Offset()
			if off > 0 {
				resumes.Add(1)
			}
			if off > int64(len(data)) || w.Digest() != digest.FromBytes(data[:off]) {
				errs <- fmt.Errorf("resumed at %d with digest %s: not a prefix", off, w.Digest())
				w.Abort()
				return
			}
			end := min(off+chunk, int64(len(data)))
			if _, err := w.Write(data[off:end]); err != nil {
				errs <- err
				return
			}
			if end == int64(len(data)) {
				if _, err := w.Commit(end, want); err != nil {
					errs <- err
					return
				}
				commits.Add(1)
			} else if err := w.Close(); err != nil {
				errs <- err
				return
			}
		}
	}
	for range 3 {
		wg.Add(1)
		go worker()
	}
	cleaned := make(chan error, 1)
	go func() {
		s, err := Open(root)
		for err == nil {
			select {
			case <-done:
				cleaned <- nil
				return
			default:
			}
			_, err = s.CleanIngests(0)
		}
		cleaned <- err
	}()
	wg.Wait()
	close(done)
	if err := <-cleaned; err != nil {
		t.Errorf("cleaner: %v", err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if commits.Load() == 0 || resumes.Load() == 0 {
		t.Errorf("stress did not exercise resume and commit: %d resumes, %d commits", resumes.Load(), commits.Load())
	}
	t.Logf("%d resumes, %d commits", resumes.Load(), commits.Load())
}
