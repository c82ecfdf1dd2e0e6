package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// TestCopy checks COPY's rules: globs, directories, trailing slashes,
// owners and modes, and sources in other stages and images.
func TestCopy(t *testing.T) {
	t.Parallel()
	tree := map[string]string{
		"a1.txt": "a1\n", "a2.txt": "a2\n", "b.txt": "b\n", "c.md": "c\n",
		"dir/top.txt": "top\n", "dir/sub/deep.txt": "deep\n",
	}
	runImageCases(t, []imageCase{{
		name:       "globs",
		files:      tree,
		dockerfile: "FROM busybox\nCOPY a?.txt /q/\nCOPY *.txt /all/\nCOPY [ab]*.txt dir/*/*.txt /set/\n",
		script:     "ls /q; echo; ls /all; echo; ls /set",
		want:       "a1.txt\na2.txt\n\na1.txt\na2.txt\nb.txt\n\na1.txt\na2.txt\nb.txt\ndeep.txt\n",
	}, {
		name:       "directory-copies-its-contents",
		files:      tree,
		dockerfile: "FROM busybox\nCOPY dir /d\nCOPY dir/ /d2/\nCOPY . /ctx/\n",
		script:     "cd /d && find . | sort; cd /d2 && find . | sort; test -e /ctx/dir/sub/deep.txt && echo whole",
		want:       ".\n./sub\n./sub/deep.txt\n./top.txt\n.\n./sub\n./sub/deep.txt\n./top.txt\nwhole\n",
	}, {
		name:  "trailing-slash",
		files: tree,
		dockerfile: "FROM busybox\nRUN mkdir /existing\nCOPY b.txt /dest\nCOPY b.txt /destdir/\nCOPY b.txt /existing\n" +
			"COPY b.txt relative.txt\nWORKDIR /wd\nCOPY b.txt .\n",
		script: "test -f /dest && cat /dest; cat /destdir/b.txt /existing/b.txt /relative.txt /wd/b.txt",
		want:   "b\nb\nb\nb\nb\n",
	}, {
		name:  "chown-and-chmod",
		files: tree,
		dockerfile: "FROM busybox\n" + addApp + "COPY --chown=1234:5678 b.txt /numeric\nCOPY --chown=77 b.txt /uid-only\n" +
			"COPY --chown=app:app dir /named/\nCOPY --chmod=0755 b.txt /exec\nCOPY --chmod=640 --chown=app dir /both/\n",
		script: "stat -c '%u:%g %n' /numeric /uid-only /named /named/top.txt /named/sub/deep.txt; " +
			"stat -c '%a %n' /exec /both/top.txt /both/sub/deep.txt; stat -c '%U:%G %n' /both/top.txt",
		want: "1234:5678 /numeric\n77:77 /uid-only\n1000:1000 /named\n1000:1000 /named/top.txt\n1000:1000 /named/sub/deep.txt\n" +
			"755 /exec\n640 /both/top.txt\n640 /both/sub/deep.txt\napp:app /both/top.txt\n",
	}, {
		name:  "from-stage-image-and-index",
		files: tree,
		dockerfile: "FROM busybox AS first\nRUN echo from-first > /made\n" +
			"FROM busybox AS second\nRUN echo from-second > /made\n" +
			"FROM busybox\nCOPY --from=second /made /second\nCOPY --from=0 /made /zero\n" +
			"COPY --from=busybox /bin/busybox /bb\nCOPY --from=first /made /etc/passwd /multi/\n",
		script: "cat /second /zero /multi/made; cmp /bb /bin/busybox && echo same; ls /multi",
		want:   "from-second\nfrom-first\nfrom-first\nsame\nmade\npasswd\n",
	}})
}

// TestCopyManySourcesNeedDirectory checks Docker's rule that several
// sources need a destination ending in "/".
func TestCopyManySourcesNeedDirectory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write("a1.txt", "a1\n")
	e.write("a2.txt", "a2\n")
	before := e.images()
	for _, df := range []string{"FROM busybox\nCOPY a1.txt a2.txt /dest\n", "FROM busybox\nCOPY a*.txt /dest\n"} {
		r := e.buildFail(df, "-t", "bad")
		testbin.WantContains(t, "error", r.Stderr, "Dockerfile:2", "destination must be a directory and end with a /")
	}
	testbin.WantEq(t, "images after failed builds", strings.Join(e.images(), "\n"), strings.Join(before, "\n"))
}

