package run

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/test/testbin"
)

// TestPs covers ps / container ls: -a, -q, -s, -n, -l, --no-trunc, the
// filters, --format, and Docker's STATUS and PORTS columns.
func TestPs(t *testing.T) {
	e := newEnv(t)
	e.importImage("other")
	port := testbin.FreePort(t, "127.0.0.1")
	up := e.runD("--name", "up", "-l", "tier=web", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "busybox", "sleep", "1000")
	ok := e.create("--name", "ok", "-l", "tier=db", "other", "true")
	e.ok("start", "-a", "ok")
	bad := e.create("--name", "bad", "busybox", "sh", "-c", "exit 3")
	e.fail(3, "start", "-a", "bad")
	fresh := e.create("--name", "fresh", "other", "true")

	wantEq(t, "ps -q", e.out("ps", "-q"), up[:12])
	wantEq(t, "container ls -q", e.out("container", "ls", "-q"), up[:12])
	wantEq(t, "ps -aq, newest first", e.out("ps", "-aq"), strings.Join([]string{fresh[:12], bad[:12], ok[:12], up[:12]}, "\n"))
	wantEq(t, "ps -aq --no-trunc", e.out("ps", "-aq", "--no-trunc"), strings.Join([]string{fresh, bad, ok, up}, "\n"))
	wantEq(t, "ps -n 2", e.out("ps", "-n", "2", "--format", "{{.Names}}"), "fresh\nbad")
	wantEq(t, "ps -l", e.out("ps", "-l", "--format", "{{.Names}}"), "fresh")

	filters := []struct {
		filter []string
		want   string
	}{
		{[]string{"status=exited"}, "bad ok"},
		{[]string{"status=created"}, "fresh"},
		{[]string{"status=running"}, "up"},
		{[]string{"status=running", "status=created"}, "fresh up"},
		{[]string{"name=o"}, "ok"},
		{[]string{"name=^b"}, "bad"},
		{[]string{"ancestor=other"}, "fresh ok"},
		{[]string{"ancestor=busybox"}, "bad up"},
		{[]string{"label=tier"}, "ok up"},
		{[]string{"label=tier=db"}, "ok"},
		{[]string{"exited=3"}, "bad"},
		{[]string{"exited=0"}, "ok"},
		{[]string{"id=" + ok[:6]}, "ok"},
		{[]string{"status=exited", "ancestor=busybox"}, "bad"},
	}
	for _, f := range filters {
		args := []string{"ps", "-a", "--format", "{{.Names}}"}
		for _, v := range f.filter {
			args = append(args, "--filter", v)
		}
		got := strings.Fields(e.out(args...))
		sortStrings(got)
		if strings.Join(got, " ") != f.want {
			t.Errorf("ps -a --filter %v: %v, want %s", f.filter, got, f.want)
		}
	}
	e.fail(1, "ps", "--filter", "bogus=1") // a daemon error in Docker: exit 1

	// The default table: Docker's columns and wording.
	table := testbin.Lines(e.ok("ps", "-a"))
	header := regexp.MustCompile(`^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$`)
	if len(table) != 5 || !header.MatchString(table[0]) {
		t.Fatalf("ps -a:\n%s", strings.Join(table, "\n"))
	}
	rows := map[string]string{}
	for _, l := range table[1:] {
		f := strings.Fields(l)
		rows[f[len(f)-1]] = l
	}
	wantRow := map[string]*regexp.Regexp{
		"up":    regexp.MustCompile(`^` + up[:12] + ` +busybox +"sleep 1000" +.* ago +Up .* +127\.0\.0\.1:` + fmt.Sprint(port) + `->80/tcp +up$`),
		"ok":    regexp.MustCompile(`^` + ok[:12] + ` +other +"true" +.* ago +Exited \(0\) .* ago +ok$`),
		"bad":   regexp.MustCompile(`^` + bad[:12] + ` +busybox +"sh -c 'exit 3'"|"sh -c exit 3" +.* ago +Exited \(3\) .* ago +bad$`),
		"fresh": regexp.MustCompile(`^` + fresh[:12] + ` +other +"true" +.* ago +Created +fresh$`),
	}
	for name, re := range wantRow {
		if !re.MatchString(rows[name]) {
			t.Errorf("ps -a row of %s:\n%s\nwant %s", name, rows[name], re)
		}
	}
	wantEq(t, "PORTS of a running container", e.out("ps", "--format", "{{.Ports}}"), fmt.Sprintf("127.0.0.1:%d->80/tcp", port))
	wantEq(t, "PORTS of a stopped one are empty", e.out("ps", "-a", "--filter", "name=ok", "--format", "{{.Ports}}"), "")

	// -s: the container's own size and the virtual one.
	e.ok("exec", "up", "sh", "-c", "head -c 100000 /dev/zero > /blob")
	size := e.out("ps", "-s", "--format", "{{.Size}}")
	if !regexp.MustCompile(`^10\d\.?\d*kB \(virtual \d+(\.\d+)?MB\)$`).MatchString(size) {
		t.Fatalf("ps -s SIZE: %q", size)
	}
	if !regexp.MustCompile(`SIZE`).MatchString(testbin.Lines(e.ok("ps", "-s"))[0]) {
		t.Fatal("ps -s has no SIZE column")
	}
	// --no-trunc keeps the full ID and command.
	e.runD("--name", "long", "busybox", "sh", "-c", "sleep 1000 # a command longer than twenty characters")
	wantEq(t, "truncated command", e.out("ps", "--filter", "name=long", "--format", "{{.Command}}"), `"sh -c 'sleep 1000 #…"`)
	wantEq(t, "--no-trunc", e.out("ps", "--no-trunc", "--filter", "name=long", "--format", "{{.ID}} {{.Command}}"),
		e.fullID("long")+` "sh -c 'sleep 1000 # a command longer than twenty characters'"`)
	// STATUS of a running container counts up.
	time.Sleep(1100 * time.Millisecond)
	if s := e.out("ps", "--filter", "name=up", "--format", "{{.Status}}"); !regexp.MustCompile(`^Up \d+ seconds?$`).MatchString(s) {
		t.Fatalf("STATUS %q", s)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
