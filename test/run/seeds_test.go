package run

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// TestSeedWebserver follows the seed notes' web server walkthrough, with
// busybox httpd standing in for nginx: run it with a published port, change
// its page through exec, see the change with diff, commit it with an
// author and message, and run the new image.
func TestSeedWebserver(t *testing.T) {
	e := newEnv(t)
	port := testbin.FreePort(t, "127.0.0.1")
	e.runD("-p", fmt.Sprintf("%d:80", port), "--name", "webserver", "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www")
	wantEq(t, "served", httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)), "hello from busybox httpd\n")
	e.ok("exec", "webserver", "sh", "-c", "echo '<h1>Hello, Docker!</h1>' > /var/www/index.html")
	wantEq(t, "changed page", httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)), "<h1>Hello, Docker!</h1>\n")
	wantEq(t, "diff", e.out("diff", "webserver"), "C /var\nC /var/www\nC /var/www/index.html")
	e.ok("commit", "--author", "Tao Wang <twang2218@gmail.com>", "--message", "修改了默认网页", "webserver", "web:v2")
	hist := testbin.Lines(e.ok("history", "--format", "{{.CreatedBy}}|{{.Comment}}", "web:v2"))
	if len(hist) != 2 || hist[0] != "httpd -f -p 80 -h /var/www|修改了默认网页" {
		t.Fatalf("history web:v2:\n%s", strings.Join(hist, "\n"))
	}
	port2 := testbin.FreePort(t, "127.0.0.1")
	e.runD("--name", "web2", "-p", fmt.Sprintf("%d:80", port2), "web:v2", "httpd", "-f", "-p", "80", "-h", "/var/www")
	wantEq(t, "new image serves the change", httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port2)), "<h1>Hello, Docker!</h1>\n")
	wantEq(t, "seed: run centos echo", e.out("run", "busybox", "echo", "hellowrold"), "hellowrold")
	e.ok("restart", "webserver")
	wantEq(t, "after restart", httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)), "<h1>Hello, Docker!</h1>\n")
}

// TestSeedExportImport: export a container on one root, import the tar on
// another, run it.
func TestSeedExportImport(t *testing.T) {
	a := newEnv(t)
	a.ok("run", "--name", "src", "busybox", "sh", "-c", "echo exported > /etc/marker")
	tarball := filepath.Join(a.dir, "image.tar.gz")
	a.ok("export", "-o", tarball, "src")

	b := newEnv(t)
	id := b.out("import", tarball)
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("import printed %q", id)
	}
	wantEq(t, "imported runs", b.out("run", "--rm", id, "cat", "/etc/marker"), "exported")
	b.out("import", "-c", `CMD ["cat", "/etc/marker"]`, tarball, "fromexport:v1")
	wantEq(t, "imported with CMD", b.out("run", "--rm", "fromexport:v1"), "exported")
	hist := b.out("history", "--format", "{{.Comment}}", "fromexport:v1")
	wantEq(t, "history", hist, "Imported from -")
}

// TestSeedPsStopRm: `stop $(ps -qa)` and `rm $(ps -qa)` through a shell.
func TestSeedPsStopRm(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		e.runD("busybox", "sleep", "1000")
	}
	e.ok("run", "busybox", "true")
	if n := len(testbin.Lines(e.ok("ps", "-aq"))); n != 4 {
		t.Fatalf("ps -aq: %d containers", n)
	}
	strata := fmt.Sprintf("%s --root %s", strataBin, e.root)
	sh := func(script string) string {
		t.Helper()
		out, err := exec.Command("sh", "-c", strings.ReplaceAll(script, "strata", strata)).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	stopped := sh("strata stop -t 1 $(strata ps -qa)")
	if len(testbin.Lines(stopped)) != 4 {
		t.Fatalf("stop printed:\n%s", stopped)
	}
	wantEq(t, "none running", e.out("ps", "-q"), "")
	sh("strata rm $(strata ps -qa)")
	wantEq(t, "none left", e.out("ps", "-aq"), "")
}

// TestSeedDebianVim: the seed's "ubuntu with vi" walkthrough on a Debian
// rootfs made by debootstrap: run -it, apt-get install vim, exit, commit
// with -m and -a, run the new image's vim, see the commit in history.
func TestSeedDebianVim(t *testing.T) {
	e := newEnv(t)
	if testing.Short() {
		t.Skip("downloads Debian packages")
	}
	rootfsTar := debianRootfs(t)
	e.ok("import", rootfsTar, "debian:bookworm")
	term := e.startTerminal(24, 80, "run", "-it", "--name", "vi", "debian:bookworm", "bash")
	term.expect("# ", 30*time.Second)
	term.send("export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq vim >/dev/null && echo INSTALLED-$((6*7))\r")
	term.expect("INSTALLED-42", 10*time.Minute)
	term.send("exit\r")
	if code := term.wait(30 * time.Second); code != 0 {
		t.Fatalf("the shell exited %d", code)
	}
	e.ok("commit", "-m", "install vim", "-a", "strata tests", "vi", "debian-vim:v1")
	out := e.out("run", "--rm", "debian-vim:v1", "vim", "--version")
	if !strings.HasPrefix(out, "VIM - Vi IMproved") {
		t.Fatalf("vim --version: %.200q", out)
	}
	hist := testbin.Lines(e.ok("history", "--format", "{{.CreatedBy}}|{{.Comment}}", "debian-vim:v1"))
	if len(hist) != 2 || hist[0] != "bash|install vim" {
		t.Fatalf("history:\n%s", strings.Join(hist, "\n"))
	}
	wantEq(t, "author", e.out("image", "inspect", "--format", "{{.Author}}", "debian-vim:v1"), "strata tests")
}

// debianRootfs returns a tarball of `debootstrap --variant=minbase
// bookworm`, made once and kept in /var/cache/strata-test.
func debianRootfs(t *testing.T) string {
	t.Helper()
	cache := "/var/cache/strata-test/bookworm-minbase.tar"
	if _, err := os.Stat(cache); err == nil {
		return cache
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		if out, err := exec.Command("sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap").CombinedOutput(); err != nil {
			t.Skipf("debootstrap is not installed and apt-get cannot install it: %v\n%s", err, out)
		}
	}
	dir := filepath.Join(t.TempDir(), "bookworm")
	out, err := exec.Command("debootstrap", "--variant=minbase", "bookworm", dir, "http://deb.debian.org/debian").CombinedOutput()
	if err != nil {
		t.Skipf("debootstrap could not reach the Debian mirror: %v\n%s", err, lastLines(string(out), 10))
	}
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err != nil {
		t.Fatal(err)
	}
	// Without debootstrap's device nodes: strata import refuses them (Docker
	// keeps them) and the runtime mounts its own /dev anyway.
	tmp := cache + ".tmp"
	if out, err := exec.Command("tar", "-C", dir, "--numeric-owner", "--exclude=./dev/*", "-cf", tmp, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, cache); err != nil {
		t.Fatal(err)
	}
	return cache
}

func lastLines(s string, n int) string {
	l := testbin.Lines(s)
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
