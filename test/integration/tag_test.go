package integration

import (
	"slices"
	"strings"
	"testing"
)

func TestTag(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	id := s.importTar(rootfs(t, "tag", 10), "src:1")
	for _, tc := range []struct{ source, target string }{
		{"src:1", "byname"},
		{"src", "nolatest"}, // src means src:latest, which does not exist
		{short(id), "byshort:2"},
		{id, "byfull:3"},
		{strings.TrimPrefix(id, "sha256:"), "byhex:4"},
		{id[:10], "byprefix:5"}, // "sha256:" and three hex digits, as Docker's ID search allows
		{"src:1", "localhost:5000/team/app:v1.2"},
		{"src:1", "docker.io/library/full:x"},
		{"src:1", "registry.example.com/a/b/c:latest"},
	} {
		r := s.run("tag", tc.source, tc.target)
		switch tc.target {
		case "nolatest":
			if r.Code != 1 || r.Stderr != "Error: No such image: src:latest\n" {
				t.Fatalf("tag %s: %s", tc.source, r)
			}
		default:
			if r.Code != 0 || r.Stdout != "" || r.Stderr != "" {
				t.Fatalf("tag %s %s: %s", tc.source, tc.target, r)
			}
		}
	}
	got := s.ok("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	wantLines(t, "images", got,
		"byfull:3 "+short(id), "byhex:4 "+short(id), "byname:latest "+short(id), "byprefix:5 "+short(id), "byshort:2 "+short(id),
		"full:x "+short(id), "localhost:5000/team/app:v1.2 "+short(id),
		"registry.example.com/a/b/c:latest "+short(id), "src:1 "+short(id))
	var repoTags []string
	jsonOf(t, s.ok("inspect", "--format", "{{json .RepoTags}}", "full:x"), &repoTags)
	slices.Sort(repoTags)
	if want := []string{"byfull:3", "byhex:4", "byname:latest", "byprefix:5", "byshort:2", "full:x",
		"localhost:5000/team/app:v1.2", "registry.example.com/a/b/c:latest", "src:1"}; !slices.Equal(repoTags, want) {
		t.Fatalf("RepoTags %q, want %q", repoTags, want)
	}
	// Tagging again with the same name is a no-op.
	s.ok("tag", "src:1", "byname")
	wantLines(t, "images -q", s.ok("images", "-q"), short(id))
}

func TestTagMovesName(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	a := s.importTar(rootfs(t, "a", 10), "app:latest")
	b := s.importTar(rootfs(t, "b", 10), "app:next")
	s.ok("tag", "app:next", "app")
	got := s.ok("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	wantLines(t, "images", got, "app:latest "+short(b), "app:next "+short(b), "<none>:<none> "+short(a))
	wantLines(t, "dangling", s.ok("images", "-q", "--no-trunc", "-f", "dangling=true"), a)
	wantLines(t, "resolve", s.ok("inspect", "-f", "{{.Id}}", "app"), b)
}

func TestTagErrors(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.importTar(rootfs(t, "e", 10), "src:1")
	r := s.fail(1, "tag", "nosuch", "x")
	wantLines(t, "missing source", r.Stderr, "Error: No such image: nosuch:latest")
	r = s.fail(1, "tag", "nosuch:2", "x")
	wantLines(t, "missing source tag", r.Stderr, "Error: No such image: nosuch:2")
	r = s.fail(1, "tag", "0123456789ab", "x")
	wantLines(t, "missing ID", r.Stderr, "Error: No such image: 0123456789ab")
	for _, bad := range []string{"UPPER", "bad:tag:twice", "_leading", "a/b:", "x@sha256:" + strings.Repeat("a", 64), "spa ce", ""} {
		r := s.fail(1, "tag", "src:1", bad)
		wantContains(t, "target "+bad, r.Stderr, "Error: ")
	}
	r = s.fail(1, "tag", "src:1")
	wantLines(t, "one argument", r.Stderr, `"strata tag" requires exactly 2 arguments.`, "See 'strata tag --help'.", "",
		"Usage:  strata tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
	s.fail(1, "tag", "a", "b", "c")
	wantLines(t, "names untouched", s.ok("images", "--format", "{{.Repository}}:{{.Tag}}"), "src:1")
}
