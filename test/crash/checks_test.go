package crash

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// checkReport is the parsed output of `strata system check`.
type checkReport struct {
	res      result
	problems []string // one line per problem: "KIND SUBJECT: DETAIL"
}

func (c checkReport) kinds() map[string]int {
	k := map[string]int{}
	for _, p := range c.problems {
		kind, _, _ := strings.Cut(p, " ")
		k[kind]++
	}
	return k
}

func (s *store) check(args ...string) checkReport {
	s.t.Helper()
	res := s.run(append([]string{"system", "check"}, args...)...)
	rep := checkReport{res: res}
	for _, line := range strings.Split(res.Stdout, "\n") {
		if line == "" || strings.HasPrefix(line, "checked ") || strings.HasPrefix(line, "run 'strata") {
			continue
		}
		rep.problems = append(rep.problems, line)
	}
	return rep
}

// requireClean fails unless `system check` exits 0 and reports nothing.
func (s *store) requireClean(when string) {
	s.t.Helper()
	if rep := s.check(); rep.res.Code != 0 || len(rep.problems) > 0 {
		s.t.Fatalf("%s: system check not clean:\n%s", when, rep.res)
	}
}

// checkAfterCrash runs `system check` on a store a kill -9 may have left
// behind. The contract (imagestore doc): images are never broken; the only
// leftovers are blobs no image references (written before the image row was
// committed) and ingest directories, which check does not report. So check
// exits 0, or 1 listing only unreferenced-blob problems.
func (s *store) checkAfterCrash(when string) checkReport {
	s.t.Helper()
	rep := s.check()
	switch rep.res.Code {
	case 0:
		if len(rep.problems) > 0 {
			s.t.Fatalf("%s: system check exits 0 but reports problems:\n%s", when, rep.res)
		}
	case 1:
		for kind := range rep.kinds() {
			if kind != "unreferenced-blob" {
				s.t.Fatalf("%s: system check finds more than a crash may leave:\n%s", when, rep.res)
			}
		}
		if len(rep.problems) == 0 {
			s.t.Fatalf("%s: system check exits 1 without naming a problem:\n%s", when, rep.res)
		}
	default:
		s.t.Fatalf("%s: system check failed:\n%s", when, rep.res)
	}
	return rep
}

// repair runs `system check --repair`, which must fix everything, and
// then requires a clean check and no leftover ingest.
func (s *store) repair(when string) {
	s.t.Helper()
	if rep := s.check("--repair"); rep.res.Code != 0 {
		s.t.Fatalf("%s: system check --repair:\n%s", when, rep.res)
	}
	s.requireClean(when + ", after --repair")
	if left := s.ingests(); len(left) > 0 {
		s.t.Fatalf("%s: --repair left ingests behind: %v", when, left)
	}
}

// ingests lists the ingest directories in the store (writes in flight or
// abandoned).
//
// An ingest directory with no lock file yet is left out: a process killed
// between creating the directory and its lock file leaves one, and the
// cleaner leaves those alone for a minute, because a live writer may be
// about to lock it. It holds no data.
func (s *store) ingests() []string {
	s.t.Helper()
	var out []string
	for _, name := range s.dirNames(filepath.Join("content", "ingest")) {
		if _, err := os.Stat(filepath.Join(s.root, "content", "ingest", name, "lock")); err == nil {
			out = append(out, name)
		}
	}
	return out
}

// blobs lists the committed blobs.
func (s *store) blobs() []string {
	s.t.Helper()
	return s.dirNames(filepath.Join("content", "blobs", "sha256"))
}

func (s *store) dirNames(rel string) []string {
	s.t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.root, rel))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		s.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// images is listImages that fails the test on error.
func (s *store) images() map[string][]string {
	s.t.Helper()
	imgs, err := listImages(s)
	if err != nil {
		s.t.Fatal(err)
	}
	return imgs
}

// layers returns the diff IDs inspect reports for image id.
func (s *store) layers(id string) []string {
	s.t.Helper()
	out := s.must("inspect", "--format", "{{json .RootFS.Layers}}", id)
	var l []string
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		s.t.Fatalf("inspect %s: %v: %q", id, err, out)
	}
	return l
}

// saveDiscard requires `strata save names...` to succeed, throwing the
// archive away.
func (s *store) saveDiscard(names ...string) {
	s.t.Helper()
	if res := s.runTo(io.Discard, append([]string{"save"}, names...)...); res.Code != 0 {
		s.t.Fatalf("%s", res)
	}
}

// removeAll deletes every image and prunes, leaving an empty, clean store.
func (s *store) removeAll(when string) {
	s.t.Helper()
	ids := strings.Fields(s.must("images", "-a", "-q", "--no-trunc"))
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > 0 {
		s.must(append([]string{"rmi", "-f"}, ids...)...)
	}
	s.must("image", "prune", "-f")
	if imgs := s.images(); len(imgs) > 0 {
		s.t.Fatalf("%s: images left after rmi -f of all: %v", when, imgs)
	}
	if b := s.blobs(); len(b) > 0 {
		s.t.Fatalf("%s: %d blobs left after rmi -f of all and image prune -f: %v", when, len(b), b)
	}
	if left := s.ingests(); len(left) > 0 {
		s.t.Fatalf("%s: ingests left after image prune -f: %v", when, left)
	}
	s.requireClean(when + ", after removing all")
}
