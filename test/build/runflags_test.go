package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/strata-dev/strata/test/testbin"
)

// TestRunNetwork checks --network none, host and the default (a network
// namespace of its own with lo and eth0) for RUN steps.
func TestRunNetwork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var host []string
	for _, i := range ifs {
		if !strings.HasPrefix(i.Name, "veth") { // other tests' containers come and go
			host = append(host, i.Name)
		}
	}
	sort.Strings(host)
	df := "FROM busybox\nRUN ip -o link | cut -d: -f2 | cut -d@ -f1 | tr -d ' ' | grep -v '^veth' | sort > /links\n"
	for _, c := range []struct{ mode, want string }{
		{"none", "lo\n"},
		{"host", strings.Join(host, "\n") + "\n"},
		{"default", "eth0\nlo\n"},
	} {
		e.buildOK(df, "--network", c.mode, "--no-cache", "-t", "net-"+c.mode)
		testbin.WantEq(t, "interfaces of a RUN with --network "+c.mode, e.sh("net-"+c.mode, "cat /links"), c.want)
	}
	r := e.buildFail("FROM busybox\nRUN wget -q -T 2 -O /dev/null http://192.0.2.1/ || exit 4\n", "--network", "none")
	testbin.WantContains(t, "wget with --network none", errorLine(t, r.Stderr), "exit code: 4")
	r, _ = e.build(build{args: []string{"--network", "bogus", "."}})
	if r.Code != 125 {
		t.Errorf("--network bogus: want exit 125, got %s", r)
	}
}

// TestRunCacheMount checks that a cache mount keeps its contents between
// builds, even with --no-cache, and stays out of the image.
func TestRunCacheMount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	df := "FROM busybox\nRUN --mount=type=cache,target=/cache echo run >> /cache/log && cat /cache/log > /seen && ls /cache > /listing\n"
	e.buildOK(df, "-t", "c1")
	testbin.WantEq(t, "first build", e.sh("c1", "cat /seen"), "run\n")
	e.buildOK(df, "-t", "c2", "--no-cache")
	testbin.WantEq(t, "second build", e.sh("c2", "cat /seen; cat /listing; ls -A /cache 2>/dev/null | wc -l"), "run\nrun\nlog\n0\n")
	// A cache mount with another id starts empty.
	e.buildOK(strings.Replace(df, "target=/cache", "target=/cache,id=other", 1), "-t", "c3")
	testbin.WantEq(t, "cache with another id", e.sh("c3", "cat /seen"), "run\n")
}

// TestRunSecretMount checks that a secret is readable at /run/secrets/ID
// during the RUN and appears nowhere in the image: not as a file, not in
// any layer of `strata save`, not in the history.
func TestRunSecretMount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const secret = "s3cr3t-VALUE-9f1c2"
	const envSecret = "env-s3cr3t-77ab1"
	file := testbin.WriteFile(t, filepath.Join(e.base, "token.txt"), secret)
	sum := sha256.Sum256([]byte(envSecret))
	df := "FROM busybox\n" +
		"RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -c1-64 > /tok.sum && wc -c < /run/secrets/tok > /tok.len\n" +
		"RUN --mount=type=secret,id=envtok,target=/etc/envtok sha256sum /etc/envtok | cut -c1-64 > /envtok.sum\n" +
		"RUN echo marker-PRESENT-5e1 > /marker\n"
	e.write("Dockerfile", df)
	r, id := e.build(build{args: []string{"-t", "img", "--secret", "id=tok,src=" + file, "--secret", "id=envtok,env=MY_SECRET_VAR", "."},
		env: []string{"MY_SECRET_VAR=" + envSecret}})
	if r.Code != 0 || id == "" {
		t.Fatalf("build with an env secret: %s", r)
	}
	fileSum := sha256.Sum256([]byte(secret))
	testbin.WantEq(t, "what the RUN steps read", e.sh("img", "cat /tok.sum /tok.len /envtok.sum; test -e /run/secrets/tok || echo gone; test -e /etc/envtok || echo gone"),
		hex.EncodeToString(fileSum[:])+"\n"+itoa(len(secret))+"\n"+hex.EncodeToString(sum[:])+"\ngone\ngone\n")

	var saved, saveErr bytes.Buffer
	cmd := e.command(t.Context(), nil, "save", "img")
	cmd.Stdout, cmd.Stderr = &saved, &saveErr
	if err := cmd.Run(); err != nil {
		t.Fatalf("save: %v\n%s", err, saveErr.String())
	}
	found := searchSaved(t, saved.Bytes(), []string{secret, envSecret, "marker-PRESENT-5e1"})
	if !found["marker-PRESENT-5e1"] {
		t.Fatalf("the search of the saved image does not find /marker's content: it proves nothing")
	}
	for _, s := range []string{secret, envSecret} {
		if found[s] {
			t.Errorf("the secret %q is in the saved image", s)
		}
	}
	testbin.WantNotContains(t, "history", e.ok("history", "--no-trunc", "img"), secret, envSecret)
	testbin.WantNotContains(t, "progress", r.Stderr, secret, envSecret)
}

