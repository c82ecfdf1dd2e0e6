package build

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// vertex is one step of plain progress output.
type vertex struct {
	name   string // "[2/4] COPY a /a", "[internal] load build definition ..."
	cached bool
	done   bool
	err    string   // the text after "ERROR: "
	logs   []string // output lines, without the timestamp
	misses []string // --explain-cache reasons
	other  []string
}

// instr is the vertex name without its "[stage i/n] " prefix.
func (v *vertex) instr() string {
	if strings.HasPrefix(v.name, "[") {
		if i := strings.Index(v.name, "] "); i > 0 {
			return v.name[i+2:]
		}
	}
	return v.name
}

// parsePlain reads --progress plain output: "#N name" opens vertex N, then
// "#N CACHED", "#N DONE 0.1s", "#N ERROR: msg", "#N cache miss: why" and
// "#N 0.123 line" follow. Vertices are returned in the order they opened.
func parsePlain(t *testing.T, out string) []*vertex {
	t.Helper()
	byID := map[string]*vertex{}
	var order []*vertex
	for _, line := range testbin.Lines(out) {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		id, rest, ok := strings.Cut(line[1:], " ")
		if !ok || id == "" || strings.Trim(id, "0123456789") != "" {
			continue
		}
		v := byID[id]
		if v == nil {
			v = &vertex{name: rest}
			byID[id] = v
			order = append(order, v)
			continue
		}
		switch {
		case rest == "CACHED":
			v.cached = true
		case strings.HasPrefix(rest, "DONE "):
			v.done = true
		case strings.HasPrefix(rest, "ERROR: "):
			v.err = strings.TrimPrefix(rest, "ERROR: ")
		case strings.HasPrefix(rest, "cache miss: "):
			v.misses = append(v.misses, strings.TrimPrefix(rest, "cache miss: "))
		default:
			ts, text, _ := strings.Cut(rest, " ")
			if strings.Trim(ts, "0123456789.") == "" && strings.Contains(ts, ".") {
				v.logs = append(v.logs, text)
			} else {
				v.other = append(v.other, rest)
			}
		}
	}
	return order
}

// steps returns the Dockerfile steps (vertices named "[... i/n] INSTR")
// of plain output, except FROM, in order.
func steps(t *testing.T, out string) []*vertex {
	t.Helper()
	var s []*vertex
	for _, v := range parsePlain(t, out) {
		if strings.HasPrefix(v.name, "[") && !strings.HasPrefix(v.name, "[internal]") && !strings.HasPrefix(v.instr(), "FROM ") {
			s = append(s, v)
		}
	}
	return s
}

// cacheReport is "C" (cached) or "-" (run) for every step, with the
// instruction, one per line, for readable comparisons.
func cacheReport(t *testing.T, out string) string {
	t.Helper()
	var b strings.Builder
	for _, v := range steps(t, out) {
		mark := "-"
		if v.cached {
			mark = "C"
		}
		fmt.Fprintf(&b, "%s %s\n", mark, v.instr())
	}
	return b.String()
}

// step returns the one step whose instruction starts with prefix.
func step(t *testing.T, out, prefix string) *vertex {
	t.Helper()
	var found *vertex
	for _, v := range steps(t, out) {
		if strings.HasPrefix(v.instr(), prefix) {
			if found != nil {
				t.Fatalf("two steps start with %q in\n%s", prefix, out)
			}
			found = v
		}
	}
	if found == nil {
		t.Fatalf("no step starts with %q in\n%s", prefix, out)
	}
	return found
}
