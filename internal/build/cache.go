package build

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/metadata"
)

// inputs are what a step's cache key is computed from; they are kept with
// the entry so that a later miss can say which of them changed.
type inputs struct {
	Parent  string            `json:"parent"`
	Step    string            `json:"step"`              // the instruction as expanded, flags included
	Args    map[string]string `json:"args,omitempty"`    // the build args RUN sees
	Sources digest.Digest     `json:"sources,omitempty"` // COPY/ADD: checksum of the sources
	From    string            `json:"from,omitempty"`    // base image ID, or --from stage key or image ID
	Files   map[string]string `json:"files,omitempty"`   // per-entry checksums (not in the key: Sources covers them)
}

// key is the cache key: a digest of every input but the file list.
func (in inputs) key() string {
	k := in
	k.Files = nil
	b, _ := json.Marshal(k)
	return digest.FromBytes(b).String()
}

// cache is the build cache in the metadata database.
type cache struct {
	meta    *metadata.DB
	noCache bool // --no-cache: never reuse (results are still recorded)
}

// lookup returns the state a previous build recorded for in.
func (c *cache) lookup(ctx context.Context, in inputs) (*state, bool, error) {
	if c.noCache {
		return nil, false, nil
	}
	key := in.key()
	e, err := c.meta.CacheEntry(ctx, key)
	if errdefs.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	// A corrupt entry is a miss, which the step's record then replaces.
	st, err := stateFromResult(e.Result, key)
	return st, err == nil, nil //nolint:nilerr // see above
}

// record stores st as the result of in. size is the bytes of the layer
// the step added (0 for none).
func (c *cache) record(ctx context.Context, in inputs, st *state, size int64) error {
	res, err := st.result()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	st.key = in.key()
	return c.meta.PutCacheEntry(ctx, metadata.CacheEntry{
		Key: st.key, Parent: in.Parent, Step: in.Step, Inputs: raw, Result: res, Size: size, Blobs: st.blobs(),
	})
}

// explain says why in missed: which input differs from the closest entry
// a previous build recorded after the same parent. parentMissed tells that
// the step before was rebuilt in this build.
func (c *cache) explain(ctx context.Context, in inputs, parentMissed bool) string {
	if c.noCache {
		return "--no-cache was given"
	}
	siblings, err := c.meta.CacheChildren(ctx, in.Parent, 50)
	if err != nil {
		return "cannot read the cache: " + err.Error()
	}
	if len(siblings) == 0 {
		if parentMissed {
			return "the step before it was rebuilt"
		}
		if why := c.baseChanged(ctx, in.Parent); why != "" {
			return why
		}
		return "no previous build ran this step on this parent"
	}
	best, diffs := closest(in, siblings)
	if best == nil {
		return "no previous build ran this step on this parent"
	}
	return strings.Join(diffs, "; ")
}

// baseChanged explains a miss right after FROM: the base image the name
// points to is not the one earlier builds used.
func (c *cache) baseChanged(ctx context.Context, parent string) string {
	e, err := c.meta.CacheEntry(ctx, parent)
	if err != nil || !strings.HasPrefix(e.Step, "FROM ") {
		return ""
	}
	var cur inputs
	if json.Unmarshal(e.Inputs, &cur) != nil {
		return ""
	}
	earlier, err := c.meta.CacheByStep(ctx, e.Step, 10)
	if err != nil {
		return ""
	}
	for _, o := range earlier {
		var old inputs
		if o.Key != parent && json.Unmarshal(o.Inputs, &old) == nil && old.From != cur.From {
			return fmt.Sprintf("base image %s changed: was %s, now %s", strings.TrimPrefix(e.Step, "FROM "), short(old.From), short(cur.From))
		}
	}
	return ""
}

// closest picks the sibling with the same instruction name that differs
// in the fewest inputs, and lists those differences.
func closest(in inputs, siblings []metadata.CacheEntry) (*inputs, []string) {
	var best *inputs
	var bestDiffs []string
	for _, e := range siblings {
		var old inputs
		if json.Unmarshal(e.Inputs, &old) != nil || instruction(old.Step) != instruction(in.Step) {
			continue
		}
		d := differences(old, in)
		if best == nil || len(d) < len(bestDiffs) {
			o := old
			best, bestDiffs = &o, d
		}
	}
	if best != nil && len(bestDiffs) == 0 {
		bestDiffs = []string{"the entry with the same inputs is gone (pruned?)"}
	}
	return best, bestDiffs
}

func instruction(step string) string {
	name, _, _ := strings.Cut(step, " ")
	return strings.ToUpper(name)
}

// differences names what changed from old to cur.
func differences(old, cur inputs) []string {
	var out []string
	if old.Step != cur.Step {
		out = append(out, fmt.Sprintf("instruction changed: was %q, now %q", old.Step, cur.Step))
	}
	if old.From != cur.From {
		out = append(out, fmt.Sprintf("source changed: was %s, now %s", short(old.From), short(cur.From)))
	}
	out = append(out, argChanges(old.Args, cur.Args)...)
	if old.Sources != cur.Sources {
		files := fileChanges(old.Files, cur.Files)
		if len(files) == 0 {
			files = []string{"source files changed"}
		}
		out = append(out, files...)
	}
	return out
}

func argChanges(old, cur map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(old, cur) {
		o, hadOld := old[k]
		n, hasNew := cur[k]
		switch {
		case hadOld && !hasNew:
			out = append(out, fmt.Sprintf("build arg %s removed (was %q)", k, o))
		case !hadOld && hasNew:
			out = append(out, fmt.Sprintf("build arg %s added (%q)", k, n))
		case o != n:
			out = append(out, fmt.Sprintf("build arg %s changed: %q -> %q", k, o, n))
		}
	}
	return out
}

// maxFileChanges bounds the files an explanation lists.
const maxFileChanges = 5

func fileChanges(old, cur map[string]string) []string {
	var out []string
	more := 0
	for _, p := range sortedKeys(old, cur) {
		o, hadOld := old[p]
		n, hasNew := cur[p]
		var msg string
		switch {
		case hadOld && !hasNew:
			msg = "file " + p + " removed"
		case !hadOld && hasNew:
			msg = "file " + p + " added"
		case o != n:
			msg = "file " + p + " changed"
		default:
			continue
		}
		if len(out) == maxFileChanges {
			more++
			continue
		}
		out = append(out, msg)
	}
	if more > 0 {
		out = append(out, fmt.Sprintf("and %d more files", more))
	}
	return out
}

// sortedKeys lists the keys of a and b (b may be nil) once each, in order.
func sortedKeys(a, b map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// short shortens a digest for messages.
func short(s string) string {
	if _, hex, ok := strings.Cut(s, ":"); ok && len(hex) > 12 {
		return hex[:12]
	}
	if s == "" {
		return "(none)"
	}
	return s
}
