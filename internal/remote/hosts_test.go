package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
)

// dialTo makes every connection go to addr, whatever host was asked for.
func dialTo(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
}

func TestMirrorFallback(t *testing.T) {
	reg := newFakeRegistry(t, "")
	fx := reg.addImage(t, "library/busybox", "latest")
	empty := newFakeRegistry(t, "")
	full := newFakeRegistry(t, "bearer")
	full.addImage(t, "library/busybox", "latest")
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	ctx := context.Background()

	c := testClient(HostConfig{Mirrors: map[string][]string{reg.host(): {dead.URL, empty.srv.URL + "/"}}}, nil)
	r := openRepo(t, c, fx.ref)
	pullAll(t, r, fx)
	if len(empty.requests()) == 0 {
		t.Fatal("the second mirror was not tried")
	}
	if !r.isDown(r.endpoints[0]) {
		t.Fatal("an unreachable mirror is not marked down")
	}

	c = testClient(HostConfig{Mirrors: map[string][]string{reg.host(): {full.srv.URL}}}, nil)
	before := len(reg.requests())
	pullAll(t, openRepo(t, c, fx.ref), fx)
	if n := len(reg.requests()) - before; n != 0 {
		t.Fatalf("the registry got %d requests though the mirror has the image", n)
	}
	if n := full.tokenGets.Load(); n != 1 {
		t.Fatalf("mirror token requests: %d", n)
	}

	// Pushes go to the registry only.
	before = len(full.requests())
	push := openRepo(t, c, fx.ref, "push")
	if _, ok, err := push.BlobExists(ctx, fx.ldg); !ok || err != nil {
		t.Fatalf("BlobExists on push handle: %v, %v", ok, err)
	}
	if n := len(full.requests()) - before; n != 0 {
		t.Fatalf("a push handle used the mirror (%d requests)", n)
	}
}

func TestInsecureHTTP(t *testing.T) {
	f := newFakeRegistry(t, "basic")
	fx := f.addImage(t, "app", "v1")
	creds := Credentials{Username: "alice", Password: "secret"}
	ctx := context.Background()

	// Loopback: https is tried once, then plain http is used, with credentials.
	c := testClient(HostConfig{}, newMemStore(f.host(), creds))
	pullAll(t, openRepo(t, c, fx.ref), fx)
	hs, _ := c.host(ctx, f.host())
	if hs.currentScheme() != "http" || !hs.insecure {
		t.Fatalf("loopback host: scheme %s, insecure %v", hs.currentScheme(), hs.insecure)
	}

	// A remote name that is not insecure: no plain http.
	remote := mustRef(t, "registry.test:5000/app:v1")
	c = testClient(HostConfig{}, newMemStore("registry.test:5000", creds))
	c.dial = dialTo(f.host())
	if _, err := openRepo(t, c, remote).Resolve(ctx); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("plain http to a secure host: %v", err)
	}

	// Listed as insecure (by name, or by CIDR for an address): plain http
	// works, but the credentials stay home.
	for _, tc := range []struct{ insecure, ref string }{
		{"registry.test", "registry.test:5000/app:v1"},
		{"10.0.0.0/8", "10.1.2.3:5000/app:v1"},
	} {
		ref := mustRef(t, tc.ref)
		c = testClient(HostConfig{Insecure: []string{tc.insecure}}, newMemStore(ref.Domain, creds))
		c.dial = dialTo(f.host())
		before := len(f.authHeaders())
		_, err := openRepo(t, c, ref).Resolve(ctx)
		if !errors.Is(err, errdefs.ErrPermission) {
			t.Fatalf("%s: %v", tc.insecure, err)
		}
		for _, h := range f.authHeaders()[before:] {
			if h != "" {
				t.Fatalf("%s: credentials sent over plain http: %q", tc.insecure, h)
			}
		}
		if len(f.authHeaders()) == before {
			t.Fatalf("%s: the registry was not reached over http", tc.insecure)
		}
	}
	// Nor do they go to the token server on behalf of a plain-http registry.
	f.configure(func(c *fakeConfig) { c.authMode = "bearer" })
	c = testClient(HostConfig{Insecure: []string{"registry.test"}}, newMemStore("registry.test:5000", creds))
	c.dial = dialTo(f.host())
	if _, err := openRepo(t, c, remote).Resolve(ctx); err != nil {
		t.Fatalf("anonymous bearer pull over plain http: %v", err)
	}
	f.mu.Lock()
	tokenAuth := slices.Clone(f.tokenAuth)
	f.mu.Unlock()
	if len(tokenAuth) != 1 || tokenAuth[0] != "" {
		t.Fatalf("token server saw Authorization %q", tokenAuth)
	}
	f.configure(func(c *fakeConfig) { c.authMode = "" })
	c = testClient(HostConfig{Insecure: []string{"10.0.0.0/8"}}, nil)
	c.dial = dialTo(f.host())
	if _, err := openRepo(t, c, mustRef(t, "10.1.2.3:5000/app:v1")).Resolve(ctx); err != nil {
		t.Fatalf("anonymous pull from an insecure host: %v", err)
	}
}

