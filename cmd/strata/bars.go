package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/format"
	"github.com/strata-dev/strata/internal/transfer"
)

// transferProgress returns the progress callback of pull and push: on a
// terminal, Docker's live view (one line per layer with a bar while it
// moves, redrawn in place); otherwise one line per status change.
func transferProgress(w io.Writer, shown ...string) func(transfer.Event) {
	if f, ok := w.(*os.File); ok {
		if _, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			return (&bars{w: w}).event
		}
	}
	return lineProgress(w, shown...)
}

// bars draws one line per layer and redraws them all on each event.
type bars struct {
	mu    sync.Mutex
	w     io.Writer
	ids   []string
	lines map[string]string
	drawn int
}

func (b *bars) event(e transfer.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lines == nil {
		b.lines = map[string]string{}
	}
	if _, ok := b.lines[e.ID]; !ok {
		b.ids = append(b.ids, e.ID)
	}
	b.lines[e.ID] = e.ID + ": " + e.Status + bar(e)
	var out strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&out, "\x1b[%dA", b.drawn)
	}
	for _, id := range b.ids {
		out.WriteString("\x1b[2K" + b.lines[id] + "\n")
	}
	b.drawn = len(b.ids)
	_, _ = io.WriteString(b.w, out.String())
}

// bar is Docker's "[=====>     ]  12.3MB/45.6MB" for a moving layer.
func bar(e transfer.Event) string {
	if e.Current <= 0 || (e.Status != "Downloading" && e.Status != "Pushing") {
		return ""
	}
	if e.Total <= 0 {
		return "  " + format.HumanSizePrecise(e.Current)
	}
	const width = 50
	n := int(int64(width) * e.Current / e.Total)
	n = max(0, min(n, width))
	arrow := strings.Repeat("=", n)
	if n < width {
		arrow += ">" + strings.Repeat(" ", width-n-1)
	}
	return fmt.Sprintf(" [%s] %8s/%s", arrow, format.HumanSizePrecise(e.Current), format.HumanSizePrecise(e.Total))
}
