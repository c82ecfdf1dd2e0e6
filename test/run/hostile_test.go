package run

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCpSymlinkEscape: cp into and out of a container whose paths hold
// symlinks pointing outside it (absolute, relative, and in the tar stream
// itself) never reads or writes the host.
func TestCpSymlinkEscape(t *testing.T) {
	e := newEnv(t)
	hostDir := filepath.Join(e.dir, "hostside")
	e.write("hostside/secret", "host secret\n")
	sentinel := "strata-sentinel-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	e.runD("--name", "c", "busybox", "sleep", "1000")
	e.ok("exec", "c", "sh", "-c", "ln -s /etc /etc/evil && ln -s ../../.. /x && ln -s "+hostDir+" /hostlink && ln -s "+hostDir+"/secret /secretlink")
	src := e.write("payload/"+sentinel, "payload\n")

	// Into the container through each link: the file lands inside it.
	for _, dst := range []string{"c:/etc/evil/", "c:/x/tmp/", "c:/hostlink/", "c:/hostlink"} {
		r := e.exec("cp", src, dst)
		t.Logf("cp %s %s: exit %d %s", src, dst, r.Code, strings.TrimSpace(r.Stderr))
	}
	r := e.exec("cp", src, "c:/secretlink")
	t.Logf("cp onto a link to a host file: exit %d %s", r.Code, strings.TrimSpace(r.Stderr))
	checkHostUntouched(t, e, sentinel, hostDir)
	if b, _ := os.ReadFile(filepath.Join(hostDir, "secret")); string(b) != "host secret\n" {
		t.Fatalf("the host file behind a container symlink was overwritten: %q", b)
	}
	wantEq(t, "landed in the container's /etc", e.out("exec", "c", "cat", "/etc/"+sentinel), "payload")
	wantEq(t, "landed in the container's /tmp", e.out("exec", "c", "cat", "/tmp/"+sentinel), "payload")

	// Out of the container through the links: never the host's files.
	for _, from := range []string{"c:/hostlink/secret", "c:/x/" + strings.TrimPrefix(hostDir, "/") + "/secret"} {
		out := filepath.Join(e.dir, "out-"+strconv.Itoa(len(from)))
		r := e.exec("cp", from, out)
		if b, err := os.ReadFile(out); err == nil && strings.Contains(string(b), "host secret") {
			t.Fatalf("cp %s read the host's file: %s", from, r)
		}
		if r := e.exec("cp", from, "-"); strings.Contains(r.Stdout, "host secret") {
			t.Fatalf("cp %s - streamed the host's file", from)
		}
	}
	// A link copied out is a link, not what it points to.
	e.ok("exec", "c", "ln", "-s", hostDir+"/secret", "/secretlink2")
	out := filepath.Join(e.dir, "linkcopy")
	e.ok("cp", "c:/secretlink2", out)
	if target, err := os.Readlink(out); err != nil || target != hostDir+"/secret" {
		t.Fatalf("cp of a symlink: %q %v", target, err)
	}

	// Hostile tar streams, one construct each: ../ names, absolute names,
	// a link then a file through it, a hard link to a host path.
	type entry struct{ name, body, link string }
	streams := [][]entry{
		{{name: "../../../../../../../../" + strings.TrimPrefix(hostDir, "/") + "/" + sentinel, body: "dotdot\n"}},
		{{name: hostDir + "/" + sentinel + "-abs", body: "abs\n"}},
		{{name: "tlink", link: hostDir}, {name: "tlink/" + sentinel + "-via-link", body: "via link\n"}},
		{{name: "rlink", link: "../../../../../../../../" + strings.TrimPrefix(hostDir, "/")}, {name: "rlink/" + sentinel + "-via-rlink", body: "via rlink\n"}},
		{{name: "hard", link: hostDir + "/secret", body: "hard"}},
	}
	for _, entries := range streams {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, en := range entries {
			hdr := &tar.Header{Name: en.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(en.body))}
			switch {
			case en.link != "" && en.body != "":
				hdr = &tar.Header{Name: en.name, Typeflag: tar.TypeLink, Linkname: en.link}
			case en.link != "":
				hdr = &tar.Header{Name: en.name, Typeflag: tar.TypeSymlink, Linkname: en.link}
			}
			_ = tw.WriteHeader(hdr)
			if hdr.Typeflag == tar.TypeReg {
				_, _ = tw.Write([]byte(en.body))
			}
		}
		_ = tw.Close()
		r := e.execIn(&buf, "cp", "-", "c:/tmp")
		t.Logf("hostile tar stream %s: exit %d %s", entries[len(entries)-1].name, r.Code, strings.TrimSpace(r.Stderr))
		checkHostUntouched(t, e, sentinel, hostDir)
	}
	if r := e.exec("exec", "c", "cat", "/tmp/hard"); strings.Contains(r.Stdout, "host secret") {
		t.Fatal("a hard link in a tar stream reached a host file")
	}
	if b, _ := os.ReadFile(filepath.Join(hostDir, "secret")); string(b) != "host secret\n" {
		t.Fatalf("the host file was changed through a tar stream: %q", b)
	}
	// The same on a stopped container (its layer is mounted for the copy).
	e.ok("stop", "-t", "0", "c")
	for _, dst := range []string{"c:/etc/evil/", "c:/x/tmp/", "c:/hostlink/"} {
		e.exec("cp", src, dst)
	}
	checkHostUntouched(t, e, sentinel, hostDir)
}

