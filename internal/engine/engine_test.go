package engine

import (
	"path/filepath"
	"testing"
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