// TestAddArchives checks that ADD extracts local tarballs, compressed or
// not, and copies other files as they are.
func TestAddArchives(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	src := filepath.Join(e.base, "tree")
	testbin.WriteFile(t, filepath.Join(src, "in/a.txt"), "in the archive\n")
	testbin.WriteFile(t, filepath.Join(src, "top.txt"), "top\n")
	tarFile := filepath.Join(e.dir, "plain.tar")
	if out, err := exec.Command("tar", "-C", src, "-cf", tarFile, "in", "top.txt").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	df := "FROM busybox\nADD plain.tar /plain/\nADD plain.tar /noslash\n"
	want := []string{"/noslash/in/a.txt", "/noslash/top.txt", "/plain/in/a.txt", "/plain/top.txt"}
	for _, c := range []struct{ tool, ext string }{{"gzip", "gz"}, {"xz", "xz"}, {"zstd", "zst"}} {
		if _, err := exec.LookPath(c.tool); err != nil {
			t.Logf("%s is not installed: not testing .tar.%s", c.tool, c.ext)
			continue
		}
		out := filepath.Join(e.dir, "archive.tar."+c.ext)
		cmd := exec.Command("sh", "-c", fmt.Sprintf("%s -c < %s > %s", c.tool, tarFile, out))
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", c.tool, err, o)
		}
		df += fmt.Sprintf("ADD archive.tar.%s /%s/\n", c.ext, c.ext)
		want = append(want, "/"+c.ext+"/in/a.txt", "/"+c.ext+"/top.txt")
	}
	e.write("notes.txt", "just a file\n")
	e.write("fake.tar.gz", "not really gzip\n")
	df += "ADD notes.txt fake.tar.gz /files/\n"
	want = append(want, "/files/fake.tar.gz", "/files/notes.txt")
	sort.Strings(want)
	e.buildOK(df, "-t", "img")
	got := e.sh("img", "find /plain /noslash /gz /xz /zst /files -type f 2>/dev/null | sort")
	testbin.WantEq(t, "files", got, strings.Join(want, "\n")+"\n")
	testbin.WantEq(t, "contents", e.sh("img", "cat /plain/in/a.txt /files/notes.txt /files/fake.tar.gz"), "in the archive\njust a file\nnot really gzip\n")
}

// TestAddURL checks ADD of an URL: refused from a private address unless
// --allow-private-network, downloaded (never extracted) with it, and
// checked against --checksum.
func TestAddURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	src := filepath.Join(e.base, "tree")
	testbin.WriteFile(t, filepath.Join(src, "a.txt"), "in a tar\n")
	tarPath := filepath.Join(e.base, "served.tar")
	if out, err := exec.Command("tar", "-C", src, "-cf", tarPath, "a.txt").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	tarData, err := os.ReadFile(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	body := "downloaded body\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/file.txt":
			w.Write([]byte(body))
		case "/served.tar":
			w.Write(tarData)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	sum := sha256.Sum256([]byte(body))
	good := "sha256:" + hex.EncodeToString(sum[:])

	df := fmt.Sprintf("FROM busybox\nADD %s/file.txt /dl/\nADD %s/served.tar /dl/\nADD --checksum=%s %s/file.txt /checked\n",
		srv.URL, srv.URL, good, srv.URL)
	r := e.buildFail(df, "-t", "img")
	testbin.WantContains(t, "error without --allow-private-network", r.Stderr, "Dockerfile:2", "private")
	testbin.WantNotContains(t, "images", strings.Join(e.images(), "\n"), "img:")

	e.buildOK(df, "-t", "img", "--allow-private-network")
	testbin.WantEq(t, "downloads", e.sh("img", "cat /dl/file.txt /checked; ls /dl; tar -tf /dl/served.tar"),
		body+body+"file.txt\nserved.tar\na.txt\n")

	bad := "sha256:" + strings.Repeat("0", 64)
	r = e.buildFail(fmt.Sprintf("FROM busybox\nADD --checksum=%s %s/file.txt /checked\n", bad, srv.URL), "-t", "bad", "--allow-private-network")
	testbin.WantContains(t, "checksum mismatch", r.Stderr, "Dockerfile:2", bad)
}
