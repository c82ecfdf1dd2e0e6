package integration

import (
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	for _, tc := range []struct {
		args []string
		code int
		want []string // stderr, exactly
	}{
		{[]string{"images", "--nope"}, 125, []string{"unknown flag: --nope", "See 'strata images --help'."}},
		{[]string{"image", "ls", "-z"}, 125, []string{"unknown shorthand flag: 'z' in -z", "See 'strata image ls --help'."}},
		{[]string{"--nope", "images"}, 125, []string{"unknown flag: --nope", "See 'strata --help'."}},
		{[]string{"history", "-H=maybe", "x"}, 125, nil},
		{[]string{"inspect", "--format"}, 125, []string{"flag needs an argument: --format", "See 'strata inspect --help'."}},
		{[]string{"tag", "x"}, 1, []string{`"strata tag" requires exactly 2 arguments.`, "See 'strata tag --help'.", "",
			"Usage:  strata tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"}},
		{[]string{"image", "tag", "x", "y", "z"}, 1, []string{`"strata image tag" requires exactly 2 arguments.`, "See 'strata image tag --help'.", "",
			"Usage:  strata image tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"}},
		{[]string{"images", "a", "b"}, 1, nil},
		{[]string{"inspect"}, 1, nil},
		{[]string{"save"}, 1, nil},
		{[]string{"import"}, 1, nil},
		{[]string{"version", "x"}, 1, nil},
		{[]string{"--layer-size-limit", "lots", "images"}, 125, []string{`invalid argument "lots" for "--layer-size-limit" flag: invalid size "lots"`, "See 'strata images --help'."}},
		{[]string{"nosuchcommand"}, 1, []string{`Error: unknown command "nosuchcommand" for "strata"`}},
		{[]string{"image", "nosuch"}, 1, []string{`Error: unknown command "nosuch" for "strata image"`}},
	} {
		r := s.fail(tc.code, tc.args...)
		if tc.want != nil {
			wantLines(t, strings.Join(tc.args, " "), r.Stderr, tc.want...)
		} else if r.Stderr == "" {
			t.Fatalf("%v: no message", tc.args)
		}
		if r.Stdout != "" {
			t.Fatalf("%v: stdout %q", tc.args, r.Stdout)
		}
	}
	s.env = []string{"STRATA_LAYER_SIZE_LIMIT=lots"}
	r := s.fail(1, "images")
	wantLines(t, "bad env limit", r.Stderr, `Error: STRATA_LAYER_SIZE_LIMIT: invalid size "lots"`)
	s.env = nil
	// Tagging with a bad name says which name.
	s.importTar(rootfs(t, "u", 10), "src:1")
	r = s.fail(1, "tag", "src:1", "UPPER")
	wantLines(t, "bad target", r.Stderr,
		`Error: "UPPER" is not a valid repository/tag: invalid reference format: repository name (library/UPPER) must be lowercase`)
	r = s.fail(1, "tag", "src:1", "x@sha256:"+strings.Repeat("a", 64))
	wantLines(t, "digest target", r.Stderr, "Error: refusing to create a tag with a digest reference")
	// Help works and exits 0.
	wantContains(t, "help", s.ok("images", "--help"), "Usage:", "--filter")
	wantContains(t, "group help", s.ok("image"), "Usage:", "Available Commands:")
}

// TestBusyboxWorkflow is the demo's path on a real root filesystem:
// import a gzipped busybox rootfs, tag, list, inspect, save, remove, load.
func TestBusyboxWorkflow(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	rootfsTar := busyboxRootfs(t)
	path := s.write("busybox.tar.gz", gzipBytes(t, rootfsTar))
	id := strings.TrimSpace(s.ok("import", "-c", `CMD ["/bin/sh"]`, "-c", "ENV PATH=/bin", "-m", "busybox-static", path, "busybox:latest"))
	s.ok("tag", "busybox", "busybox:stable")
	s.ok("tag", short(id), "localhost:5000/demo/busybox:v1")
	size := humanSize(int64(len(rootfsTar)), 3)
	want := table([]string{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"},
		[]string{"busybox", "latest", short(id), "CREATED", size},
		[]string{"busybox", "stable", short(id), "CREATED", size},
		[]string{"localhost:5000/demo/busybox", "v1", short(id), "CREATED", size})
	// CREATED depends on the clock; the template prints the word instead.
	got := s.ok("images", "--format", `table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince}}CREATED{{end}}\t{{.Size}}`)
	wantLines(t, "images", got, lines(want)...)
	wantLines(t, "inspect", s.ok("image", "inspect", "--format", "{{.Os}} {{len .RootFS.Layers}} {{json .Config.Cmd}} {{json .Config.Env}}", "busybox"),
		`linux 1 ["/bin/sh"] ["PATH=/bin"]`)

	archive := s.write("busybox-image.tar", nil)
	s.ok("save", "-o", archive, "busybox:latest", "busybox:stable")
	wantLines(t, "rmi", s.ok("rmi", "-f", "busybox:latest", "busybox:stable", "localhost:5000/demo/busybox:v1"),
		"Untagged: busybox:latest", "Untagged: busybox:stable", "Untagged: localhost:5000/demo/busybox:v1", "Deleted: "+id)
	wantLines(t, "empty", s.ok("images", "-q"))
	wantLines(t, "load", s.ok("load", "-i", archive), "Loaded image: busybox:latest", "Loaded image: busybox:stable")
	wantLines(t, "same ID", s.ok("images", "-q", "--no-trunc"), id)
	s.checkClean()
}