// certPair makes a self-signed certificate for name and returns it as PEM
// (certificate, key) and parsed.
func certPair(t *testing.T, name string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func TestCertsDir(t *testing.T) {
	serverCert, serverKey := certPair(t, "registry.test")
	clientCert, clientKey := certPair(t, "strata-client")
	pair, err := tls.X509KeyPair(serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AppendCertsFromPEM(clientCert)

	f := newFakeRegistry(t, "")
	tlsSrv := httptest.NewUnstartedServer(f)
	tlsSrv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	addr := strings.TrimPrefix(tlsSrv.URL, "https://")
	fx := f.addImage(t, "app", "v1")
	ref := mustRef(t, "registry.test:5000/app:v1")

	certs := t.TempDir()
	dir := filepath.Join(certs, "registry.test:5000")
	os.MkdirAll(dir, 0o755)
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	try := func() error {
		c := testClient(HostConfig{CertsDir: certs}, nil)
		c.dial = dialTo(addr)
		_, err := openRepo(t, c, ref).Resolve(context.Background())
		return err
	}

	if err := try(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unknown CA accepted: %v", err)
	}
	write("ca.crt", serverCert)
	if err := try(); err == nil {
		t.Fatal("connected without the client certificate the server requires")
	}
	write("client.cert", clientCert)
	write("client.key", clientKey)
	if err := try(); err != nil {
		t.Fatalf("with CA and client certificate: %v", err)
	}
	c := testClient(HostConfig{CertsDir: certs}, nil)
	c.dial = dialTo(addr)
	pullAll(t, openRepo(t, c, ref), fx)

	os.Remove(filepath.Join(dir, "client.cert"))
	if _, err := testClient(HostConfig{CertsDir: certs}, nil).Repository(context.Background(), ref); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("a key without certificate: %v", err)
	}
}

func TestEndpointsAndHosts(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "docker.io",
		"https://index.docker.io/v1/": "docker.io",
		"registry-1.docker.io":        "docker.io",
		"MyReg:5000/":                 "myreg:5000",
		"http://myreg:5000/v2/":       "myreg:5000",
	} {
		if got := normalizeHost(in); got != want {
			t.Errorf("normalizeHost(%q) = %q, want %q", in, got, want)
		}
	}
	c := testClient(HostConfig{Mirrors: map[string][]string{"docker.io": {"https://mirror.example/prefix/", "mirror2:5000"}}}, nil)
	ref := mustRef(t, "busybox")
	r := openRepo(t, c, ref)
	var got []string
	for _, ep := range r.endpoints {
		got = append(got, ep.url(r.path("manifests", "latest"), nil).String())
	}
	want := []string{
		"https://mirror.example/prefix/v2/library/busybox/manifests/latest?ns=docker.io",
		"https://mirror2:5000/v2/library/busybox/manifests/latest?ns=docker.io",
		"https://registry-1.docker.io/v2/library/busybox/manifests/latest",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("endpoints:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.endpoints[2].credHost != "docker.io" || r.scopes[0] != "repository:library/busybox:pull" {
		t.Fatalf("registry endpoint %+v, scopes %v", r.endpoints[2], r.scopes)
	}
	push := openRepo(t, c, ref, "push")
	if len(push.endpoints) != 1 || push.scopes[0] != "repository:library/busybox:pull,push" {
		t.Fatalf("push handle: %d endpoints, scopes %v", len(push.endpoints), push.scopes)
	}
	if _, err := c.Repository(context.Background(), ref, "fly"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("unknown action: %v", err)
	}
	bad := testClient(HostConfig{Mirrors: map[string][]string{"docker.io": {"ftp://x"}}}, nil)
	if _, err := bad.Repository(context.Background(), ref); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("bad mirror: %v", err)
	}
	if ms := r.endpoints[0]; !ms.mirror || ms.credHost != "mirror.example" {
		t.Fatalf("mirror endpoint %+v", ms)
	}
}
