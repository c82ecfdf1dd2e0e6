package integration

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// listFixture is a store with four images of known creation times:
//
//	old   2020-01-01  old:1, old:latest   labels stage=ci, maintainer=a
//	mid   2021-06-01  example.com/team/mid:2.0   label stage=prod
//	dang  2022-03-01  (was new:latest, now dangling)
//	new   2023-02-01  new:latest
type listFixture struct {
	s                   *sandbox
	old, mid, dang, new string // image IDs
	oldT, midT, newT    time.Time
	dangT               time.Time
	sizes               map[string]int64 // by ID: the layer tarball's length
}

func newListFixture(t *testing.T) *listFixture {
	t.Helper()
	f := &listFixture{s: newSandbox(t),
		oldT: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), midT: time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC),
		dangT: time.Date(2022, 3, 1, 0, 0, 0, 0, time.UTC), newT: time.Date(2023, 2, 1, 0, 0, 0, 0, time.UTC)}
	old := imgSpec{created: f.oldT, labels: map[string]string{"stage": "ci", "maintainer": "a"},
		layers: [][]byte{rootfs(t, "old", 1000)}, tags: []string{"old:1", "old:latest"}}
	mid := imgSpec{created: f.midT, labels: map[string]string{"stage": "prod"},
		layers: [][]byte{rootfs(t, "mid", 2000)}, tags: []string{"example.com/team/mid:2.0"}}
	dang := imgSpec{created: f.dangT, layers: [][]byte{rootfs(t, "dang", 3000)}, tags: []string{"new:latest"}}
	nw := imgSpec{created: f.newT, layers: [][]byte{rootfs(t, "new", 4000)}, tags: []string{"new:latest"}}
	f.old, f.mid, f.dang, f.new = sha(old.config()), sha(mid.config()), sha(dang.config()), sha(nw.config())
	f.sizes = map[string]int64{}
	for _, spec := range []imgSpec{old, mid, dang, nw} {
		f.sizes[sha(spec.config())] = int64(len(spec.layers[0]))
	}
	out := f.s.load(dockerArchive(t, old, mid, dang))
	wantLines(t, "load", out, "Loaded image: old:1", "Loaded image: old:latest",
		"Loaded image: example.com/team/mid:2.0", "Loaded image: new:latest")
	// Loading another image named new:latest leaves the first one dangling.
	out = f.s.load(dockerArchive(t, nw))
	wantLines(t, "load over a name", out,
		"The image new:latest already exists, renaming the old one with ID "+f.dang+" to empty string",
		"Loaded image: new:latest")
	return f
}

func TestImagesDefaultTable(t *testing.T) {
	t.Parallel()
	f := newListFixture(t)
	s := f.s
	// SIZE is the uncompressed layer tarball's: payload plus tar framing.
	size := func(id string) string { return humanSize(f.sizes[id], 3) }
	header := []string{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}
	want := table(header,
		[]string{"new", "latest", short(f.new), ago(f.newT), size(f.new)},
		[]string{"<none>", "<none>", short(f.dang), ago(f.dangT), size(f.dang)},
		[]string{"example.com/team/mid", "2.0", short(f.mid), ago(f.midT), size(f.mid)},
		[]string{"old", "1", short(f.old), ago(f.oldT), size(f.old)},
		[]string{"old", "latest", short(f.old), ago(f.oldT), size(f.old)},
	)
	for _, args := range [][]string{{"images"}, {"image", "ls"}, {"image", "list"}, {"images", "-a"}, {"images", "--format", "table"}} {
		wantLines(t, strings.Join(args, " "), s.ok(args...), lines(want)...)
	}

	// --no-trunc shows full IDs; --digests adds a DIGEST column, <none> for
	// images that came from an archive.
	got := s.ok("images", "--no-trunc", "--digests", "new")
	wantLines(t, "--no-trunc --digests", got, lines(table(
		[]string{"REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"},
		[]string{"new", "latest", "<none>", f.new, ago(f.newT), size(f.new)}))...)

	// -q: one short ID per image, --no-trunc full ones.
	wantLines(t, "-q", s.ok("images", "-q"), short(f.new), short(f.dang), short(f.mid), short(f.old))
	wantLines(t, "-q --no-trunc", s.ok("images", "-q", "--no-trunc"), f.new, f.dang, f.mid, f.old)
}

