package progress

import (
	"bytes"
	"strconv"
	"time"
)

const (
	tailLines   = 10       // output lines a vertex keeps
	maxLineLen  = 32 << 10 // a longer line without a newline is cut here
	maxStatuses = 8        // sub-status lines a vertex keeps for the tty frame
)

type state int

const (
	running state = iota
	completed
	cached
	failed
)

// Vertex is one step of the build. All its methods are safe for concurrent
// use; its fields are guarded by the display's mutex.
type Vertex struct {
	d     *Display
	id    int
	name  string
	start time.Time
	end   time.Time
	state state

	partial []byte // output after the last line end
	afterCR bool   // the last byte consumed was '\r', so a leading '\n' is skipped

	tail     [tailLines]string // ring of the last output lines
	tailNext int               // index of the next slot to fill
	tailLen  int

	statuses []string
}

// Write takes the step's output. It is split into lines at '\n', '\r' or
// "\r\n"; an unfinished last line waits for the next Write or Done. Write
// never fails, and ignores output once the step has ended.
func (v *Vertex) Write(p []byte) (int, error) {
	v.d.mu.Lock()
	defer v.d.mu.Unlock()
	if v.state == running {
		v.feed(p)
	}
	return len(p), nil
}

// feed splits p into lines and emits each complete one. The caller holds d.mu.
func (v *Vertex) feed(p []byte) {
	for len(p) > 0 {
		if v.afterCR && p[0] == '\n' {
			p = p[1:]
		}
		v.afterCR = false
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			v.buffer(p)
			return
		}
		line := p[:i]
		if len(v.partial) > 0 {
			v.partial = append(v.partial, line...)
			line = v.partial
		}
		v.afterCR = p[i] == '\r'
		// A bare '\r' ending an empty line (as in "\r\r" or a progress bar
		// redrawn from column 0) carries nothing worth a line.
		if len(line) > 0 || !v.afterCR {
			v.emit(line)
		}
		v.partial = v.partial[:0]
		p = p[i+1:]
	}
}

// buffer keeps p, which holds no line end, as the start of the next line,
// emitting it in pieces of maxLineLen if it grows that long.
func (v *Vertex) buffer(p []byte) {
	for len(v.partial)+len(p) >= maxLineLen {
		n := maxLineLen - len(v.partial)
		v.partial = append(v.partial, p[:n]...)
		v.emit(v.partial)
		v.partial = v.partial[:0]
		p = p[n:]
	}
	v.partial = append(v.partial, p...)
}

// emit records one complete output line and prints it in plain mode. The
// caller holds d.mu; line may alias v.partial.
func (v *Vertex) emit(line []byte) {
	v.tail[v.tailNext] = string(line)
	v.tailNext = (v.tailNext + 1) % tailLines
	v.tailLen = min(v.tailLen+1, tailLines)
	if v.d.printsPlain() {
		v.d.writeLog(v.id, v.d.now().Sub(v.start), line)
	}
}

// flush emits the buffered unfinished line, if any. The caller holds d.mu.
func (v *Vertex) flush() {
	if len(v.partial) > 0 {
		v.emit(v.partial)
		v.partial = v.partial[:0]
	}
	v.partial = nil
}

// Cached marks the step as a cache hit and ends it (plain: "#N CACHED").
func (v *Vertex) Cached() {
	v.d.mu.Lock()
	defer v.d.mu.Unlock()
	if v.state != running {
		return
	}
	v.flush()
	v.state = cached
	v.end = v.d.now()
	if v.d.printsPlain() {
		v.d.writeLine(v.id, "CACHED")
	}
}

// Status reports a sub-status of the step, e.g. "writing image sha256:abc
// done" (plain: "#N text"). It is ignored once the step has ended.
func (v *Vertex) Status(text string) {
	v.d.mu.Lock()
	defer v.d.mu.Unlock()
	if v.state != running {
		return
	}
	if len(v.statuses) == maxStatuses {
		copy(v.statuses, v.statuses[1:])
		v.statuses = v.statuses[:maxStatuses-1]
	}
	v.statuses = append(v.statuses, text)
	if v.d.printsPlain() {
		v.d.writeLine(v.id, text)
	}
}

// Done ends the step: plain "#N DONE 1.2s" when err is nil, else
// "#N ERROR: <err>". Only the first Done or Cached counts.
func (v *Vertex) Done(err error) {
	v.d.mu.Lock()
	defer v.d.mu.Unlock()
	if v.state != running {
		return
	}
	v.flush()
	v.end = v.d.now()
	v.state = completed
	if err != nil {
		v.state = failed
	}
	if !v.d.printsPlain() {
		return
	}
	if err != nil {
		v.d.writeLine(v.id, "ERROR: "+err.Error())
		return
	}
	v.d.writeLine(v.id, "DONE "+strconv.FormatFloat(v.end.Sub(v.start).Seconds(), 'f', 1, 64)+"s")
}

// Tail returns the last (up to 10) output lines, oldest first, including an
// unfinished last line.
func (v *Vertex) Tail() []string {
	v.d.mu.Lock()
	defer v.d.mu.Unlock()
	return v.lastLines(tailLines)
}

// lastLines returns up to n of the last output lines, oldest first, counting
// an unfinished last line. The caller holds d.mu.
func (v *Vertex) lastLines(n int) []string {
	if n <= 0 {
		return nil
	}
	lines := make([]string, 0, min(n, v.tailLen+1))
	if len(v.partial) > 0 {
		n--
	}
	n = max(0, min(n, v.tailLen))
	for i := n; i > 0; i-- {
		lines = append(lines, v.tail[(v.tailNext-i+tailLines)%tailLines])
	}
	if len(v.partial) > 0 {
		lines = append(lines, string(v.partial))
	}
	return lines
}

// elapsed is the step's duration so far, or its final duration once ended.
// The caller holds d.mu.
func (v *Vertex) elapsed(now time.Time) time.Duration {
	if v.state == running {
		return now.Sub(v.start)
	}
	return v.end.Sub(v.start)
}
