package integration

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestImportFileIDMatchesImages(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	layer := rootfs(t, "file", 3000)
	path := s.write("rootfs.tar", layer)
	id := strings.TrimSpace(s.ok("import", path, "img:1"))
	if !isID(id) {
		t.Fatalf("import printed %q", id)
	}
	wantLines(t, "images -q --no-trunc", s.ok("images", "-q", "--no-trunc"), id)
	wantLines(t, "images -q", s.ok("images", "-q"), short(id))
	got := s.ok("inspect", "--format", "{{.Id}} {{index .RepoTags 0}} {{.Size}} {{index .RootFS.Layers 0}} {{.RootFS.Type}}", "img:1")
	wantLines(t, "inspect", got, id+" img:1 "+strconv.Itoa(len(layer))+" "+sha(layer)+" layers")
	wantLines(t, "history comment", s.ok("history", "--format", "{{.Comment}}", "img:1"), "Imported from -")
	s.checkClean()
}

func TestImportStdin(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	layer := rootfs(t, "stdin", 100)
	id := strings.TrimSpace(s.okIn(bytes.NewReader(layer), "import", "-", "fromstdin"))
	wantLines(t, "images -q --no-trunc", s.ok("images", "-q", "--no-trunc"), id)
	wantLines(t, "history comment", s.ok("history", "--format", "{{.Comment}}", "fromstdin"), "Imported from -")
	wantLines(t, "inspect comment", s.ok("image", "inspect", "--format", "{{.Comment}}", "fromstdin:latest"), "Imported from -")
}

func TestImportUnnamedIsDangling(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	id := s.importTar(rootfs(t, "anon", 10), "")
	got := s.ok("images", "--format", "{{.Repository}}|{{.Tag}}|{{.ID}}")
	wantLines(t, "images", got, "<none>|<none>|"+short(id))
	wantLines(t, "inspect", s.ok("inspect", "--format", "{{json .RepoTags}} {{json .RepoDigests}}", id), "[] []")
}

func TestImportURL(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	layer := rootfs(t, "url", 2000)
	body := gzipBytes(t, layer)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rootfs.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	url := srv.URL + "/rootfs.tar.gz"
	id := strings.TrimSpace(s.ok("import", url, "web:v1"))
	wantLines(t, "images -q --no-trunc", s.ok("images", "-q", "--no-trunc"), id)
	wantLines(t, "diff id", s.ok("inspect", "--format", "{{index .RootFS.Layers 0}}", "web:v1"), sha(layer))
	wantLines(t, "history comment", s.ok("history", "--format", "{{.Comment}}", "web:v1"), "Imported from "+url)

	r := s.fail(1, "import", srv.URL+"/missing.tar", "web:v2")
	wantContains(t, "404 error", r.Stderr, "Error: ", "404")
	wantLines(t, "images after 404", s.ok("images", "-q"), short(id))
}

func TestImportCompressions(t *testing.T) {
	t.Parallel()
	layer := rootfs(t, "compressed", 50000)
	for _, tc := range []struct {
		name     string
		compress func(t *testing.T) []byte
	}{
		{"plain", func(*testing.T) []byte { return layer }},
		{"gzip", func(t *testing.T) []byte { return gzipBytes(t, layer) }},
		{"xz", func(t *testing.T) []byte { return compressWith(t, "xz", layer) }},
		{"bzip2", func(t *testing.T) []byte { return compressWith(t, "bzip2", layer) }},
		{"zstd", func(t *testing.T) []byte { return compressWith(t, "zstd", layer) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			data := tc.compress(t)
			if tc.name != "plain" && bytes.Equal(data, layer) {
				t.Fatal("fixture not compressed")
			}
			path := s.write("rootfs."+tc.name, data)
			id := strings.TrimSpace(s.ok("import", path, tc.name))
			// The layer is stored by its uncompressed content, whatever the
			// compression on the way in.
			got := s.ok("inspect", "--format", "{{index .RootFS.Layers 0}} {{.Size}}", id)
			wantLines(t, "inspect", got, sha(layer)+" "+strconv.Itoa(len(layer)))
			s.checkClean()
		})
	}
}

func TestImportChanges(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	id := s.importTar(rootfs(t, "changes", 10), "chg", "-m", "my note",
		"-c", `CMD ["/bin/sh", "-c", "echo hi"]`,
		"-c", "ENTRYPOINT /bin/entry",
		"-c", `ENV A=1 B="two words"`,
		"-c", "ENV C=$A-x",
		"-c", "EXPOSE 80 443/udp",
		"-c", `LABEL maintainer=me "with space"=yes`,
		"-c", "USER nobody:nogroup",
		"-c", `VOLUME ["/data", "/logs"]`,
		"-c", "WORKDIR /srv/app",
		"-c", "ONBUILD RUN echo built",
		"-c", "STOPSIGNAL SIGQUIT",
	)
	for _, tc := range []struct{ tmpl, want string }{
		{"{{json .Config.Cmd}}", `["/bin/sh","-c","echo hi"]`},
		{"{{json .Config.Entrypoint}}", `["/bin/sh","-c","/bin/entry"]`},
		{"{{json .Config.Env}}", `["A=1","B=two words","C=1-x"]`},
		{"{{json .Config.ExposedPorts}}", `{"443/udp":{},"80/tcp":{}}`},
		{"{{json .Config.Labels}}", `{"maintainer":"me","with space":"yes"}`},
		{"{{.Config.User}}", "nobody:nogroup"},
		{"{{json .Config.Volumes}}", `{"/data":{},"/logs":{}}`},
		{"{{.Config.WorkingDir}}", "/srv/app"},
		{"{{json .Config.OnBuild}}", `["RUN echo built"]`},
		{"{{.Config.StopSignal}}", "SIGQUIT"},
		{"{{.Comment}}", "my note"},
	} {
		wantLines(t, tc.tmpl, s.ok("inspect", "--format", tc.tmpl, id), tc.want)
	}
	wantLines(t, "history comment", s.ok("history", "--format", "{{.Comment}}", "chg"), "my note")
	// Labels set by -c are what label filters see.
	wantLines(t, "label filter", s.ok("images", "-q", "--no-trunc", "--filter", "label=maintainer=me"), id)
}

func TestImportChangeErrors(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	layer := rootfs(t, "bad", 10)
	for _, change := range []string{"RUN echo hi", "FROM scratch", "EXPOSE notaport", "NOSUCH x"} {
		r := s.failIn(bytes.NewReader(layer), 1, "import", "-c", change, "-", "bad")
		wantContains(t, change, r.Stderr, "Error: ")
	}
	wantLines(t, "images -q", s.ok("images", "-q"))
	wantLines(t, "blobs", strconv.FormatInt(s.blobBytes(), 10)+"\n", "0")
}

func TestImportErrors(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	r := s.fail(1, "import", "nosuchfile.tar", "x")
	wantContains(t, "missing file", r.Stderr, "Error: ", "nosuchfile.tar")
	r = s.failIn(bytes.NewReader(rootfs(t, "x", 1)), 1, "import", "-", "UPPER:case")
	wantContains(t, "bad name", r.Stderr, "Error: ")
	r = s.failIn(strings.NewReader("this is not a tarball at all, not even close"), 1, "import", "-", "junk")
	wantContains(t, "junk", r.Stderr, "Error: ")
	wantLines(t, "images -q", s.ok("images", "-q"))
	s.checkClean()
}
