package integration

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// pruneOutput splits prune's stdout into the Deleted Images lines (sorted:
// their order follows no rule) and the reclaimed total.
func pruneOutput(t *testing.T, out, prompt string) (events []string, total string) {
	t.Helper()
	rest, ok := strings.CutPrefix(out, prompt)
	if !ok {
		t.Fatalf("prune output %q does not start with %q", out, prompt)
	}
	ls := lines(rest)
	if len(ls) == 0 {
		t.Fatalf("prune printed nothing after the prompt: %q", out)
	}
	total, ok = strings.CutPrefix(ls[len(ls)-1], "Total reclaimed space: ")
	if !ok {
		t.Fatalf("last line of %q", out)
	}
	if len(ls) > 1 {
		if ls[0] != "Deleted Images:" || ls[len(ls)-2] != "" {
			t.Fatalf("prune output framing: %q", out)
		}
		events = slices.Clone(ls[1 : len(ls)-2])
		slices.Sort(events)
	}
	return events, total
}

// pruneAndMeasure runs prune and checks that the reported total is what
// left <root>/content/blobs.
func (s *sandbox) pruneAndMeasure(stdin, prompt string, args ...string) []string {
	s.t.Helper()
	before := s.blobBytes()
	out := s.okIn(strings.NewReader(stdin), append([]string{"image", "prune"}, args...)...)
	events, total := pruneOutput(s.t, out, prompt)
	freed := before - s.blobBytes()
	if want := humanSize(freed, 4); total != want {
		s.t.Fatalf("prune %v reports %s reclaimed; %d bytes (%s) left the disk", args, total, freed, want)
	}
	return events
}

const danglingPrompt = "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "

func TestImagePruneDangling(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	la, lb := rootfs(t, "a", 30000), rootfs(t, "b", 20000)
	a := s.importTar(la, "app:1")
	b := s.importTar(lb, "app:1") // a is now dangling
	c := s.importTar(lb, "")      // dangling, shares b's layer
	// Declined: nothing happens.
	for _, answer := range []string{"n\n", "", "no\n", "yes please\n"} {
		out := s.okIn(strings.NewReader(answer), "image", "prune")
		wantLines(t, "declined", out+"\n", danglingPrompt)
	}
	wantLines(t, "still there", s.ok("images", "-q", "--no-trunc", "-a"), c, b, a)

	events := s.pruneAndMeasure("y\n", danglingPrompt)
	want := []string{"deleted: " + a, "deleted: " + c}
	slices.Sort(want)
	if !slices.Equal(events, want) {
		t.Fatalf("events %q, want %q", events, want)
	}
	wantLines(t, "images", s.ok("images", "-q", "--no-trunc", "-a"), b)
	wantLines(t, "b layer", s.ok("inspect", "-f", "{{index .RootFS.Layers 0}}", b), sha(lb))
	s.checkClean()
	// Nothing left to prune: only the total.
	wantLines(t, "prune again", s.ok("image", "prune", "-f"), "Total reclaimed space: 0B")
}

func TestImagePruneAllAndFilters(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	shared := rootfs(t, "shared", 40000)
	old := imgSpec{created: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), labels: map[string]string{"stage": "ci"},
		layers: [][]byte{shared}, tags: []string{"old:1"}}
	mid := imgSpec{created: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), labels: map[string]string{"stage": "prod"},
		layers: [][]byte{rootfs(t, "mid", 1000)}, tags: []string{"mid:1", "mid:2"}}
	s.load(dockerArchive(t, old, mid))
	oldID, midID := sha(old.config()), sha(mid.config())
	recent := s.importTar(shared, "recent:1") // shares old's layer
	allPrompt := "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] "

	// Without -a a tagged image is never pruned, whatever the filters.
	wantLines(t, "dangling only", s.ok("image", "prune", "-f", "--filter", "label=stage=ci"), "Total reclaimed space: 0B")
	wantLines(t, "dangling=true", s.ok("image", "prune", "-f", "--filter", "dangling=true"), "Total reclaimed space: 0B")

	events := s.pruneAndMeasure("", "", "-a", "-f", "--filter", "until=24h", "--filter", "label=stage=ci")
	wantLines(t, "until+label", strings.Join(events, "\n")+"\n", "deleted: "+oldID, "untagged: old:1")
	wantLines(t, "after", s.ok("images", "-q", "--no-trunc"), recent, midID)

	events = s.pruneAndMeasure("Y\n", allPrompt, "-a", "--filter", "label!=stage=prod")
	wantLines(t, "label!", strings.Join(events, "\n")+"\n", "deleted: "+recent, "untagged: recent:1")
	wantLines(t, "after label!", s.ok("images", "-q", "--no-trunc"), midID)

	events = s.pruneAndMeasure("", "", "-a", "-f", "--filter", "until=2020-06-01")
	if len(events) != 0 {
		t.Fatalf("until=2020-06-01 pruned %q", events)
	}
	// dangling=false is how the Docker CLI asks for -a.
	events = s.pruneAndMeasure("", "", "--filter", "dangling=false", "--force")
	wantLines(t, "all", strings.Join(events, "\n")+"\n", "deleted: "+midID, "untagged: mid:1", "untagged: mid:2")
	wantLines(t, "empty", s.ok("images", "-a", "-q"))
	if n := s.blobBytes(); n != 0 {
		t.Fatalf("%d bytes of blobs left after prune -a", n)
	}
	s.checkClean()

	for _, bad := range []string{"reference=x", "dangling=maybe", "until=notatime", "nonsense"} {
		r := s.fail(1, "image", "prune", "-f", "--filter", bad)
		wantContains(t, bad, r.Stderr, "Error: ")
	}
	r := s.fail(1, "image", "prune", "extra")
	wantContains(t, "argument", r.Stderr, `"strata image prune" requires exactly 0 arguments.`)
}
