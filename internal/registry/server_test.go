package registry

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/registry/storage"
)

func TestTwoServersOneStorage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		a := newEnv(t, drv, Config{})
		b := newEnv(t, drv, Config{})
		img := a.pushImage("shared/app", "v1", nil)
		r := b.do("GET", "/v2/shared/app/manifests/v1", nil).want(t, 200)
		if !bytes.Equal(r.body, img.manifest) {
			t.Fatal("manifest differs between servers")
		}
		b.do("GET", "/v2/shared/app/blobs/"+img.layer.String(), nil).want(t, 200)

		// An upload started on a, continued on b, finished on a.
		data := randBytes(t, 5000)
		loc := a.startUpload("shared/app")
		a.do("PATCH", loc, data[:2000], "Content-Range", "0-1999").want(t, 202)
		r = b.do("GET", loc, nil).want(t, 204)
		if r.Header.Get("Range") != "0-1999" {
			t.Fatalf("b sees Range %q", r.Header.Get("Range"))
		}
		b.do("PATCH", loc, data[2000:4000], "Content-Range", "2000-3999").want(t, 202)
		a.do("PATCH", loc, data[3000:4000], "Content-Range", "3000-3999").want(t, 416)
		a.do("PUT", loc+"?digest="+sha256Of(data).String(), data[4000:], "Content-Range", "4000-4999").want(t, 201)
		r = b.do("GET", "/v2/shared/app/blobs/"+sha256Of(data).String(), nil).want(t, 200)
		if !bytes.Equal(r.body, data) {
			t.Fatal("blob assembled across servers is wrong")
		}
		// Deletes on one are seen by the other.
		b.do("DELETE", "/v2/shared/app/manifests/v1", nil).want(t, 202)
		a.do("GET", "/v2/shared/app/manifests/v1", nil).want(t, 404, "MANIFEST_UNKNOWN")
		r = a.do("GET", "/v2/_catalog", nil).want(t, 200)
		if !strings.Contains(string(r.body), "shared/app") {
			t.Fatalf("catalog on a: %s", r.body)
		}
	})
}

func TestMetricsAndAccessLog(t *testing.T) {
	var logBuf syncBuffer
	e := newEnv(t, nil, Config{Logger: slog.New(slog.NewJSONHandler(&logBuf, nil))})
	data := randBytes(t, 4096)
	d := e.pushBlob("m/repo", data)
	e.do("GET", "/v2/m/repo/blobs/"+d.String(), nil).want(t, 200)
	e.do("GET", "/v2/m/repo/blobs/"+sha256Of(nil).String(), nil).want(t, 404)
	r := e.do("GET", "/metrics", nil).want(t, 200)
	body := string(r.body)
	for _, want := range []string{
		`strata_registry_requests_total{method="GET",route="blob",status="200"} 1`,
		`strata_registry_requests_total{method="GET",route="blob",status="404"} 1`,
		`strata_registry_requests_total{method="PUT",route="upload",status="201"} 1`,
		`strata_registry_upload_bytes_total 4096`,
		`strata_registry_request_duration_seconds_bucket{route="blob",le="+Inf"} 2`,
		`strata_registry_request_duration_seconds_count{route="uploads"} 1`,
		"# TYPE strata_registry_request_duration_seconds histogram",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	if !strings.Contains(body, "strata_registry_response_bytes_total ") || strings.Contains(body, "strata_registry_response_bytes_total 0\n") {
		t.Errorf("response bytes not counted:\n%s", body)
	}

	var found bool
	for _, line := range strings.Split(strings.TrimSpace(logBuf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["route"] == "blob" && rec["method"] == "GET" && rec["status"] == float64(200) {
			found = rec["repo"] == "m/repo" && rec["bytes"] == float64(4096) && rec["duration"] != nil
		}
	}
	if !found {
		t.Fatalf("no access log record for the blob GET:\n%s", logBuf.String())
	}
}

func TestServeGracefulAndTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	for _, tc := range []struct {
		name   string
		cfg    Config
		scheme string
	}{
		{"plain", Config{}, "http"},
		{"tls", Config{TLSCert: cert, TLSKey: key}, "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Storage = newMemDriver()
			srv, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ctx, l) }()
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			res, err := client.Get(tc.scheme + "://" + l.Addr().String() + "/v2/")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 || (tc.scheme == "https") != (res.TLS != nil) {
				t.Fatalf("status %d, tls %v", res.StatusCode, res.TLS != nil)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Serve returned %v after shutdown", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not stop")
			}
			if res, err := client.Get(tc.scheme + "://" + l.Addr().String() + "/v2/"); err == nil {
				res.Body.Close()
				t.Fatal("still serving after shutdown")
			}
		})
	}
}

func writeSelfSigned(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certPath, keyPath
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "registry.yaml")
	os.WriteFile(p, []byte(`
addr: ":6000"
storage:
  s3: {endpoint: "http://127.0.0.1:9000", bucket: reg, region: us-east-1, pathstyle: true}
auth:
  htpasswd: /etc/htpasswd
  token_key: sekrit
  token_ttl: 5m
access:
  - {user: alice, repos: "*", actions: [pull, push, delete]}
  - {user: anonymous, repos: "public/*", actions: [pull]}
tls: {cert: c.pem, key: k.pem}
limits: {max_manifest_size: 1048576, max_page_size: 50}
gc: {grace_period: 2h, upload_expiry: 12h}
`), 0o600)
	fc, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if fc.Addr != ":6000" || fc.Storage.S3 == nil || fc.Storage.S3.Bucket != "reg" || !fc.Storage.S3.PathStyle ||
		fc.Htpasswd != "/etc/htpasswd" || string(fc.TokenKey) != "sekrit" || fc.TokenTTL != 5*time.Minute ||
		len(fc.Access) != 2 || fc.Access[1].User != "anonymous" || fc.TLSCert != "c.pem" ||
		fc.MaxManifestSize != 1<<20 || fc.MaxPageSize != 50 || fc.GCGracePeriod != 2*time.Hour || fc.UploadExpiry != 12*time.Hour {
		t.Fatalf("config: %+v %+v", fc.Config, fc.Storage.S3)
	}
	fc, err = parseConfig([]byte("storage: {filesystem: {root: /srv/reg}}\n"), "min")
	if err != nil || fc.Addr != ":5000" || fc.Storage.Filesystem.Root != "/srv/reg" {
		t.Fatalf("minimal config: %+v %v", fc, err)
	}
	for _, bad := range []string{
		"addr: x\nstorage: {filesystem: {root: /x}}\nbogus: 1\n",
		"storage: {}\n",
		"storage: {filesystem: {root: /x}, s3: {bucket: b}}\n",
		"storage: {filesystem: {root: /x}}\naccess: [{user: a, repos: '*', actions: [fly]}]\n",
		"storage: {filesystem: {root: /x}}\ntls: {cert: only}\n",
		"storage: {filesystem: {root: /x}}\ngc: {grace_period: soon}\n",
	} {
		if _, err := parseConfig([]byte(bad), "bad"); err == nil {
			t.Errorf("accepted bad config %q", bad)
		}
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
