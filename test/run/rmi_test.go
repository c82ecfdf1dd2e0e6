package run

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRmiInUse: rmi of an image a container uses fails with Docker's
// conflict message; rmi -f only untags it, and the container still runs,
// restarts and commits.
func TestRmiInUse(t *testing.T) {
	e := newEnv(t)
	img := e.importImage("inuse")
	id := e.runD("--name", "user", "inuse", "sh", "-c", "echo hi; exec sleep 1000")
	stopped := e.create("inuse", "true")

	r := e.fail(1, "rmi", "inuse")
	want := `Error response from daemon: conflict: unable to remove repository reference "inuse" (must force) - container ` + stopped[:12] + ` is using its referenced image ` + strings.TrimPrefix(img, "sha256:")[:12]
	want2 := strings.Replace(want, stopped[:12], id[:12], 1)
	if got := strings.TrimSpace(r.Stderr); !strings.HasSuffix(got, strings.TrimPrefix(want, "Error response from daemon: ")) &&
		!strings.HasSuffix(got, strings.TrimPrefix(want2, "Error response from daemon: ")) {
		t.Fatalf("rmi of a used image:\n got: %s\nwant: %s", got, want)
	}
	r = e.fail(1, "rmi", img)
	wantContains(t, "rmi by ID", r.Stderr, "conflict: unable to delete "+strings.TrimPrefix(img, "sha256:")[:12]+" (cannot be forced) - image is being used by running container "+id[:12])

	wantEq(t, "rmi -f", e.out("rmi", "-f", "inuse"), "Untagged: inuse:latest")
	wantEq(t, "still running", e.status("user"), "running")
	e.ok("restart", "-t", "0", "user")
	wantEq(t, "restarted", e.status("user"), "running")
	waitLog(t, e, "user", "hi\nhi")
	e.ok("start", "-a", stopped)
	// ps shows the image by ID once its name is gone, like Docker.
	wantEq(t, "ps IMAGE of an untagged image", e.out("ps", "--filter", "name=user", "--format", "{{.Image}}"), strings.TrimPrefix(img, "sha256:")[:12])
	wantEq(t, "ps --no-trunc IMAGE", e.out("ps", "--no-trunc", "--filter", "name=user", "--format", "{{.Image}}"), img)
	// A new container from the untagged image, by ID.
	wantEq(t, "run by ID", e.out("run", "--rm", strings.TrimPrefix(img, "sha256:")[:12], "echo", "by-id"), "by-id")
	e.ok("commit", "user", "fromuntagged")
	// Once the containers are gone the image can go: with the commit made
	// on it, as its untagged parent (Docker's rmi prunes those).
	e.ok("rm", "-f", "user", stopped)
	e.ok("rmi", "fromuntagged")
	if out := e.out("images", "-q"); strings.Contains(out, strings.TrimPrefix(img, "sha256:")[:12]) {
		t.Fatalf("image still listed:\n%s", out)
	}
}

// TestRmiRemovesUnpackedLayers: rmi of the last image that needs an
// unpacked layer removes it from disk, as Docker's rmi deletes layers; a
// layer other images share stays.
func TestRmiRemovesUnpackedLayers(t *testing.T) {
	e := newEnv(t)
	e.ok("run", "--name", "w", "busybox", "sh", "-c", "echo own > /own")
	e.ok("commit", "w", "own")
	e.ok("rm", "w")
	e.ok("run", "--rm", "own", "cat", "/own") // unpacks its layer
	before := snapshotDirs(t, e)
	wantContains(t, "rmi", e.out("rmi", "own"), "Deleted: ")
	after := snapshotDirs(t, e)
	// The image's layer goes, and unused init layers with it (they are
	// made again on demand); the base image's layer stays.
	if after >= before || after < 1 {
		t.Fatalf("unpacked layers: %d before rmi, %d after; want fewer, and the base's kept", before, after)
	}
	wantEq(t, "the shared base still runs", e.out("run", "--rm", "busybox", "echo", "base"), "base")
}

// snapshotDirs counts the overlay snapshots on disk.
func snapshotDirs(t *testing.T, e *env) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.root, "snapshots", "overlay", "snapshots"))
	if err != nil {
		t.Skipf("not an overlay root: %v", err)
	}
	return len(entries)
}
