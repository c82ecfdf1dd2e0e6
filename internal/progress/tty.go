package progress

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	maxVertexLines  = 20 // vertex lines in a live frame before it is compacted
	maxSubLines     = 24 // status and log lines in a live frame
	liveTailLines   = 6  // log lines shown under a running vertex
	liveStatusLines = 3  // status lines shown under a running vertex

	logPrefix    = " => => # "
	statusPrefix = " => => "
	vertexPrefix = " => "
)

// render redraws the tty frame: it moves the cursor up over the previous
// frame, prints pending notices (which then stay above the frame) and the
// new frame, and clears whatever the old frame left below. final draws the
// closing frame: every vertex, with the output only of failed ones. The
// caller holds d.mu.
func (d *Display) render(final bool) {
	b := d.frame[:0]
	if d.lastHeight > 0 {
		b = append(b, "\x1b["...)
		b = strconv.AppendInt(b, int64(d.lastHeight), 10)
		b = append(b, 'A')
	}
	for _, n := range d.notices {
		for line := range strings.Lines(n) {
			b = appendClearedLine(b, sanitize(strings.TrimRight(line, "\r\n")))
		}
	}
	d.notices = d.notices[:0]
	lines := d.frameLines(final)
	for _, l := range lines {
		b = appendClearedLine(b, l)
	}
	b = append(b, "\x1b[J"...)
	d.lastHeight = len(lines)
	d.frame = b
	d.w.Write(b) //nolint:errcheck // progress output is best effort
}

func appendClearedLine(b []byte, line string) []byte {
	b = append(b, "\x1b[2K"...)
	b = append(b, line...)
	return append(b, '\n')
}

// frameLines returns the lines of one frame, without terminal controls.
func (d *Display) frameLines(final bool) []string {
	now := d.now()
	finished := 0
	for _, v := range d.vertices {
		if v.state != running {
			finished++
		}
	}
	header := "[+] Building " + seconds(now.Sub(d.start)) + " (" +
		strconv.Itoa(finished) + "/" + strconv.Itoa(len(d.vertices)) + ")"
	if final {
		header += " FINISHED"
	}
	lines := []string{header}

	shown := d.vertices
	if !final {
		shown = d.liveVertices()
	}
	sub := d.subLineBudget(shown)
	for _, v := range shown {
		lines = append(lines, d.vertexLine(v, now))
		switch {
		case final:
			for _, s := range v.statuses {
				lines = append(lines, d.fit(statusPrefix, s))
			}
			if v.state == failed {
				for _, l := range v.lastLines(tailLines) {
					lines = append(lines, d.fit(logPrefix, l))
				}
			}
		case v.state == running:
			statuses := v.statuses[len(v.statuses)-min(len(v.statuses), liveStatusLines, sub):]
			for _, s := range statuses {
				lines = append(lines, d.fit(statusPrefix, s))
			}
			for _, l := range v.lastLines(min(liveTailLines, sub-len(statuses))) {
				lines = append(lines, d.fit(logPrefix, l))
			}
		}
	}
	return lines
}

// liveVertices returns the vertices a live frame shows: all of them while
// they fit in maxVertexLines, else the running ones plus the most recently
// numbered finished ones, in vertex order.
func (d *Display) liveVertices() []*Vertex {
	if len(d.vertices) <= maxVertexLines {
		return d.vertices
	}
	var pick []*Vertex
	for _, v := range d.vertices {
		if v.state == running && len(pick) < maxVertexLines {
			pick = append(pick, v)
		}
	}
	room := maxVertexLines - len(pick)
	for i := len(d.vertices) - 1; i >= 0 && room > 0; i-- {
		if v := d.vertices[i]; v.state != running {
			pick = append(pick, v)
			room--
		}
	}
	slices.SortFunc(pick, func(a, b *Vertex) int { return a.id - b.id })
	return pick
}

// subLineBudget is how many status and log lines each running vertex of a
// live frame may show, so that the frame stays within the terminal.
func (d *Display) subLineBudget(shown []*Vertex) int {
	n := 0
	for _, v := range shown {
		if v.state == running {
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return maxSubLines / n
}

// vertexLine formats " => [2/4] RUN make        3.2s", padded or cut to
// the display width.
func (d *Display) vertexLine(v *Vertex, now time.Time) string {
	label := sanitize(v.name)
	switch v.state {
	case cached:
		label = "CACHED " + label
	case failed:
		label = "ERROR " + label
	}
	dur := seconds(v.elapsed(now))
	room := d.width - 1 - len(vertexPrefix) - 1 - len(dur)
	label = truncate(label, room)
	pad := room - utf8.RuneCountInString(label)
	return vertexPrefix + label + strings.Repeat(" ", pad) + " " + dur
}

// fit returns prefix+text cut to the display width.
func (d *Display) fit(prefix, text string) string {
	return prefix + truncate(sanitize(text), d.width-1-len(prefix))
}

// seconds formats d as BuildKit does: "3.2s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(max(d, 0).Seconds(), 'f', 1, 64) + "s"
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// sanitize makes s safe to print inside the frame: tabs become spaces,
// escape sequences (colours, cursor moves) and other control characters are
// dropped, so that output cannot break the redraw.
func sanitize(s string) string {
	if isPrintable(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0x1b:
			n = escapeLen(s[i:])
		case r == '\t':
			b.WriteString("    ")
		case isControl(r):
		case r == utf8.RuneError:
			b.WriteByte('?')
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func isPrintable(s string) bool {
	for _, r := range s {
		if isControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

func isControl(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r < 0xa0)
}

// escapeLen returns the length of the escape sequence at the start of s,
// which begins with ESC: a CSI sequence ("ESC [ ... final"), an OSC string
// ("ESC ] ... BEL" or "ESC ] ... ESC \\"), or ESC and one more character.
func escapeLen(s string) int {
	if len(s) < 2 {
		return len(s)
	}
	switch s[1] {
	case '[':
		for i := 2; i < len(s); i++ {
			if s[i] >= 0x40 && s[i] <= 0x7e {
				return i + 1
			}
		}
		return len(s)
	case ']':
		for i := 2; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return len(s)
	}
	return 2
}
