package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// writeCert writes a self-signed CA certificate for the IPs and its key
// (PEM) into dir and returns their paths.
func writeCert(t *testing.T, dir string, ips ...net.IP) (cert, key string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "strata test registry"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           ips,
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert = testbin.WriteFile(t, filepath.Join(dir, "cert.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	key = testbin.WriteFile(t, filepath.Join(dir, "key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return cert, key
}

// outboundIP returns an IPv4 address of this host that is not loopback, or
// nil.
func outboundIP() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			l, err := net.Listen("tcp", net.JoinHostPort(n.IP.String(), "0"))
			if err == nil {
				l.Close()
				return n.IP
			}
		}
	}
	return nil
}

// TestTLSLoopback serves TLS on 127.0.0.1: strata reaches loopback
// registries without certificate checks, as Docker does.
func TestTLSLoopback(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := writeCert(t, dir, net.IPv4(127, 0, 0, 1))
	reg := startRegistry(t, dir, registryOpts{scheme: "https", args: []string{"--tls-cert", cert, "--tls-key", key}})
	s := newSandbox(t)
	ref := reg.addr + "/tls/app:v1"
	id := s.loadLayers(ref, randomLayers(t, 30, 1, 64<<10))
	push := parsePush(t, s.ok("push", ref))
	p := s.withRoot("pulled")
	if pull := parsePull(t, p.ok("pull", ref)); pull.digest != push.digest {
		t.Errorf("pull over TLS: digest %s, pushed %s", pull.digest, push.digest)
	}
	if got := p.out("inspect", "-f", "{{.Id}}", ref); got != id {
		t.Errorf("pulled over TLS: ID %s, want %s", got, id)
	}
}

// TestTLSCertsDir serves TLS on a non-loopback address of this host, where
// strata checks certificates: without the CA the pull fails, with the CA
// in the config file's certs-dir it works.
func TestTLSCertsDir(t *testing.T) {
	t.Parallel()
	ip := outboundIP()
	if ip == nil {
		t.Skip("this host has no non-loopback IPv4 address to serve TLS on")
	}
	dir := t.TempDir()
	cert, key := writeCert(t, dir, ip)
	reg := startRegistry(t, dir, registryOpts{host: ip.String(), scheme: "https", args: []string{"--tls-cert", cert, "--tls-key", key}})
	s := newSandbox(t)
	ref := reg.addr + "/tls/app:v1"
	s.loadLayers(ref, randomLayers(t, 31, 1, 64<<10))

	// No CA: the certificate is refused, at once (a certificate error is
	// not transient, and Docker does not retry it).
	start := time.Now()
	r := s.fail(1, "push", ref)
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("push to a registry with an unknown CA took %v to fail; certificate errors are retried", d)
	}
	if low := strings.ToLower(r.Stderr); !strings.Contains(low, "certificate") {
		t.Errorf("push without the CA: the error does not mention the certificate: %q", r.Stderr)
	}

	certsDir := filepath.Join(s.base, "certs.d")
	ca, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	testbin.WriteFile(t, filepath.Join(certsDir, reg.addr, "ca.crt"), string(ca))
	conf, _ := json.Marshal(map[string]string{"certs-dir": certsDir})
	testbin.WriteFile(t, s.conf, string(conf))
	push := parsePush(t, s.ok("push", ref))
	p := s.withRoot("pulled")
	if pull := parsePull(t, p.ok("pull", ref)); pull.digest != push.digest {
		t.Errorf("pull with the CA: digest %s, pushed %s", pull.digest, push.digest)
	}
	// skopeo agrees the certificate is good with the same directory.
	if testbin.Tool("skopeo") != "" {
		if info := s.skopeoInspect(ref, "--cert-dir", filepath.Join(certsDir, reg.addr)); info.Digest != push.digest {
			t.Errorf("skopeo inspect with the CA: digest %s, want %s", info.Digest, push.digest)
		}
	}
}