func TestImagesFilters(t *testing.T) {
	t.Parallel()
	f := newListFixture(t)
	s := f.s
	s.importTar(rootfs(t, "recent", 10), "recent:1") // created now
	row := "{{.Repository}}:{{.Tag}}"
	for _, tc := range []struct {
		filters []string
		want    []string
	}{
		{[]string{"dangling=true"}, []string{"<none>:<none>"}},
		{[]string{"dangling=false"}, []string{"recent:1", "new:latest", "example.com/team/mid:2.0", "old:1", "old:latest"}},
		{[]string{"before=example.com/team/mid:2.0"}, []string{"old:1", "old:latest"}},
		{[]string{"before=" + short(f.new)}, []string{"<none>:<none>", "example.com/team/mid:2.0", "old:1", "old:latest"}},
		{[]string{"since=example.com/team/mid:2.0"}, []string{"recent:1", "new:latest", "<none>:<none>"}},
		{[]string{"since=" + f.old, "before=" + f.dang}, []string{"example.com/team/mid:2.0"}},
		{[]string{"label=stage"}, []string{"example.com/team/mid:2.0", "old:1", "old:latest"}},
		{[]string{"label=stage=ci"}, []string{"old:1", "old:latest"}},
		{[]string{"label=stage=ci", "label=maintainer=a"}, []string{"old:1", "old:latest"}},
		{[]string{"label=stage=prod", "label=maintainer"}, nil},
		{[]string{"label=nosuch"}, nil},
		{[]string{"reference=*:latest"}, []string{"new:latest", "old:latest"}},
		{[]string{"reference=old"}, []string{"old:1", "old:latest"}},
		{[]string{"reference=old:1"}, []string{"old:1"}},
		{[]string{"reference=example.com/*/mid"}, []string{"example.com/team/mid:2.0"}},
		{[]string{"reference=*/mid"}, nil},
		{[]string{"reference=old:*", "reference=new"}, []string{"new:latest", "old:1", "old:latest"}},
		{[]string{"until=2021-12-31"}, []string{"example.com/team/mid:2.0", "old:1", "old:latest"}},
		{[]string{"until=2021-12-31T00:00:00Z"}, []string{"example.com/team/mid:2.0", "old:1", "old:latest"}},
		{[]string{"until=24h"}, []string{"new:latest", "<none>:<none>", "example.com/team/mid:2.0", "old:1", "old:latest"}},
		{[]string{"until=1609459200"}, []string{"old:1", "old:latest"}}, // 2021-01-01
		{[]string{"dangling=false", "label=stage", "until=2021-01-01"}, []string{"old:1", "old:latest"}},
	} {
		args := []string{"images", "--format", row}
		for _, fl := range tc.filters {
			args = append(args, "--filter", fl)
		}
		wantLines(t, strings.Join(tc.filters, " "), s.ok(args...), tc.want...)
	}
	// -f is --filter's short form; the positional argument is a reference filter.
	wantLines(t, "-f", s.ok("images", "-f", "dangling=true", "-q", "--no-trunc"), f.dang)
	wantLines(t, "positional", s.ok("images", "--format", row, "old"), "old:1", "old:latest")
	wantLines(t, "positional tag", s.ok("images", "--format", row, "recent:1"), "recent:1")
	wantLines(t, "positional no match", s.ok("images", "nosuch"), "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE")

	for _, bad := range []string{"nosuch=1", "dangling=maybe", "noequals", "before=nosuchimage", "until=yesterday"} {
		r := s.fail(1, "images", "--filter", bad)
		wantContains(t, bad, r.Stderr, "Error: ")
	}
	r := s.fail(1, "images", "--filter", "nosuch=1")
	wantLines(t, "invalid filter", r.Stderr, "Error: invalid filter 'nosuch'")
}

