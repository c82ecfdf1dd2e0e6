package run

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunFlags checks run's options from inside the container.
func TestRunFlags(t *testing.T) {
	e := newEnv(t)
	envFile := e.write("env.list", "# a comment\nFROM_FILE=1\n\nSHARED=file\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"-e and --env-file, -e wins", []string{"--env-file", envFile, "-e", "SHARED=flag", "-e", "X=y z", "busybox", "sh", "-c", `echo "$FROM_FILE $SHARED $X"`}, "1 flag y z"},
		{"-w makes a missing directory", []string{"-w", "/made/by/w", "busybox", "pwd"}, "/made/by/w"},
		{"-u name from /etc/passwd", []string{"-u", "app", "busybox", "id"}, "uid=1000(app) gid=1000(app) groups=1000(app)"},
		{"-u uid:gid", []string{"-u", "1000:0", "busybox", "id"}, "uid=1000(app) gid=0(root) groups=0(root)"},
		{"-u unknown uid", []string{"-u", "4242", "busybox", "id"}, "uid=4242 gid=0(root) groups=0(root)"},
		{"-u sets HOME", []string{"-u", "app", "busybox", "sh", "-c", "echo $HOME"}, "/home/app"},
		{"--hostname", []string{"--hostname", "box1", "busybox", "sh", "-c", "hostname; cat /etc/hostname"}, "box1\nbox1"},
		{"--add-host", []string{"--add-host", "db.local:10.1.2.3", "busybox", "sh", "-c", "grep db.local /etc/hosts"}, "10.1.2.3\tdb.local"},
		{"--read-only root", []string{"--read-only", "busybox", "sh", "-c", "touch /x 2>/dev/null || echo ro; touch /tmp/x 2>/dev/null || echo ro-tmp"}, "ro\nro-tmp"},
		{"-t gives a terminal", []string{"-t", "busybox", "tty"}, "/dev/pts/0\r"},
		{"no -t: no terminal", []string{"busybox", "sh", "-c", "tty || true"}, "not a tty"},
		{"HOSTNAME is the short ID by default", []string{"busybox", "sh", "-c", "test ${#HOSTNAME} = 12 && test $HOSTNAME = $(hostname) && echo ok"}, "ok"},
	}
	for _, c := range cases {
		got := strings.TrimRight(e.ok(append([]string{"run", "--rm"}, c.args...)...), "\n")
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	// -i passes stdin; without it the container reads nothing.
	wantEq(t, "-i", strings.TrimSpace(e.okIn(strings.NewReader("piped\n"), "run", "--rm", "-i", "busybox", "cat")), "piped")
	wantEq(t, "without -i", e.okIn(strings.NewReader("piped\n"), "run", "--rm", "busybox", "cat"), "")
	// Names are unique.
	e.runD("--name", "taken", "busybox", "sleep", "1000")
	r := e.fail(125, "run", "--name", "taken", "busybox", "true")
	wantContains(t, "name conflict", r.Stderr, `The container name "/taken" is already in use`)
	e.fail(125, "run", "--name", "bad/name", "busybox", "true")
}

// TestResources: -m and --cpus reach the container's cgroup.
func TestResources(t *testing.T) {
	e := newEnv(t)
	id := e.runD("-m", "64m", "--cpus", "0.5", "busybox", "sleep", "1000")
	mem := readFirst(t, "/sys/fs/cgroup/memory/strata/"+id+"/memory.limit_in_bytes", "/sys/fs/cgroup/strata/"+id+"/memory.max")
	wantEq(t, "memory limit", mem, "67108864")
	quota := readFirst(t, "/sys/fs/cgroup/cpu/strata/"+id+"/cpu.cfs_quota_us", "/sys/fs/cgroup/strata/"+id+"/cpu.max")
	if quota != "50000" && quota != "50000 100000" {
		t.Fatalf("cpu quota %q, want 50000 per 100000", quota)
	}
	// The limit is enforced: allocating past it gets the process killed.
	e.fail(137, "run", "--rm", "-m", "16m", "busybox", "sh", "-c", "head -c 64m /dev/zero | tail > /dev/null")
}

func readFirst(t *testing.T, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("none of %v exists", paths)
	return ""
}

// TestVolumes: bind mounts (rw and ro), named volumes shared between
// containers, and the anonymous volume of an image's VOLUME, filled with
// the image's content and removed by rm -v.
func TestVolumes(t *testing.T) {
	e := newEnv(t)
	host := filepath.Join(e.dir, "shared")
	e.write("shared/in.txt", "from host\n")
	wantEq(t, "bind rw", e.out("run", "--rm", "-v", host+":/data", "busybox", "sh", "-c", "cat /data/in.txt; echo from container > /data/out.txt"), "from host")
	if b, _ := os.ReadFile(filepath.Join(host, "out.txt")); string(b) != "from container\n" {
		t.Fatalf("host sees %q", b)
	}
	wantEq(t, "bind ro", e.out("run", "--rm", "-v", host+":/data:ro", "busybox", "sh", "-c", "cat /data/in.txt; touch /data/x 2>/dev/null || echo read-only"), "from host\nread-only")
	missing := filepath.Join(e.dir, "created-by-bind")
	e.ok("run", "--rm", "-v", missing+":/m", "busybox", "true")
	if fi, err := os.Stat(missing); err != nil || !fi.IsDir() {
		t.Fatalf("a missing bind source is created as a directory, like Docker: %v", err)
	}

	// Named volume: kept across containers.
	e.ok("run", "--rm", "-v", "vol1:/v", "busybox", "sh", "-c", "echo persisted > /v/file")
	wantEq(t, "named volume", e.out("run", "--rm", "-v", "vol1:/v:ro", "busybox", "cat", "/v/file"), "persisted")
	if b, err := os.ReadFile(filepath.Join(e.root, "volumes", "vol1", "_data", "file")); err != nil || string(b) != "persisted\n" {
		t.Fatalf("volume data on disk: %q %v", b, err)
	}
	// A new named volume gets a copy of the image's content at its path.
	wantEq(t, "new volume copies the image", e.out("run", "--rm", "-v", "www:/var/www", "busybox", "cat", "/var/www/index.html"), "hello from busybox httpd")

	// Anonymous volume from the image's VOLUME.
	e.importImage("volimg", "VOLUME /var/www")
	id := e.create("--name", "anon", "volimg", "sh", "-c", "cat /var/www/index.html; echo new > /var/www/new")
	wantEq(t, "anonymous volume", e.out("start", "-a", "anon"), "hello from busybox httpd")
	before := volumes(t, e)
	if len(before) != 3 { // vol1, www and the anonymous one
		t.Fatalf("volumes after the anonymous one: %v", before)
	}
	// Its content is not part of the container's layer.
	if diff := e.out("diff", "anon"); strings.Contains(diff, "/var/www/new") {
		t.Fatalf("a volume's file shows in diff:\n%s", diff)
	}
	// Restarting keeps the same anonymous volume.
	e.ok("start", "-a", "anon")
	if got := volumes(t, e); len(got) != 3 {
		t.Fatalf("restart made another volume: %v", got)
	}
	// -v on the command line: an anonymous volume too.
	e.ok("run", "--name", "anon2", "-v", "/scratch", "busybox", "sh", "-c", "echo x > /scratch/x")
	if got := volumes(t, e); len(got) != 4 {
		t.Fatalf("volumes with -v /scratch: %v", got)
	}
	// A relative source is a volume name, and "./x" is not one (Docker).
	r := e.fail(125, "run", "--rm", "-v", "./rel:/x", "busybox", "true")
	wantContains(t, "relative bind source", r.Stderr, "If you intended to pass a host directory, use absolute path")
	e.ok("rm", "-v", id, "anon2")
	wantEq(t, "rm -v removes anonymous volumes only", strings.Join(volumes(t, e), " "), "vol1 www")
}

func volumes(t *testing.T, e *env) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.root, "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range entries {
		out = append(out, d.Name())
	}
	return out
}
