package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// skopeo runs /usr/bin/skopeo (skipping the test when it is missing).
func skopeo(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("skopeo")
	if err != nil {
		if path, err = exec.LookPath("/usr/bin/skopeo"); err != nil {
			t.Skip("skopeo not installed")
		}
	}
	cmd := exec.Command(path, append([]string{"--insecure-policy"}, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// skopeoFixture is a store holding busybox:latest (from Debian's busybox)
// and its strata-saved archive.
func skopeoFixture(t *testing.T) (s *sandbox, id, archive string) {
	t.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo not installed")
	}
	s = newSandbox(t)
	id = s.importTar(busyboxRootfs(t), "busybox:latest", "-c", `CMD ["/bin/sh"]`)
	archive = filepath.Join(s.dir, "busybox.tar")
	s.ok("save", "-o", archive, "busybox:latest")
	return s, id, archive
}

func TestSkopeoInspectsSave(t *testing.T) {
	t.Parallel()
	s, id, archive := skopeoFixture(t)
	diffID := strings.TrimSpace(s.ok("inspect", "-f", "{{index .RootFS.Layers 0}}", id))
	for _, transport := range []string{"docker-archive:", "oci-archive:"} {
		var info struct {
			Architecture, Os string
			Layers           []string
		}
		jsonOf(t, skopeo(t, "inspect", transport+archive), &info)
		if info.Os != "linux" || len(info.Layers) != 1 || info.Layers[0] != diffID {
			t.Fatalf("skopeo inspect %s: %+v", transport, info)
		}
		// The config skopeo reads is the image's, byte for byte.
		if got := sha([]byte(skopeo(t, "inspect", "--raw", "--config", transport+archive))); got != id {
			t.Fatalf("skopeo %s config digest %s, want %s", transport, got, id)
		}
	}
}

func TestSkopeoCopiesSave(t *testing.T) {
	t.Parallel()
	s, id, archive := skopeoFixture(t)
	ociDir := filepath.Join(s.dir, "oci")
	skopeo(t, "copy", "docker-archive:"+archive, "oci:"+ociDir+":busybox")
	if _, err := os.Stat(filepath.Join(ociDir, "index.json")); err != nil {
		t.Fatal(err)
	}
	// skopeo rewrites a Docker config as an OCI one on this copy; the
	// layers and settings are what strata wrote.
	var cfg struct {
		Config struct{ Cmd []string }
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		}
	}
	jsonOf(t, skopeo(t, "inspect", "--raw", "--config", "oci:"+ociDir+":busybox"), &cfg)
	diffID := strings.TrimSpace(s.ok("inspect", "-f", "{{index .RootFS.Layers 0}}", id))
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != diffID || strings.Join(cfg.Config.Cmd, " ") != "/bin/sh" {
		t.Fatalf("oci dir config %+v", cfg)
	}
	ociArchive := filepath.Join(s.dir, "copy-oci.tar")
	skopeo(t, "copy", "docker-archive:"+archive, "oci-archive:"+ociArchive+":busybox:latest")
	// From the archive read as OCI, the config travels as is.
	sameOCI := filepath.Join(s.dir, "copy-same-oci.tar")
	skopeo(t, "copy", "oci-archive:"+archive, "oci-archive:"+sameOCI+":busybox:latest")
	dockerArchive := filepath.Join(s.dir, "copy-docker.tar")
	skopeo(t, "copy", "docker-archive:"+archive, "docker-archive:"+dockerArchive+":busybox:copied")
	converted := newSandbox(t)
	converted.ok("load", "-i", ociArchive)
	wantLines(t, "converted by skopeo", converted.ok("images", "-q", "--no-trunc"),
		sha([]byte(skopeo(t, "inspect", "--raw", "--config", "oci-archive:"+ociArchive))))
	converted.checkClean()

	// strata loads both of skopeo's archives back to the same image.
	for _, tc := range []struct{ path, name string }{{sameOCI, "busybox:latest"}, {dockerArchive, "busybox:copied"}} {
		o := newSandbox(t)
		out := o.ok("load", "-i", tc.path)
		wantLines(t, "load "+tc.path, out, "Loaded image: "+tc.name)
		wantLines(t, "same ID", o.ok("images", "-q", "--no-trunc"), id)
		o.checkClean()
		// And what strata saves from it skopeo reads again.
		again := filepath.Join(o.dir, "again.tar")
		o.ok("save", "-o", again, id)
		if got := sha([]byte(skopeo(t, "inspect", "--raw", "--config", "docker-archive:"+again))); got != id {
			t.Fatalf("re-saved config %s, want %s", got, id)
		}
	}
}
