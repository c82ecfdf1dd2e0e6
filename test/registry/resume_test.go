package registry

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// writeBigLayer writes an uncompressed layer tar holding one file of size
// random bytes and returns it as a blob read from disk.
func writeBigLayer(t *testing.T, path string, size int64) blob {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(f, h))
	if err := tw.WriteHeader(&tar.Header{Name: "big.bin", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, rand.NewChaCha8([32]byte{9}), size); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return blob{digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), size: st.Size(),
		open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

// blobGet is one GET of the watched blob through the proxy.
type blobGet struct {
	rangeHeader string
	bytes       int64
}

// stallProxy forwards HTTP to a registry and counts the bytes of GETs of
// one blob path; the first such GET to pass stallAt bytes stalls until the
// client goes away.
type stallProxy struct {
	target   string // host:port
	blobPath string
	stallAt  int64
	stalled  chan struct{} // closed when a transfer stalls
	tr       *http.Transport
	// uploads: stall the first upload request body (PATCH or PUT) to
	// pass stallAt bytes instead of a blob GET.
	uploads bool

	mu      sync.Mutex
	gets    []blobGet
	didStop bool
}

func (p *stallProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := io.Reader(r.Body)
	if p.uploads && (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") {
		body = &stallReader{r: r.Body, left: p.stallAt, p: p, done: r.Context().Done()}
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+p.target+r.URL.RequestURI(), body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	out.ContentLength = r.ContentLength
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	if p.uploads || r.Method != http.MethodGet || r.URL.Path != p.blobPath {
		_, _ = io.Copy(w, resp.Body)
		return
	}
	p.mu.Lock()
	i := len(p.gets)
	p.gets = append(p.gets, blobGet{rangeHeader: r.Header.Get("Range")})
	p.mu.Unlock()
	buf := make([]byte, 256<<10)
	var n int64
	for {
		if n >= p.stallAt && p.stall() {
			<-r.Context().Done() // the client was killed
			break
		}
		m, err := resp.Body.Read(buf)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				break
			}
			n += int64(m)
		}
		if err != nil {
			break
		}
	}
	p.mu.Lock()
	p.gets[i].bytes = n
	p.mu.Unlock()
}

// stallReader passes left bytes, then, unless another request stalled
// already, holds everything back: it reads and drops the rest of the
// client's body and waits until the client goes away.
type stallReader struct {
	r    io.Reader
	left int64
	p    *stallProxy
	done <-chan struct{} // the request's context
}

func (s *stallReader) Read(b []byte) (int, error) {
	if s.left <= 0 && s.p.stall() {
		// The request's context is cancelled when the client dies only
		// once its body has been read; reading sees it die before that.
		if _, err := io.Copy(io.Discard, s.r); err == nil {
			<-s.done
		}
		return 0, io.ErrUnexpectedEOF
	}
	if s.left > 0 && int64(len(b)) > s.left {
		b = b[:s.left]
	}
	n, err := s.r.Read(b)
	s.left -= int64(n)
	return n, err
}

// stall reports whether the caller is the first to stall, and signals it.
func (p *stallProxy) stall() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.didStop {
		return false
	}
	p.didStop = true
	close(p.stalled)
	return true
}

// serve runs the proxy on a loopback port and returns its address.
func (p *stallProxy) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		// Connections the transport dialed but never used count as busy
		// for 5 s in the registry's graceful shutdown.
		p.tr.CloseIdleConnections()
	})
	return ln.Addr().String()
}

// killWhenStalled runs strata args in the background, waits until the
// proxy stalls, and kills it with SIGKILL.
func killWhenStalled(t *testing.T, s *sandbox, stalled <-chan struct{}, args ...string) {
	t.Helper()
	cmd := exec.Command(strataBin, append([]string{"--root", s.root}, args...)...)
	cmd.Env = s.environ()
	var out testbin.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-stalled:
	case err := <-exited:
		t.Fatalf("strata %s ended before the transfer stalled: %v\n%s", strings.Join(args, " "), err, out.String())
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("strata %s: the transfer never stalled\n%s", strings.Join(args, " "), out.String())
	}
	time.Sleep(200 * time.Millisecond) // let strata handle what it has received
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
}

func (p *stallProxy) blobGets() []blobGet {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]blobGet(nil), p.gets...)
}