// checkHostUntouched fails if a file named after sentinel appeared in the
// host's /etc, /tmp, the root's parent directories or hostDir.
func checkHostUntouched(t *testing.T, e *env, sentinel, hostDir string) {
	t.Helper()
	dirs := []string{"/etc", "/tmp", "/", hostDir, e.root, e.base, filepath.Join(e.root, "containers"), filepath.Join(e.root, "tmp")}
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, sentinel+"*"))
		for _, m := range matches {
			os.Remove(m)
			t.Errorf("cp wrote %s on the host", m)
		}
	}
}

// TestHostileImageConfig: an image whose WORKDIR or VOLUME climbs out of
// the root filesystem is refused at create.
func TestHostileImageConfig(t *testing.T) {
	e := newEnv(t)
	layer, err := os.ReadFile(busyboxTar)
	if err != nil {
		t.Fatal(err)
	}
	escape := filepath.Join(e.base, "escaped")
	for i, cfg := range []map[string]any{
		{"WorkingDir": "../../escape"},
		{"WorkingDir": "/../../../" + strings.TrimPrefix(escape, "/")},
		{"Volumes": map[string]any{"../../../escape": struct{}{}}},
		{"Volumes": map[string]any{"/../../../../" + strings.TrimPrefix(escape, "/"): struct{}{}}},
	} {
		name := "hostile:" + strconv.Itoa(i)
		e.okIn(bytes.NewReader(dockerArchive(t, name, layer, cfg)), "load")
		r := e.exec("create", name)
		if r.Code == 0 {
			t.Errorf("create of an image with config %v succeeded", cfg)
		}
		r = e.exec("run", "--rm", name, "true")
		if r.Code != 125 {
			t.Errorf("run of an image with config %v: %s", cfg, r)
		}
	}
	if _, err := os.Stat(escape); err == nil {
		t.Fatalf("a hostile image config created %s on the host", escape)
	}
	// The same through run's own flags.
	e.fail(125, "run", "--rm", "-w", "../../x", "busybox", "true")
	e.fail(125, "run", "--rm", "-v", "/tmp:../../x", "busybox", "true")
	e.fail(125, "run", "--rm", "-v", escape+":/../../x", "busybox", "true")
	wantEq(t, "containers left", e.out("ps", "-aq"), "")
}

// dockerArchive builds a `docker save` archive of one image: the given
// layer and a config with the given container settings.
func dockerArchive(t *testing.T, tag string, layer []byte, config map[string]any) []byte {
	t.Helper()
	sum := sha256.Sum256(layer)
	diffID := "sha256:" + hex.EncodeToString(sum[:])
	cc := map[string]any{"Env": []string{"PATH=/bin"}, "Cmd": []string{"/bin/sh"}}
	for k, v := range config {
		cc[k] = v
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux", "config": cc,
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history": []map[string]any{{"created_by": "hostile test"}},
	})
	csum := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(csum[:]) + ".json"
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{tag}, "Layers": []string{"layer.tar"}}})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{{"layer.tar", layer}, {cfgName, cfg}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
