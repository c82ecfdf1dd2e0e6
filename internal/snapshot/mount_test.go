package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mount tests need root")
	}
}

func mountOn(t *testing.T, m Mount) string {
	t.Helper()
	target := t.TempDir()
	if err := MountAll([]Mount{m}, target); err != nil {
		t.Fatalf("mount %+v: %v", m, err)
	}
	t.Cleanup(func() {
		if err := Unmount(target); err != nil {
			t.Error(err)
		}
	})
	return target
}

func TestMountBind(t *testing.T) {
	requireRoot(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("src"), 0o644); err != nil {
		t.Fatal(err)
	}
	rw := mountOn(t, Mount{Type: "bind", Source: src, Options: []string{"rbind", "rw"}})
	if err := os.WriteFile(filepath.Join(rw, "g"), []byte("via rw"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(src, "g")); err != nil || string(b) != "via rw" {
		t.Fatalf("write through rw bind: %q, %v", b, err)
	}
	ro := mountOn(t, Mount{Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
	if b, err := os.ReadFile(filepath.Join(ro, "f")); err != nil || string(b) != "src" {
		t.Fatalf("read through ro bind: %q, %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(ro, "h"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Fatalf("write through ro bind: %v, want EROFS", err)
	}
	// The read-only remount is per mount: the rw bind still writes.
	if err := os.WriteFile(filepath.Join(rw, "h"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestUnmountNotMounted(t *testing.T) {
	requireRoot(t)
	if err := Unmount(t.TempDir()); err != nil {
		t.Fatalf("unmount of a plain directory: %v", err)
	}
}

func TestMountAllUndoesOnFailure(t *testing.T) {
	requireRoot(t)
	src, target := t.TempDir(), t.TempDir()
	mounts := []Mount{
		{Type: "bind", Source: src, Options: []string{"rbind", "rw"}},
		{Type: "bind", Source: filepath.Join(src, "missing"), Options: []string{"rbind"}},
	}
	if err := MountAll(mounts, target); err == nil {
		Unmount(target)
		t.Fatal("mounting a missing source succeeded")
	}
	if err := unix.Unmount(target, 0); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("target still mounted after a failed MountAll: unmount says %v", err)
	}
}

// layers makes n lower directories under a long-named parent; each holds
// its own file "n<i>" and a shared file "top" saying which layer it is in.
func layers(t *testing.T, n int) []string {
	t.Helper()
	base := filepath.Join(t.TempDir(), strings.Repeat("p", 120))
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = filepath.Join(base, fmt.Sprintf("layer-%03d", i), "fs")
		if err := os.MkdirAll(dirs[i], 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range map[string]string{fmt.Sprintf("n%d", i): "x", "top": fmt.Sprint(i)} {
			if err := os.WriteFile(filepath.Join(dirs[i], name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dirs
}

// checkOverlay checks that target shows all n layers with dirs[0] on top,
// and that writes land in upper.
func checkOverlay(t *testing.T, target, upper string, n int) {
	t.Helper()
	for i := range n {
		if _, err := os.Stat(filepath.Join(target, fmt.Sprintf("n%d", i))); err != nil {
			t.Fatalf("layer %d not visible: %v", i, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(target, "top")); err != nil || string(b) != "0" {
		t.Fatalf("top comes from layer %q (%v), want the first lowerdir", b, err)
	}
	if err := os.WriteFile(filepath.Join(target, "new"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(upper, "new")); err != nil {
		t.Fatalf("write did not reach the upper dir: %v", err)
	}
}

func longOverlay(t *testing.T, n int) (Mount, string) {
	dirs := layers(t, n)
	upper, work := t.TempDir(), t.TempDir()
	m := Mount{Type: "overlay", Source: "overlay", Options: []string{
		"index=off", "workdir=" + work, "upperdir=" + upper, "lowerdir=" + strings.Join(dirs, ":")}}
	if l := len(strings.Join(m.Options, ",")); l < 2*os.Getpagesize() {
		t.Fatalf("test options are only %d bytes", l)
	}
	return m, upper
}

func TestMountOverlayLongOptions(t *testing.T) {
	requireRoot(t)
	const n = 60
	for _, tc := range []struct {
		name  string
		mount func(m Mount, target string) error
	}{
		{"MountAll", func(m Mount, target string) error { return MountAll([]Mount{m}, target) }},
		{"Fsconfig", func(m Mount, target string) error {
			flags, data := parseOptions(m.Options)
			err := mountFsconfig(m.Source, target, flags, data)
			if errors.Is(err, errFsconfigRefused) {
				t.Skipf("kernel has no lowerdir+: %v", err)
			}
			return err
		}},
		{"Relative", func(m Mount, target string) error {
			flags, data := parseOptions(m.Options)
			return mountRelative(m.Source, target, flags, data)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, upper := longOverlay(t, n)
			target := t.TempDir()
			if err := tc.mount(m, target); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { Unmount(target) })
			checkOverlay(t, target, upper, n)
			wd, _ := os.Getwd()
			if strings.Contains(wd, strings.Repeat("p", 120)) {
				t.Fatal("the process working directory changed")
			}
		})
	}
}

func TestMountOverlayErrorSaysWhy(t *testing.T) {
	requireRoot(t)
	m, _ := longOverlay(t, 60)
	m.Options[len(m.Options)-1] += ":" + filepath.Join(t.TempDir(), "missing")
	err := MountAll([]Mount{m}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("mount with a missing lowerdir: %v, want an error naming it", err)
	}
}

func TestUpperDir(t *testing.T) {
	for _, tc := range []struct {
		mounts []Mount
		dir    string
		ok     bool
	}{
		{nil, "", false},
		{[]Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/a:/b", "upperdir=/u", "workdir=/w"}}}, "/u", true},
		{[]Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/a:/b"}}}, "", false},
		{[]Mount{{Type: "bind", Source: "/s", Options: []string{"rbind", "rw"}}}, "/s", true},
		{[]Mount{{Type: "bind", Source: "/s", Options: []string{"rbind", "ro"}}}, "", false},
		{[]Mount{{Type: "none", Source: "/s", Options: []string{"bind"}}}, "/s", true},
		{[]Mount{{Type: "tmpfs", Source: "tmpfs"}}, "", false},
		{[]Mount{{Type: "bind", Source: "/x", Options: []string{"ro"}}, {Type: "bind", Source: "/y"}}, "/y", true},
	} {
		dir, ok := UpperDir(tc.mounts)
		if dir != tc.dir || ok != tc.ok {
			t.Errorf("UpperDir(%+v) = %q, %v; want %q, %v", tc.mounts, dir, ok, tc.dir, tc.ok)
		}
	}
}

func TestParseOptions(t *testing.T) {
	flags, data := parseOptions([]string{"rbind", "ro", "nosuid", "rw", "index=off", "lowerdir=/a"})
	if flags != unix.MS_BIND|unix.MS_REC|unix.MS_NOSUID {
		t.Fatalf("flags %#x", flags)
	}
	if !reflect.DeepEqual(data, []string{"index=off", "lowerdir=/a"}) {
		t.Fatalf("data %q", data)
	}
}

func TestLowerdirs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"/a", []string{"/a"}},
		{"/a:/b", []string{"/a", "/b"}},
		{`/a\:b:/c`, []string{"/a:b", "/c"}},
		{`/a\\:/c`, []string{`/a\`, "/c"}},
		{`/a\,b`, []string{"/a,b"}},
	} {
		if got := splitLowerdirs(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitLowerdirs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	base, rel, err := relativeLowerdirs("/r/snapshots/12/fs:/r/snapshots/3/fs:/r/snapshots/1/fs")
	if err != nil || base != "/r/snapshots" || rel != "12/fs:3/fs:1/fs" {
		t.Fatalf("relativeLowerdirs = %q, %q, %v", base, rel, err)
	}
	base, rel, err = relativeLowerdirs("/x/a:/y/b")
	if err != nil || base != "/" || rel != "x/a:y/b" {
		t.Fatalf("relativeLowerdirs across roots = %q, %q, %v", base, rel, err)
	}
	base, rel, err = relativeLowerdirs("/r/a:/r/ab")
	if err != nil || base != "/r" || rel != "a:ab" {
		t.Fatalf("relativeLowerdirs with a shared name prefix = %q, %q, %v", base, rel, err)
	}
}

// FuzzLowerdirs checks that escaping and splitting are inverses: any two
// directory names survive a round trip through one lowerdir option.
func FuzzLowerdirs(f *testing.F) {
	for _, s := range []string{"/a", `a:b`, `\`, `a\:`, ",", "::", `\\:\,`} {
		f.Add(s, "/b")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if a == "" || b == "" {
			return
		}
		got := splitLowerdirs(escapeLowerdir(a) + ":" + escapeLowerdir(b))
		if !reflect.DeepEqual(got, []string{a, b}) {
			t.Fatalf("round trip of %q, %q gave %q", a, b, got)
		}
		_ = splitLowerdirs(a) // must not panic on anything
	})
}
