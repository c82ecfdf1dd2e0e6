package overlay_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/snapshot/overlay"
	"github.com/strata-dev/strata/internal/snapshot/testsuite"
)

// TestMountShapes checks the mounts documented in the package comment.
func TestMountShapes(t *testing.T) {
	newOverlay(t)
	ctx := t.Context()
	root := t.TempDir()
	sn, err := overlay.New(root, testsuite.OpenDB(t, filepath.Join(t.TempDir(), "db")))
	if err != nil {
		t.Fatal(err)
	}
	first, err := sn.Prepare(ctx, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	wantBind(t, first, "rw")
	if err := sn.Commit(ctx, "l1", "a"); err != nil {
		t.Fatal(err)
	}
	l1 := first[0].Source
	second, err := sn.Prepare(ctx, "b", "l1")
	if err != nil {
		t.Fatal(err)
	}
	opts := options(t, second)
	if opts["lowerdir"] != l1 || opts["index"] != "off" || opts["upperdir"] == "" || opts["workdir"] == "" {
		t.Fatalf("prepare on one layer: %+v", second)
	}
	if _, ok := opts["userxattr"]; ok {
		t.Fatal("userxattr would hide strata's trusted.overlay whiteouts")
	}
	if err := sn.Commit(ctx, "l2", "b"); err != nil {
		t.Fatal(err)
	}
	l2 := opts["upperdir"]
	third, err := sn.Prepare(ctx, "c", "l2")
	if err != nil {
		t.Fatal(err)
	}
	if got := options(t, third)["lowerdir"]; got != l2+":"+l1 {
		t.Fatalf("lowerdir %q, want the nearest parent first: %q", got, l2+":"+l1)
	}

	empty, err := sn.View(ctx, "v0", "")
	if err != nil {
		t.Fatal(err)
	}
	wantBind(t, empty, "ro")
	one, err := sn.View(ctx, "v1", "l1")
	if err != nil {
		t.Fatal(err)
	}
	wantBind(t, one, "ro")
	if one[0].Source != l1 {
		t.Fatalf("view of one layer binds %s, want the layer %s", one[0].Source, l1)
	}
	chain, err := sn.View(ctx, "v2", "l2")
	if err != nil {
		t.Fatal(err)
	}
	opts = options(t, chain)
	if opts["lowerdir"] != l2+":"+l1 || opts["upperdir"] != "" || opts["workdir"] != "" {
		t.Fatalf("view of a chain: %+v", chain)
	}
	for _, dir := range []string{l1, l2} {
		if !strings.HasPrefix(dir, filepath.Join(root, "snapshots")+"/") {
			t.Fatalf("layer %s outside %s/snapshots", dir, root)
		}
	}
}

func wantBind(t *testing.T, m []snapshot.Mount, mode string) {
	t.Helper()
	if len(m) != 1 || m[0].Type != "bind" || strings.Join(m[0].Options, ",") != "rbind,"+mode {
		t.Fatalf("mounts %+v, want one %s bind", m, mode)
	}
}

func options(t *testing.T, m []snapshot.Mount) map[string]string {
	t.Helper()
	if len(m) != 1 || m[0].Type != "overlay" {
		t.Fatalf("mounts %+v, want one overlay", m)
	}
	out := map[string]string{}
	for _, o := range m[0].Options {
		k, v, _ := strings.Cut(o, "=")
		out[k] = v
	}
	return out
}

func TestNewRefusesUnmountableRoot(t *testing.T) {
	db := testsuite.OpenDB(t, filepath.Join(t.TempDir(), "db"))
	for _, bad := range []string{"a:b", "a,b"} {
		if _, err := overlay.New(filepath.Join(t.TempDir(), bad), db); !errdefs.IsInvalidArgument(err) {
			t.Errorf("root %q: %v, want invalid argument", bad, err)
		}
	}
}

// TestSupportedOnOverlay checks that a state directory on overlayfs, which
// cannot hold upper dirs, is reported unsupported.
func TestSupportedOnOverlay(t *testing.T) {
	newOverlay(t)
	dir := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	merged := filepath.Join(dir, "merged")
	m := snapshot.Mount{Type: "overlay", Source: "overlay", Options: []string{"index=off",
		"lowerdir=" + filepath.Join(dir, "lower"), "upperdir=" + filepath.Join(dir, "upper"), "workdir=" + filepath.Join(dir, "work")}}
	if err := snapshot.MountAll([]snapshot.Mount{m}, merged); err != nil {
		t.Fatal(err)
	}
	defer snapshot.Unmount(merged)
	err := overlay.Supported(filepath.Join(merged, "root"))
	if !errors.Is(err, errdefs.ErrUnsupported) {
		t.Fatalf("Supported on overlayfs: %v, want unsupported", err)
	}
	t.Log(err)
}
