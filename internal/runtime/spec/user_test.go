package spec

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin

# a comment
app:x:1000:1000:App User:/home/app:/bin/sh
nohome:x:1001:1001
`

const testGroup = `root:x:0:
daemon:x:1:
wheel:x:10:app,other
app:x:1000:
audio:x:29:nohome
video:x:44:other,app
staff:x:50
`

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func testRootfs(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/passwd"), testPasswd)
	writeFile(t, filepath.Join(root, "etc/group"), testGroup)
	return root
}

func TestResolveUser(t *testing.T) {
	t.Parallel()
	root := testRootfs(t)
	tests := []struct {
		spec string
		want User
	}{
		{"", User{UID: 0, GID: 0, AdditionalGids: []uint32{0}, Home: "/root"}},
		{"root", User{UID: 0, GID: 0, AdditionalGids: []uint32{0}, Home: "/root"}},
		{"app", User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 10, 44}, Home: "/home/app"}},
		{"1000", User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 10, 44}, Home: "/home/app"}},
		{"app:audio", User{UID: 1000, GID: 29, AdditionalGids: []uint32{29}, Home: "/home/app"}},
		{"app:50", User{UID: 1000, GID: 50, AdditionalGids: []uint32{50}, Home: "/home/app"}},
		{"1000:4242", User{UID: 1000, GID: 4242, AdditionalGids: []uint32{4242}, Home: "/home/app"}},
		{"4242", User{UID: 4242, GID: 0, AdditionalGids: []uint32{0}, Home: "/"}},
		{"4242:4343", User{UID: 4242, GID: 4343, AdditionalGids: []uint32{4343}, Home: "/"}},
		{"4242:video", User{UID: 4242, GID: 44, AdditionalGids: []uint32{44}, Home: "/"}},
		{"nohome", User{UID: 1001, GID: 1001, AdditionalGids: []uint32{1001, 29}, Home: "/"}},
		{"daemon:daemon", User{UID: 1, GID: 1, AdditionalGids: []uint32{1}, Home: "/usr/sbin"}},
	}
	for _, tt := range tests {
		got, err := ResolveUser(root, tt.spec)
		if err != nil {
			t.Errorf("ResolveUser(%q): %v", tt.spec, err)
			continue
		}
		if got.UID != tt.want.UID || got.GID != tt.want.GID || got.Home != tt.want.Home ||
			!slices.Equal(got.AdditionalGids, tt.want.AdditionalGids) {
			t.Errorf("ResolveUser(%q) = %+v, want %+v", tt.spec, got, tt.want)
		}
	}
}

func TestResolveUserErrors(t *testing.T) {
	t.Parallel()
	root := testRootfs(t)
	tests := []struct{ spec, msg string }{
		{"xyz", "unable to find user xyz: no matching entries in passwd file"},
		{"app:nogroup", "unable to find group nogroup: no matching entries in group file"},
		{"99999999999999999999", "uids and gids must be in range"},
		{"app:-1", "uids and gids must be in range"},
	}
	for _, tt := range tests {
		_, err := ResolveUser(root, tt.spec)
		if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ResolveUser(%q) error = %v, want %q", tt.spec, err, tt.msg)
		}
	}
}

func TestResolveUserWithoutFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	got, err := ResolveUser(root, "")
	if err != nil || got.UID != 0 || got.GID != 0 || got.Home != "/" {
		t.Fatalf("empty rootfs, root user: %+v, %v", got, err)
	}
	got, err = ResolveUser(root, "123:456")
	if err != nil || got.UID != 123 || got.GID != 456 || !slices.Equal(got.AdditionalGids, []uint32{456}) {
		t.Fatalf("numeric user without passwd: %+v, %v", got, err)
	}
	if _, err := ResolveUser(root, "app"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("named user without passwd: %v", err)
	}
}

// A rootfs whose /etc/passwd and /etc/group link to files outside it must
// be read as if the rootfs were /, never reaching the host files.
func TestResolveUserSymlinkStaysInRootfs(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "passwd"), "escapee:x:777:777::/escaped:/bin/sh\n")
	writeFile(t, filepath.Join(outside, "group"), "escgroup:x:778:escapee\n")
	for _, target := range []string{
		outside,                                 // absolute: resolves to ROOTFS/<outside>
		"../../../../../../../../../" + outside, // climbs past /: clamped at the rootfs
	} {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"passwd", "group"} {
			if err := os.Symlink(filepath.Join(target, name), filepath.Join(root, "etc", name)); err != nil {
				t.Fatal(err)
			}
		}
		if u, err := ResolveUser(root, "escapee"); !errdefs.IsInvalidArgument(err) {
			t.Fatalf("link to %s: user from the host file: %+v, %v", target, u, err)
		}
		if u, err := ResolveUser(root, "0:escgroup"); !errdefs.IsInvalidArgument(err) {
			t.Fatalf("link to %s: group from the host file: %+v, %v", target, u, err)
		}
	}

	// An absolute link to a file inside the rootfs is followed there.
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "usr/lib/passwd"), "inside:x:55:56::/in:/bin/sh\n")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/lib/passwd", filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	u, err := ResolveUser(root, "inside")
	if err != nil || u.UID != 55 || u.GID != 56 || u.Home != "/in" {
		t.Fatalf("in-rootfs absolute link: %+v, %v", u, err)
	}
}

func TestParsePasswdAndGroupLines(t *testing.T) {
	p, ok := parsePasswdLine("  app:x:1000:1001:gecos:/home/app:/bin/sh  ")
	if !ok || p != (passwdEntry{name: "app", uid: 1000, gid: 1001, home: "/home/app"}) {
		t.Fatalf("passwd line: %+v %v", p, ok)
	}
	if p, ok := parsePasswdLine("short:x:bad"); !ok || p.name != "short" || p.uid != 0 || p.home != "" {
		t.Fatalf("short passwd line: %+v %v", p, ok)
	}
	if _, ok := parsePasswdLine("# comment"); ok {
		t.Fatal("comment parsed as an entry")
	}
	g, ok := parseGroupLine("wheel:x:10:a,b")
	if !ok || g.name != "wheel" || g.gid != 10 || !slices.Equal(g.members, []string{"a", "b"}) {
		t.Fatalf("group line: %+v %v", g, ok)
	}
	if g, ok := parseGroupLine("empty:x:11:"); !ok || g.members != nil {
		t.Fatalf("group without members: %+v %v", g, ok)
	}
}

func FuzzParsePasswdLine(f *testing.F) {
	for _, line := range strings.Split(testPasswd, "\n") {
		f.Add(line)
	}
	f.Add("a:b:c:d:e:f:g:h:i")
	f.Fuzz(func(t *testing.T, line string) {
		p, ok := parsePasswdLine(line)
		if !ok && p != (passwdEntry{}) {
			t.Fatalf("skipped line produced %+v", p)
		}
		if ok && strings.Contains(p.name, ":") {
			t.Fatalf("name %q holds a separator", p.name)
		}
	})
}

func FuzzParseGroupLine(f *testing.F) {
	for _, line := range strings.Split(testGroup, "\n") {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		g, ok := parseGroupLine(line)
		if !ok {
			return
		}
		if strings.Contains(g.name, ":") {
			t.Fatalf("name %q holds a separator", g.name)
		}
		for _, m := range g.members {
			if strings.Contains(m, ",") {
				t.Fatalf("member %q holds a separator", m)
			}
		}
	})
}

func FuzzResolveUser(f *testing.F) {
	root := testRootfs(f)
	for _, s := range []string{"", "app", "1000:50", "x:y:z", "app:", ":", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		u, err := ResolveUser(root, spec)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("ResolveUser(%q): unclassified error %v", spec, err)
			}
			return
		}
		if len(u.AdditionalGids) == 0 || u.AdditionalGids[0] != u.GID || u.Home == "" {
			t.Fatalf("ResolveUser(%q) = %+v: primary gid must lead the groups, home set", spec, u)
		}
	})
}