// TestPullResumesAfterKill kills `strata pull` with SIGKILL in the middle
// of a 100 MB layer; the next pull asks for the rest only and succeeds.
func TestPullResumesAfterKill(t *testing.T) {
	t.Parallel()
	const size = 100 << 20
	reg := startRegistry(t, "", registryOpts{})
	s := newSandbox(t)
	layer := writeBigLayer(t, filepath.Join(s.base, "big.tar"), size)
	manifestDigest := pushImage(t, reg.url(), "big", "v1", []blob{layer})
	blobPath := "/v2/big/blobs/" + layer.digest

	proxy := &stallProxy{target: reg.addr, blobPath: blobPath, stallAt: 30 << 20, stalled: make(chan struct{}),
		tr: &http.Transport{DisableCompression: true}}
	ref := proxy.serve(t) + "/big:v1"

	// First pull: killed once 30 MB of the layer went through.
	killWhenStalled(t, s, proxy.stalled, "pull", ref)
	if got := s.out("images", "-q"); got != "" {
		t.Errorf("a killed pull left images: %q", got)
	}

	// Second pull: resumes with a Range request and completes.
	pull := parsePull(t, s.ok("pull", ref))
	if pull.digest != manifestDigest || pull.final != "Downloaded newer image for "+ref {
		t.Errorf("resumed pull: digest %s status %q", pull.digest, pull.final)
	}
	gets := proxy.blobGets()
	if len(gets) != 2 {
		t.Fatalf("layer GETs through the proxy: %+v, want 2", gets)
	}
	first, second := gets[0], gets[1]
	if first.rangeHeader != "" || first.bytes < 30<<20 {
		t.Errorf("first GET: %+v", first)
	}
	from, ok := strings.CutPrefix(second.rangeHeader, "bytes=")
	from, ok2 := strings.CutSuffix(from, "-")
	offset, err := strconv.ParseInt(from, 10, 64)
	if !ok || !ok2 || err != nil {
		t.Fatalf("second GET did not resume: Range %q", second.rangeHeader)
	}
	if offset < 16<<20 || offset > first.bytes {
		t.Errorf("second GET resumes at %d; the first passed %d bytes", offset, first.bytes)
	}
	if second.bytes != layer.size-offset {
		t.Errorf("second GET moved %d bytes, want the rest: %d", second.bytes, layer.size-offset)
	}
	// The registry's own access log agrees.
	var logged []int64
	for _, e := range reg.access() {
		if e.Method == "GET" && e.Path == blobPath {
			logged = append(logged, e.Bytes)
		}
	}
	if len(logged) != 2 || logged[1] != layer.size-offset || logged[1] >= layer.size {
		t.Errorf("registry log: layer GET bytes %v, want a second GET of %d", logged, layer.size-offset)
	}

	if got := s.out("inspect", "-f", "{{.RootFS.Layers}}", ref); got != "["+layer.digest+"]" {
		t.Errorf("resumed image layers %s, want [%s]", got, layer.digest)
	}
	s.checkClean()
	// A third pull needs nothing.
	if again := parsePull(t, s.ok("pull", ref)); again.final != "Image is up to date for "+ref {
		t.Errorf("third pull: %q", again.final)
	}
	if n := len(proxy.blobGets()); n != 2 {
		t.Errorf("third pull fetched the layer again (%d GETs)", n)
	}
}

// TestPushAfterKill kills `strata push` in the middle of a layer upload:
// the next push succeeds, the image pulls whole, and registry gc drops the
// abandoned upload session.
func TestPushAfterKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	reg := startRegistry(t, dir, registryOpts{noRoot: true, args: []string{"--root", store}})
	// The collector's configuration: every upload session has expired.
	gcConf := testbin.WriteFile(t, filepath.Join(dir, "gc.yml"), `storage:
  filesystem:
    root: `+store+`
gc:
  grace_period: 1ns
  upload_expiry: 1ns
`)
	s := newSandbox(t)
	layer := writeBigLayer(t, filepath.Join(s.base, "big.tar"), 24<<20)
	proxy := &stallProxy{target: reg.addr, uploads: true, stallAt: 8 << 20, stalled: make(chan struct{}),
		tr: &http.Transport{DisableCompression: true}}
	ref := proxy.serve(t) + "/pushed:v1"
	id := s.out("import", filepath.Join(s.base, "big.tar"), ref)

	killWhenStalled(t, s, proxy.stalled, "push", ref)
	if _, _, code := manifestOf(t, reg.url(), "pushed", "v1"); code != http.StatusNotFound {
		t.Fatalf("a killed push left a manifest: %d", code)
	}

	push := parsePush(t, s.ok("push", ref))
	if push.statuses()["Pushed"] < 1 {
		t.Errorf("push after a killed push: %v", push.status)
	}
	p := s.withRoot("pulled")
	direct := reg.addr + "/pushed:v1"
	if pull := parsePull(t, p.ok("pull", direct)); pull.digest != push.digest {
		t.Errorf("pull after the repeated push: digest %s, pushed %s", pull.digest, push.digest)
	}
	if got := p.out("inspect", "-f", "{{.Id}} {{.RootFS.Layers}}", direct); got != id+" ["+layer.digest+"]" {
		t.Errorf("pulled image %q, want %s [%s]", got, id, layer.digest)
	}
	p.checkClean()

	report := regGC(t, "--config", gcConf)
	if !strings.Contains(report, "UploadsDeleted:[") || strings.Contains(report, "UploadsDeleted:[]") {
		t.Errorf("registry gc did not drop the abandoned upload: %s", report)
	}
	if del := gcDeleted(t, report); len(del) != 0 {
		t.Errorf("registry gc deleted blobs of the pushed image: %v", del)
	}
}
