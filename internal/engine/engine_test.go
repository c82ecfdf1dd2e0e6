package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "10k": 10 << 10, "64MiB": 64 << 20, "2GB": 2 << 30, "1t": 1 << 40, "0": 0} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1q", "99999999999999999999"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestOpenRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "r")
	e, err := Open(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Root != root || e.Limits.MaxSize != DefaultLayerLimit {
		t.Fatalf("root %s limits %+v", e.Root, e.Limits)
	}
	t.Setenv("STRATA_ROOT", root)
	if DefaultRoot() != root {
		t.Fatal("STRATA_ROOT ignored")
	}
}

// TestConfig reads Docker's daemon.json keys from $STRATA_CONFIG; a
// missing file is no setting and a bad one an error naming the file.
func TestConfig(t *testing.T) {
	dir := t.TempDir()
	e := &Engine{}
	path := filepath.Join(dir, "daemon.json")
	t.Setenv("STRATA_CONFIG", path)
	c, err := e.Config()
	if err != nil || c.MaxDownloads != 0 || len(c.Mirrors) != 0 {
		t.Fatalf("missing file: %+v, %v", c, err)
	}
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"registry-mirrors": ["https://m.example"], "insecure-registries": ["10.0.0.0/8"],
		"certs-dir": "/c", "max-concurrent-downloads": 6, "max-concurrent-uploads": 2, "debug": true}`)
	c, err = e.Config()
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxDownloads != 6 || c.MaxUploads != 2 || c.CertsDir != "/c" || c.Mirrors[0] != "https://m.example" || c.Insecure[0] != "10.0.0.0/8" {
		t.Fatalf("config = %+v", c)
	}
	if _, rc, err := e.Remote(); err != nil || rc.MaxUploads != 2 {
		t.Fatalf("Remote: config %+v, %v", rc, err)
	}
	for _, bad := range []string{`{"max-concurrent-uploads": -1}`, `{"registry-mirrors": "x"}`, `{`} {
		write(bad)
		if _, err := e.Config(); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
