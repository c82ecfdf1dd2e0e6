package progress

import (
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
)

type mode int

const (
	modePlain mode = iota
	modeTTY
	modeQuiet
)

const (
	defaultWidth = 80
	minWidth     = 30
	tickInterval = 100 * time.Millisecond
)

// Display shows the progress of one build. Create it with New and end it
// with Close; after Close nothing more is written to its writer, although
// vertices still record their output for Tail.
type Display struct {
	w     io.Writer
	mode  mode
	width int
	now   func() time.Time
	start time.Time

	mu       sync.Mutex
	vertices []*Vertex
	closed   bool
	line     []byte // scratch buffer for one plain line, guarded by mu

	// tty state, guarded by mu.
	notices    []string // printed above the next frame, then forgotten
	lastHeight int      // lines of the frame currently on screen
	frame      []byte   // scratch buffer for one frame

	stop chan struct{} // closed by Close to end the ticker goroutine
	done chan struct{} // closed by the ticker goroutine when it returns
}

// New returns a display writing to w. mode is "auto", "plain", "tty" or
// "quiet"; "auto" means tty when isTTY, else plain. width is the terminal
// width for tty mode (0 means 80). In tty mode New starts a goroutine that
// redraws the frame every 100 ms until Close.
func New(w io.Writer, mode string, isTTY bool, width int) (*Display, error) {
	return newDisplay(w, mode, isTTY, width, time.Now, tickInterval)
}

// newDisplay is New with an injectable clock and redraw interval; tick 0
// starts no redraw goroutine (tests call render directly).
func newDisplay(w io.Writer, modeName string, isTTY bool, width int, now func() time.Time, tick time.Duration) (*Display, error) {
	m, err := parseMode(modeName, isTTY)
	if err != nil {
		return nil, err
	}
	if width <= 0 {
		width = defaultWidth
	}
	width = max(width, minWidth)
	d := &Display{w: w, mode: m, width: width, now: now, start: now()}
	if m == modeTTY && tick > 0 {
		d.stop = make(chan struct{})
		d.done = make(chan struct{})
		go d.tick(tick)
	}
	return d, nil
}

func parseMode(name string, isTTY bool) (mode, error) {
	switch name {
	case "auto":
		if isTTY {
			return modeTTY, nil
		}
		return modePlain, nil
	case "plain":
		return modePlain, nil
	case "tty":
		return modeTTY, nil
	case "quiet":
		return modeQuiet, nil
	}
	return 0, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid progress mode %q: use auto, plain, tty or quiet", name)
}

// tick redraws the frame until Close.
func (d *Display) tick(interval time.Duration) {
	defer close(d.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.mu.Lock()
			if !d.closed {
				d.render(false)
			}
			d.mu.Unlock()
		}
	}
}

// Vertex starts a step named name (e.g. "[2/5] RUN apt-get update") and
// returns it. Vertices are numbered #1, #2, ... in the order of the calls.
func (d *Display) Vertex(name string) *Vertex {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := &Vertex{d: d, id: len(d.vertices) + 1, name: name, start: d.now()}
	d.vertices = append(d.vertices, v)
	if d.printsPlain() {
		d.writeLine(v.id, name)
	}
	return v
}

// Notice prints a line that belongs to no vertex, such as a warning. In tty
// mode it appears above the live frame and stays there.
func (d *Display) Notice(msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	switch d.mode {
	case modePlain:
		d.line = append(d.line[:0], msg...)
		if len(msg) == 0 || msg[len(msg)-1] != '\n' {
			d.line = append(d.line, '\n')
		}
		d.w.Write(d.line) //nolint:errcheck // progress output is best effort
	case modeTTY:
		d.notices = append(d.notices, msg)
	}
}

// Close stops the live view (tty: draws the final frame) and flushes the
// writer if it has a Flush method. It is idempotent.
func (d *Display) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.mu.Unlock()

	if d.stop != nil {
		close(d.stop)
		<-d.done
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mode == modeTTY {
		d.render(true)
	}
	if f, ok := d.w.(interface{ Flush() error }); ok {
		f.Flush() //nolint:errcheck // progress output is best effort
	}
}

// printsPlain reports whether events are printed as plain lines now. The
// caller holds d.mu.
func (d *Display) printsPlain() bool {
	return d.mode == modePlain && !d.closed
}

// writeLine writes "#id text\n" in one Write call. The caller holds d.mu.
func (d *Display) writeLine(id int, text string) {
	b := d.line[:0]
	b = append(b, '#')
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, ' ')
	b = append(b, text...)
	b = append(b, '\n')
	d.line = b
	d.w.Write(b) //nolint:errcheck // progress output is best effort
}

// writeLog writes "#id 0.123 line\n" in one Write call, the time being
// seconds since the vertex started. The caller holds d.mu.
func (d *Display) writeLog(id int, since time.Duration, line []byte) {
	b := d.line[:0]
	b = append(b, '#')
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, since.Seconds(), 'f', 3, 64)
	b = append(b, ' ')
	b = append(b, line...)
	b = append(b, '\n')
	d.line = b
	d.w.Write(b) //nolint:errcheck // progress output is best effort
}
