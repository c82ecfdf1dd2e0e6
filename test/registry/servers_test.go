package registry

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// server is a registry process the test started: strata's, the CNCF
// registry or versitygw.
type server struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	addr   string // host:port
	scheme string // http or https
	log    *testbin.SyncBuffer
	done   chan struct{} // closed when the process exited
	stops  atomic.Int64  // sentinel requests made so far
}

// url is the base URL of the server.
func (s *server) url() string { return s.scheme + "://" + s.addr }

// start runs cmd (its address in addr) and waits until probe answers with
// any HTTP status; the process is stopped when the test ends.
func startServer(t *testing.T, name, addr, scheme string, cmd *exec.Cmd) *server {
	t.Helper()
	s := &server{t: t, name: name, cmd: cmd, addr: addr, scheme: scheme, log: &testbin.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	client := insecureClient()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(s.url() + "/v2/")
		if err == nil {
			resp.Body.Close()
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("%s exited before serving: %v\n%s", name, cmd.ProcessState, s.log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer on %s: %v\n%s", name, s.url(), err, s.log)
		}
	}
}

// stop ends the process (SIGTERM, then SIGKILL after 5 s) and waits.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func insecureClient() *http.Client {
	return &http.Client{
		Timeout:   time.Minute,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableCompression: true},
	}
}

// registryOpts configures startRegistry.
type registryOpts struct {
	host string   // listen host, default 127.0.0.1
	args []string // extra flags of `registry serve`
	env  []string // extra environment
	// noRoot leaves out --root (the storage comes from args or --config).
	noRoot bool
	scheme string // default http
}

// startRegistry runs `strata registry serve` on a free port with its own
// --root under dir (t.TempDir() if ""), and returns it once /v2/ answers.
func startRegistry(t *testing.T, dir string, o registryOpts) *server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if o.host == "" {
		o.host = "127.0.0.1"
	}
	if o.scheme == "" {
		o.scheme = "http"
	}
	addr := net.JoinHostPort(o.host, fmt.Sprint(testbin.FreePort(t, o.host)))
	args := []string{"registry", "serve", "--addr", addr}
	if !o.noRoot {
		args = append(args, "--root", filepath.Join(dir, "registry"))
	}
	cmd := exec.Command(strataBin, append(args, o.args...)...)
	cmd.Env = testbin.Env(append([]string{"HOME=" + dir}, o.env...)...)
	return startServer(t, "strata registry", addr, o.scheme, cmd)
}

// accessEntry is one line of strata's JSON access log.
type accessEntry struct {
	Method, Route, Path, Repo, User string
	Status                          int
	Bytes                           int64
}

// access returns the access log entries so far, in order, without the
// sentinel requests it makes: it makes one and waits for its line, so the
// lines of requests answered before it are in.
func (s *server) access() []accessEntry {
	s.t.Helper()
	sentinel := fmt.Sprintf("/v2/sentinel-%d/tags/list", s.stops.Add(1))
	resp, err := insecureClient().Get(s.url() + sentinel)
	if err != nil {
		s.t.Fatalf("sentinel request: %v", err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.log.String(), `"path":"`+sentinel+`"`) {
		if time.Now().After(deadline) {
			s.t.Fatalf("the access log has no line for %s:\n%s", sentinel, s.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // lines racing the sentinel's
	return s.parseLog()
}

// parseLog parses the JSON request lines of the log (other lines are
// skipped), without the sentinel requests.
func (s *server) parseLog() []accessEntry {
	var out []accessEntry
	sc := bufio.NewScanner(strings.NewReader(s.log.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e struct {
			Msg string
			accessEntry
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Msg == "request" && !strings.HasPrefix(e.Path, "/v2/sentinel-") {
			out = append(out, e.accessEntry)
		}
	}
	return out
}

// mark is the number of access log entries so far, for since.
func (s *server) mark() int {
	s.t.Helper()
	return len(s.access())
}

// since returns the access log entries after the first n.
func (s *server) since(n int) []accessEntry {
	s.t.Helper()
	return s.access()[n:]
}

// blobUploads counts the PATCH and PUT requests to upload sessions.
func blobUploads(entries []accessEntry) int {
	n := 0
	for _, e := range entries {
		if e.Route == "upload" && (e.Method == "PATCH" || e.Method == "PUT") {
			n++
		}
	}
	return n
}

// startCNCF runs the CNCF distribution registry (Debian's docker-registry)
// with filesystem storage and deletes enabled, or skips the test. extra is
// more top-level YAML (an auth section).
func startCNCF(t *testing.T, extra ...string) *server {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry (the CNCF registry) is not installed: apt-get install docker-registry")
	}
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t, "127.0.0.1"))
	conf := testbin.WriteFile(t, filepath.Join(dir, "config.yml"), fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, filepath.Join(dir, "data"), addr, strings.Join(extra, "")))
	cmd := exec.Command(bin, "serve", conf)
	cmd.Env = testbin.Env("HOME=" + dir)
	return startServer(t, "docker-registry", addr, "http", cmd)
}

// S3 credentials of the versitygw the tests start.
const (
	s3Access = "strata-test"
	s3Secret = "strata-test-secret"
)

// startS3 runs versitygw on a directory and creates bucket in it, or skips
// the test.
func startS3(t *testing.T, bucket string) *server {
	t.Helper()
	bin := testbin.Tool("versitygw")
	if bin == "" {
		t.Skip("versitygw not found in PATH or $GOPATH/bin (make deps installs it)")
	}
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t, "127.0.0.1"))
	cmd := exec.Command(bin, "--access", s3Access, "--secret", s3Secret, "--port", addr, "--quiet", "posix", dir)
	cmd.Env = testbin.Env("HOME=" + dir)
	s := startServer(t, "versitygw", addr, "http", cmd)
	makeBucket(t, s, bucket)
	return s
}

// withTimeout is a context for one helper step.
func withTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
