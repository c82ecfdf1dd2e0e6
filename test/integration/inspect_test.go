package integration

import (
	"bytes"
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// topKeys returns the keys of each object of a JSON array, in order.
func topKeys(t *testing.T, out string) [][]string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var all [][]string
	tok := func() json.Token {
		tk, err := dec.Token()
		if err != nil {
			t.Fatalf("inspect output %q: %v", out, err)
		}
		return tk
	}
	if d, ok := tok().(json.Delim); !ok || d != '[' {
		t.Fatalf("inspect output is not an array: %q", out)
	}
	for dec.More() {
		if d, ok := tok().(json.Delim); !ok || d != '{' {
			t.Fatalf("array element is not an object: %q", out)
		}
		var keys []string
		for dec.More() {
			keys = append(keys, tok().(string))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		tok()
		all = append(all, keys)
	}
	return all
}

type inspectView struct {
	Id, Parent, Comment, Created, Author, Architecture, Os string
	RepoTags, RepoDigests                                  []string
	Size                                                   int64
	Config                                                 struct {
		Env    []string
		Cmd    []string
		Labels map[string]string
	}
	RootFS struct {
		Type   string
		Layers []string
	}
	Metadata struct{ LastTagTime string }
}

func TestInspect(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	spec, times, _ := historyImage(t)
	spec.labels = map[string]string{"org.example": "yes"}
	s.load(dockerArchive(t, spec))
	id := sha(spec.config())
	imp := s.importTar(rootfs(t, "imp", 10), "imp:1", "-m", "a comment")

	out := s.ok("inspect", "hist:1", imp)
	if !strings.HasPrefix(out, "[\n    {\n        \"Id\": \""+id+"\",\n") || !strings.HasSuffix(out, "\n    }\n]\n") {
		t.Fatalf("inspect is not Docker's indented array:\n%s", out)
	}
	wantKeys := []string{"Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "DockerVersion", "Author",
		"Config", "Architecture", "Os", "Size", "GraphDriver", "RootFS", "Metadata"}
	for i, keys := range topKeys(t, out) {
		keys = slices.DeleteFunc(keys, func(k string) bool { return k == "Variant" || k == "OsVersion" })
		if !slices.Equal(keys, wantKeys) {
			t.Fatalf("object %d keys %q, want %q", i, keys, wantKeys)
		}
	}
	var views []inspectView
	jsonOf(t, out, &views)
	if len(views) != 2 {
		t.Fatalf("%d objects", len(views))
	}
	v := views[0]
	if v.Id != id || !slices.Equal(v.RepoTags, []string{"hist:1"}) || v.RepoDigests == nil || len(v.RepoDigests) != 0 ||
		v.Parent != "" || v.Author != "someone" || v.Architecture != runtime.GOARCH || v.Os != "linux" {
		t.Fatalf("view %+v", v)
	}
	if created, err := time.Parse(time.RFC3339Nano, v.Created); err != nil || !created.Equal(times[3]) {
		t.Fatalf("Created %q, want %v", v.Created, times[3])
	}
	if v.Size != int64(len(spec.layers[0])+len(spec.layers[1])) {
		t.Fatalf("Size %d", v.Size)
	}
	if v.RootFS.Type != "layers" || !slices.Equal(v.RootFS.Layers, []string{sha(spec.layers[0]), sha(spec.layers[1])}) {
		t.Fatalf("RootFS %+v", v.RootFS)
	}
	if !slices.Equal(v.Config.Cmd, []string{"/bin/sh"}) || v.Config.Labels["org.example"] != "yes" {
		t.Fatalf("Config %+v", v.Config)
	}
	if _, err := time.Parse(time.RFC3339Nano, v.Metadata.LastTagTime); err != nil {
		t.Fatalf("LastTagTime %q", v.Metadata.LastTagTime)
	}
	if views[1].Id != imp || views[1].Comment != "a comment" || !slices.Equal(views[1].RepoTags, []string{"imp:1"}) {
		t.Fatalf("imported view %+v", views[1])
	}

	for _, name := range []string{"hist:1", "hist", "docker.io/library/hist:1", short(id), id, strings.TrimPrefix(id, "sha256:")} {
		if name == "hist" {
			s.fail(1, "image", "inspect", name) // hist means hist:latest
			continue
		}
		wantLines(t, "by "+name, s.ok("image", "inspect", "--format", "{{.Id}}", name), id)
	}
	wantLines(t, "format", s.ok("inspect", "-f", "{{.Os}}/{{.Architecture}} {{len .RootFS.Layers}} {{json .Config.Labels}} {{.Size}}", "hist:1"),
		"linux/"+runtime.GOARCH+" 2 {\"org.example\":\"yes\"} "+jsonNumber(v.Size))
	wantLines(t, "format per image", s.ok("inspect", "-f", "{{.Id}}", "hist:1", "imp:1"), id, imp)
	wantLines(t, "--type image", s.ok("inspect", "--type", "image", "-f", "{{.Id}}", "hist:1"), id)
	r := s.fail(1, "inspect", "--type", "volume", "hist:1")
	wantLines(t, "--type volume", r.Stderr, `Error: "volume" is not a valid value for --type`)
}

// objectKeys returns the keys of one JSON object, in order.
func objectKeys(t *testing.T, line string) []string {
	t.Helper()
	keys := topKeys(t, "["+line+"]")
	if len(keys) != 1 {
		t.Fatalf("not one object: %q", line)
	}
	return keys[0]
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestInspectMissing(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	id := s.importTar(rootfs(t, "x", 10), "there:1")
	r := s.fail(1, "inspect", "nosuch", "there:1", "nosuch:2")
	var views []inspectView
	jsonOf(t, r.Stdout, &views)
	if len(views) != 1 || views[0].Id != id {
		t.Fatalf("found ones not printed: %s", r.Stdout)
	}
	// The top-level inspect looks for containers too: Docker's wording.
	wantLines(t, "stderr", r.Stderr, "Error: No such object: nosuch", "Error: No such object: nosuch:2")

	r = s.fail(1, "image", "inspect", "--format", "{{.Id}}", "there:1", "nosuch")
	wantLines(t, "format", r.Stdout, id)
	wantLines(t, "image inspect stderr", r.Stderr, "Error: No such image: nosuch:latest")
	r = s.fail(1, "inspect", "nosuch")
	wantLines(t, "none found", r.Stdout, "[]")
	r = s.fail(1, "inspect", "--format", "{{.Nope", "there:1")
	wantContains(t, "bad template", r.Stderr, "Error: template parsing error")
	if !bytes.Equal([]byte(r.Stdout), nil) {
		t.Fatalf("bad template printed %q", r.Stdout)
	}
	s.fail(1, "inspect")
}
