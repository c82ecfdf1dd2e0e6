package integration

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// ellipsis is Docker's formatter.Ellipsis for ASCII text.
func ellipsis(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max-1]) + "…"
}

// historyImage is a two-layer image whose config has four history
// entries, two of them empty_layer.
func historyImage(t *testing.T) (imgSpec, []time.Time, []string) {
	l1, l2 := rootfs(t, "h1", 5000), rootfs(t, "h2", 70000)
	times := []time.Time{
		time.Date(2020, 1, 1, 10, 0, 0, 0, time.UTC), time.Date(2020, 1, 2, 10, 0, 0, 0, time.UTC),
		time.Date(2020, 1, 3, 10, 0, 0, 0, time.UTC), time.Date(2020, 1, 4, 10, 0, 0, 0, time.UTC),
	}
	by := []string{
		"/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef in / ",
		`/bin/sh -c #(nop)  CMD ["sh"]`,
		"/bin/sh -c apt-get update && apt-get install -y some-rather-long-package-name",
		"/bin/sh -c #(nop)  ENV\tGREETING=hello",
	}
	spec := imgSpec{created: times[3], layers: [][]byte{l1, l2}, tags: []string{"hist:1"}, author: "someone",
		history: []histEntry{
			{Created: times[0].Format(time.RFC3339), CreatedBy: by[0]},
			{Created: times[1].Format(time.RFC3339), CreatedBy: by[1], EmptyLayer: true},
			{Created: times[2].Format(time.RFC3339), CreatedBy: by[2], Comment: "buildkit.dockerfile.v0"},
			{Created: times[3].Format(time.RFC3339), CreatedBy: by[3], EmptyLayer: true},
		}}
	return spec, times, by
}

func TestHistory(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	spec, times, by := historyImage(t)
	s.load(dockerArchive(t, spec))
	id := sha(spec.config())
	l1, l2 := int64(len(spec.layers[0])), int64(len(spec.layers[1]))
	tab := func(s string) string { return strings.ReplaceAll(s, "\t", " ") }

	want := table(
		[]string{"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"},
		[]string{short(id), ago(times[3]), ellipsis(tab(by[3]), 45), "0B", ""},
		[]string{"<missing>", ago(times[2]), ellipsis(by[2], 45), humanSize(l2, 3), "buildkit.dockerfile.v0"},
		[]string{"<missing>", ago(times[1]), ellipsis(by[1], 45), "0B", ""},
		[]string{"<missing>", ago(times[0]), ellipsis(by[0], 45), humanSize(l1, 3), ""},
	)
	for _, args := range [][]string{{"history", "hist:1"}, {"image", "history", "hist:1"}, {"history", short(id)}} {
		wantLines(t, strings.Join(args, " "), s.ok(args...), lines(want)...)
	}

	want = table(
		[]string{"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"},
		[]string{id, dockerTime(times[3]), tab(by[3]), "0", ""},
		[]string{"<missing>", dockerTime(times[2]), by[2], strconv.FormatInt(l2, 10), "buildkit.dockerfile.v0"},
		[]string{"<missing>", dockerTime(times[1]), by[1], "0", ""},
		[]string{"<missing>", dockerTime(times[0]), by[0], strconv.FormatInt(l1, 10), ""},
	)
	wantLines(t, "-H=false --no-trunc", s.ok("history", "-H=false", "--no-trunc", "hist:1"), lines(want)...)
	wantLines(t, "--human=false", s.ok("history", "--human=false", "--format", "{{.Size}}", "hist:1"),
		"0", strconv.FormatInt(l2, 10), "0", strconv.FormatInt(l1, 10))

	wantLines(t, "-q", s.ok("history", "-q", "hist:1"), short(id), "<missing>", "<missing>", "<missing>")
	wantLines(t, "-q --no-trunc", s.ok("history", "-q", "--no-trunc", "hist:1"), id, "<missing>", "<missing>", "<missing>")

	got := s.ok("history", "--format", "{{.ID}}|{{.CreatedAt}}|{{.Size}}|{{.Comment}}", "hist:1")
	wantLines(t, "--format", got,
		short(id)+"|"+dockerTime(times[3])+"|0B|",
		"<missing>|"+dockerTime(times[2])+"|"+humanSize(l2, 3)+"|buildkit.dockerfile.v0",
		"<missing>|"+dockerTime(times[1])+"|0B|",
		"<missing>|"+dockerTime(times[0])+"|"+humanSize(l1, 3)+"|")
	got = s.ok("history", "--format", `table {{.ID}}\t{{.Size}}`, "-H=false", "hist:1")
	wantLines(t, "table format", got, lines(table([]string{"IMAGE", "SIZE"}, []string{short(id), "0"},
		[]string{"<missing>", strconv.FormatInt(l2, 10)}, []string{"<missing>", "0"}, []string{"<missing>", strconv.FormatInt(l1, 10)}))...)
	got = s.ok("history", "--format", "json", "hist:1")
	var row map[string]any
	jsonOf(t, lines(got)[0], &row)
	if row["ID"] != short(id) || row["CreatedBy"] != ellipsis(tab(by[3]), 45) || row["Size"] != "0B" {
		t.Fatalf("json row %v", row)
	}
	if keys := objectKeys(t, lines(got)[0]); !slices.Equal(keys, []string{"Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"}) {
		t.Fatalf("json keys %q", keys)
	}

	r := s.fail(1, "history", "nosuch")
	wantLines(t, "missing", r.Stderr, "Error: No such image: nosuch:latest")
	s.fail(1, "history")
	s.fail(1, "history", "a", "b")
}

// TestHistoryImported: an imported image has one entry, its comment.
func TestHistoryImported(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	layer := rootfs(t, "imp", 4000)
	id := s.importTar(layer, "imp:1", "-m", "from a tarball")
	got := s.ok("history", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}", "imp:1")
	wantLines(t, "history", got, short(id)+"||"+humanSize(int64(len(layer)), 3)+"|from a tarball")
}
