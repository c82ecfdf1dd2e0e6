package testbin

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// runner is a Runner that records what Main prepared when it ran.
type runner struct {
	code                   int
	ran                    bool
	bin, tar               string
	binExisted, tarExisted bool
}

func (r *runner) Run() int {
	r.ran = true
	r.binExisted = isFile(r.bin)
	r.tarExisted = r.tar != "" && isFile(r.tar)
	return r.code
}

func TestMainPreparesAndCleansUp(t *testing.T) {
	bin := script(t, "exit 0")
	t.Setenv("STRATA_BIN", bin)
	r := &runner{code: 7}
	code := Main(r, "testbin", func(b, tar string) { r.bin, r.tar = b, tar })
	if code != 7 || !r.ran || r.bin != bin || !r.binExisted {
		t.Fatalf("Main = %d, ran %v with bin %q (existed %v); want 7 with %q", code, r.ran, r.bin, r.binExisted, bin)
	}
	_, err := os.Stat("/bin/busybox")
	switch hasBusybox := err == nil; {
	case hasBusybox && !r.tarExisted:
		t.Errorf("busybox tarball %q did not exist while the tests ran", r.tar)
	case !hasBusybox && r.tar != "":
		t.Errorf("busybox tarball %q without /bin/busybox", r.tar)
	}
	if r.tar != "" {
		if _, err := os.Stat(filepath.Dir(r.tar)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Main left its directory %s: %v", filepath.Dir(r.tar), err)
		}
	}
}

func TestMainFailsWithoutBinary(t *testing.T) {
	t.Setenv("STRATA_BIN", filepath.Join(t.TempDir(), "missing"))
	r := &runner{}
	if code := Main(r, "testbin", func(string, string) { t.Error("set called") }); code != 1 || r.ran {
		t.Errorf("Main = %d, ran %v; want 1 without running", code, r.ran)
	}
}

// TestFindFreshBuilds builds the module's strata, as the test packages'
// TestMain do when $STRATA_BIN is not set.
func TestFindFreshBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds strata")
	}
	t.Setenv("STRATA_BIN", "")
	dir := t.TempDir()
	bin, err := FindFresh(dir)
	if err != nil {
		t.Fatal(err)
	}
	if bin != filepath.Join(dir, "strata") || !isExecutable(bin) {
		t.Fatalf("FindFresh = %q, want an executable %s/strata", bin, dir)
	}
	if out, err := exec.Command(bin, "--help").CombinedOutput(); err != nil {
		t.Errorf("%s --help: %v\n%s", bin, err, out)
	}
	t.Setenv("STRATA_BIN", "relative-missing")
	if _, err := FindFresh(dir); err == nil {
		t.Error("FindFresh accepted a missing $STRATA_BIN")
	}
}
