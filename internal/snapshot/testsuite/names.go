package testsuite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/snapshot"
)

// oddNames are keys and names that must work: ChainIDs, and anything that
// would be dangerous or invalid if it reached a path or a mount option.
var oddNames = []string{
	"sha256:" + strings.Repeat("0123456789abcdef", 4),
	"sha256:" + strings.Repeat("fedcba9876543210", 4),
	"with space",
	"../../etc/passwd",
	"/abs/path",
	"a/b/c",
	"ünï cödé ✓",
	`quote'"` + "`",
	"semi;colon|pipe&amp",
	"new\nline\ttab",
	"%s%d%%",
	"lowerdir=x:y,upperdir=z",
	"-dash",
	".",
	strings.Repeat("n", 1000),
}

// testOddNames builds a chain named with oddNames.
func testOddNames(t *testing.T, f *fixture) {
	parent := ""
	for i, name := range oddNames {
		f.layer(name, parent, map[string]string{fmt.Sprintf("f%02d", i): name})
		info, err := f.sn.Stat(f.ctx, name)
		if err != nil || info.Name != name || info.Parent != parent || info.Kind != snapshot.KindCommitted {
			t.Fatalf("Stat(%q) = %+v, %v", name, info, err)
		}
		parent = name
	}
	key := oddNames[3] + " active"
	mounts, err := f.sn.Prepare(f.ctx, key, parent)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := f.mount(mounts)
	for i, name := range oddNames {
		wantFile(t, dir, fmt.Sprintf("f%02d", i), name)
	}
	var walked []string
	err = f.sn.Walk(f.ctx, func(info snapshot.Info) error {
		walked = append(walked, info.Name)
		return nil
	})
	if err != nil || len(walked) != len(oddNames)+1 || walked[len(walked)-1] != key {
		t.Fatalf("Walk: %q, %v", walked, err)
	}
	for i, name := range oddNames {
		if walked[i] != name {
			t.Fatalf("Walk[%d] = %q, want %q", i, walked[i], name)
		}
	}
	if _, err := os.Stat(filepath.Join(f.root, "etc")); err == nil {
		t.Fatal("a snapshot name reached the filesystem")
	}
}

// testDeepChain stacks enough layers that an overlay's options exceed a
// page: 30 layers under a root with a 150 byte name. A driver that copies
// its parents gets a chain of 12: depth means nothing to it but time.
func testDeepChain(t *testing.T, f *fixture) {
	f = newFixtureAt(t, f.newFn, filepath.Join(f.root, strings.Repeat("r", 150)))
	depth := 30
	parent := ""
	for i := 0; i < depth; i++ {
		key := fmt.Sprintf("k%03d", i)
		mounts, err := f.sn.Prepare(f.ctx, key, parent)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 && !layered(mounts) {
			depth = 12
		}
		writeFiles(t, upperDir(t, mounts), map[string]string{fmt.Sprintf("layer%03d", i): key})
		name := fmt.Sprintf("sha256:%064d", i)
		if err := f.sn.Commit(f.ctx, name, key); err != nil {
			t.Fatal(err)
		}
		parent = name
	}
	mounts, err := f.sn.Prepare(f.ctx, "top", parent)
	if err != nil {
		t.Fatal(err)
	}
	if layered(mounts) {
		if n := len(strings.Join(mounts[0].Options, ",")); n <= os.Getpagesize() {
			t.Fatalf("overlay options are %d bytes: the chain is too shallow to test long options", n)
		}
	}
	dir, _ := f.mount(mounts)
	for i := 0; i < depth; i++ {
		wantFile(t, dir, fmt.Sprintf("layer%03d", i), fmt.Sprintf("k%03d", i))
	}
	if err := os.Remove(filepath.Join(dir, "layer000")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"top": "top"})
	wantFile(t, upperDir(t, mounts), "top", "top")

	view, err := f.sn.View(f.ctx, "view", parent)
	if err != nil {
		t.Fatal(err)
	}
	vdir, _ := f.mount(view)
	wantFile(t, vdir, "layer000", "k000")
	wantFile(t, vdir, fmt.Sprintf("layer%03d", depth-1), fmt.Sprintf("k%03d", depth-1))
}