func TestImagesFormat(t *testing.T) {
	t.Parallel()
	f := newListFixture(t)
	s := f.s
	got := s.ok("images", "--format", "{{.ID}} {{.Repository}}:{{.Tag}} {{.Digest}}", "old")
	wantLines(t, "template", got, short(f.old)+" old:1 <none>", short(f.old)+" old:latest <none>")

	got = s.ok("images", "--format", `table {{.ID}}\t{{.Repository}}\t{{.Tag}}`, "--no-trunc", "old")
	wantLines(t, "table template", got, lines(table(
		[]string{"IMAGE ID", "REPOSITORY", "TAG"},
		[]string{f.old, "old", "1"},
		[]string{f.old, "old", "latest"}))...)

	// json and {{json .}} give the same objects, one per line, with Docker's
	// keys; every value is a string.
	for _, format := range []string{"json", "{{json .}}"} {
		out := lines(s.ok("images", "--format", format, "--filter", "dangling=true"))
		if len(out) != 1 {
			t.Fatalf("%s: %q", format, out)
		}
		var obj map[string]any
		jsonOf(t, out[0], &obj)
		want := map[string]any{"Containers": "N/A", "Digest": "<none>", "ID": short(f.dang), "Repository": "<none>",
			"Tag": "<none>", "SharedSize": "N/A", "UniqueSize": "N/A", "CreatedSince": ago(f.dangT),
			"Size": humanSize(f.sizes[f.dang], 3), "VirtualSize": humanSize(f.sizes[f.dang], 3)}
		for k, v := range want {
			if obj[k] != v {
				t.Errorf("%s: %s = %v, want %v", format, k, obj[k], v)
			}
		}
		// Docker's row contexts marshal their fields in name order.
		if got, want := objectKeys(t, out[0]), []string{"Containers", "CreatedAt", "CreatedSince", "Digest", "ID",
			"Repository", "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize"}; !slices.Equal(got, want) {
			t.Errorf("%s: keys %q, want %q", format, got, want)
		}
		if at, _ := obj["CreatedAt"].(string); !strings.HasPrefix(at, f.dangT.Local().Format("2006-01-02 15:04:05 -0700")) {
			t.Errorf("%s: CreatedAt %v", format, obj["CreatedAt"])
		}
	}
	// Docker's template functions.
	got = s.ok("images", "--format", `{{upper .Repository}} {{json .Tag}} {{join (split .Repository "/") "|"}}`, "example.com/team/mid")
	wantLines(t, "functions", got, `EXAMPLE.COM/TEAM/MID "2.0" example.com|team|mid`)

	r := s.fail(1, "images", "--format", "{{.Nope")
	wantContains(t, "bad template", r.Stderr, "Error: template parsing error")
	r = s.fail(1, "images", "--format", "{{.NoSuchField}}")
	wantContains(t, "bad field", r.Stderr, "Error: template parsing error")
}

// TestImagesIntermediate: an untagged parent of a named image is an
// intermediate image: hidden unless -a.
func TestImagesIntermediate(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	base := rootfs(t, "base", 100)
	parent := imgSpec{created: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), layers: [][]byte{base}}
	child := imgSpec{created: time.Date(2020, 2, 1, 0, 0, 0, 0, time.UTC), layers: [][]byte{base, rootfs(t, "top", 100)}, tags: []string{"child:1"}}
	files, items := dockerArchiveFiles(parent, child)
	items[1].Parent = sha(parent.config())
	s.load(archiveTar(t, append(files, archiveFile{"manifest.json", []byte(mustJSON(items))})...))
	pid, cid := sha(parent.config()), sha(child.config())
	wantLines(t, "parent", s.ok("inspect", "--format", "{{.Parent}}", "child:1"), pid)
	wantLines(t, "images", s.ok("images", "-q"), short(cid))
	wantLines(t, "images -a", s.ok("images", "-a", "-q"), short(cid), short(pid))
	wantLines(t, "dangling", s.ok("images", "-q", "--filter", "dangling=true"))
	wantLines(t, "dangling -a", s.ok("images", "-a", "-q", "--filter", "dangling=true"), short(pid))
	// The parent cannot go while its child is there.
	r := s.fail(1, "rmi", pid)
	wantLines(t, "rmi parent", r.Stderr, "Error: conflict: unable to delete "+short(pid)+" (cannot be forced) - image has dependent child images")
	// Removing the child prunes the untagged parent, unless --no-prune.
	wantLines(t, "rmi child", s.ok("rmi", "child:1"), "Untagged: child:1", "Deleted: "+cid, "Deleted: "+pid)
	s.checkClean()
}
