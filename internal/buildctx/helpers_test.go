package buildctx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeTree makes files below dir: "path" -> content; a path ending in "/"
// is a directory; content starting with "->" makes a symlink to the rest.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// settle waits out the racy window, so that the hash cache trusts files
// written just before.
func settle() { time.Sleep(racyWindow + 5*time.Millisecond) }

func openCtx(t testing.TB, dir string) *Context {
	t.Helper()
	c, err := Open(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustSum(t testing.TB, c *Context, srcs ...string) Sum {
	t.Helper()
	s, err := c.Checksum(srcs)
	if err != nil {
		t.Fatalf("Checksum(%q): %v", srcs, err)
	}
	return s
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