// searchSaved reports which needles occur in a saved image: in the tar or
// in any of its blobs, decompressed.
func searchSaved(t *testing.T, data []byte, needles []string) map[string]bool {
	t.Helper()
	found := map[string]bool{}
	look := func(b []byte) {
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				found[n] = true
			}
		}
	}
	look(data)
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("saved image: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		blob, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case bytes.HasPrefix(blob, []byte{0x1f, 0x8b}):
			zr, err := gzip.NewReader(bytes.NewReader(blob))
			if err != nil {
				t.Fatalf("%s: %v", h.Name, err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("%s: %v", h.Name, err)
			}
			look(plain)
		case bytes.HasPrefix(blob, []byte{0x28, 0xb5, 0x2f, 0xfd}):
			zr, err := zstd.NewReader(bytes.NewReader(blob))
			if err != nil {
				t.Fatalf("%s: %v", h.Name, err)
			}
			plain, err := io.ReadAll(zr)
			zr.Close()
			if err != nil {
				t.Fatalf("%s: %v", h.Name, err)
			}
			look(plain)
		}
	}
	return found
}

// TestRunBindAndTmpfsMounts checks bind mounts of the context and of an
// image (read-only unless rw, whose writes are discarded) and tmpfs mounts,
// none of which stays in the image.
func TestRunBindAndTmpfsMounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write("data/file.txt", "bound data\n")
	e.write("single.txt", "single file\n")
	df := "FROM busybox\n" +
		"RUN --mount=type=bind,source=data,target=/x cat /x/file.txt > /bound && (touch /x/new 2>/dev/null && echo writable || echo read-only) > /ro\n" +
		"RUN --mount=type=bind,source=single.txt,target=/etc/single.txt cat /etc/single.txt > /single\n" +
		"RUN --mount=type=bind,from=busybox,source=/etc,target=/other cat /other/passwd > /from-image\n" +
		"RUN --mount=type=tmpfs,target=/t grep ' /t ' /proc/mounts | cut -d' ' -f3 > /fstype && echo x > /t/file\n"
	e.buildOK(df, "-t", "img")
	testbin.WantEq(t, "mounts", e.sh("img", "cat /bound /ro /single /from-image /fstype; ls -A /x /other /t /etc/single.txt 2>/dev/null | wc -l"),
		"bound data\nread-only\nsingle file\nroot:x:0:0:root:/root:/bin/sh\ntmpfs\n0\n")

	r := e.buildFail("FROM busybox\nRUN --mount=type=bind,source=data,target=/x echo no > /x/new\n")
	testbin.WantContains(t, "write to a read-only bind mount", errorLine(t, r.Stderr), "Dockerfile:2", "exit code: 1")
	testbin.WantContains(t, "write to a read-only bind mount", r.Stderr, "Read-only file system")

	e.buildOK("FROM busybox\nRUN --mount=type=bind,source=data,target=/rw,rw echo scratch > /rw/new && cat /rw/new > /rwseen\n", "-t", "rw")
	testbin.WantEq(t, "rw bind mount", e.sh("rw", "cat /rwseen; test -e /rw || echo gone"), "scratch\ngone\n")
	if _, err := os.Stat(filepath.Join(e.dir, "data", "new")); err == nil {
		t.Errorf("a rw bind mount wrote to the context")
	}
}

// TestQuietIidfileLabel checks -q (only the image ID on stdout),
// --iidfile and --label.
func TestQuietIidfileLabel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write("Dockerfile", "FROM busybox\nLABEL from.file=1 both=dockerfile\nRUN echo quiet\n")
	iid := filepath.Join(e.base, "iid")
	r := e.run(nil, nil, "build", "-q", "--iidfile", iid, "--label", "both=cli", "--label", "cli.only=yes", "-t", "q", ".")
	if r.Code != 0 {
		t.Fatalf("build -q: %s", r)
	}
	id := readFile(t, iid)
	testbin.WantEq(t, "stdout of build -q", r.Stdout, id+"\n")
	testbin.WantEq(t, "stderr of build -q", r.Stderr, "")
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		t.Fatalf("--iidfile holds %q", id)
	}
	testbin.WantEq(t, "image ID of the tag", e.out("inspect", "-f", "{{.Id}}", "q"), id)
	wantJSON(t, "Labels", e.config("q", "Labels"), `{"from.file":"1","both":"cli","cli.only":"yes"}`)

	r = e.run(nil, nil, "build", "--progress", "quiet", "-t", "q2", ".")
	if r.Code != 0 || r.Stderr != "" {
		t.Errorf("build --progress quiet printed something: %s", r)
	}
	r = e.run(nil, nil, "build", "--progress", "bogus", ".")
	if r.Code != 125 {
		t.Errorf("build --progress bogus: want exit 125, got %s", r)
	}
}
