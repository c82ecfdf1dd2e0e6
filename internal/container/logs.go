package container

import (
	"bufio"
	"context"
	"path/filepath"

	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// LogEntry is one line of a container's log, in Docker's json-file format,
// so tools that read Docker's logs read strata's.
type LogEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// LogWriter appends entries to a container's log file. It is safe for the
// two copier goroutines (stdout, stderr) of one monitor.
type LogWriter struct {
	mu  sync.Mutex
	f   *os.File
	enc *json.Encoder
}

// OpenLog opens (appending) the log file at path.
func OpenLog(path string) (*LogWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open container log: %w", err)
	}
	return &LogWriter{f: f, enc: json.NewEncoder(f)}, nil
}

// Stream returns a writer that logs each line written to it under stream
// ("stdout" or "stderr"). Partial lines are kept until their newline or
// until Flush.
func (l *LogWriter) Stream(stream string) *LineLogger {
	return &LineLogger{log: l, stream: stream}
}

func (l *LogWriter) write(stream, line string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.enc.Encode(LogEntry{Log: line, Stream: stream, Time: time.Now().UTC()})
}

// Close closes the file.
func (l *LogWriter) Close() error { return l.f.Close() }

// LineLogger splits a byte stream into log lines.
type LineLogger struct {
	log     *LogWriter
	stream  string
	partial []byte
}

// Write logs every complete line in p.
func (w *LineLogger) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := indexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			if len(w.partial) >= 16<<10 { // Docker splits long lines at 16 KiB
				err := w.Flush()
				return n, err
			}
			return n, nil
		}
		w.partial = append(w.partial, p[:i+1]...)
		line := w.partial
		w.partial = w.partial[:0]
		if err := w.log.write(w.stream, string(line)); err != nil {
			return n, err
		}
		p = p[i+1:]
	}
	return n, nil
}

// Flush logs a pending partial line.
func (w *LineLogger) Flush() error {
	if len(w.partial) == 0 {
		return nil
	}
	line := string(w.partial)
	w.partial = w.partial[:0]
	return w.log.write(w.stream, line)
}

func indexByte(p []byte, c byte) int {
	for i, b := range p {
		if b == c {
			return i
		}
	}
	return -1
}

// LogOptions are the flags of `logs`.
type LogOptions struct {
	Follow     bool
	Timestamps bool
	Tail       int // -1: all
	Since      time.Time
	Stdout     io.Writer
	Stderr     io.Writer
}

// Logs prints a container's log; with Follow it keeps printing until the
// container stops for good.
func (m *Manager) Logs(ctx context.Context, ref string, o LogOptions) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(m.dir(c.ID), "container.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var entries []LogEntry
	partial, err := readLines(r, nil, func(e LogEntry) { entries = append(entries, e) })
	if err != nil {
		return err
	}
	if o.Tail >= 0 && len(entries) > o.Tail {
		entries = entries[len(entries)-o.Tail:]
	}
	for _, e := range entries {
		printEntry(e, o)
	}
	for o.Follow {
		cur, err := m.Meta.GetContainer(ctx, c.ID)
		done := err != nil || !alive(cur)
		if partial, err = readLines(r, partial, func(e LogEntry) { printEntry(e, o) }); err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// readLines decodes the complete lines available from r, carrying an
// unfinished last line over to the next call.
func readLines(r *bufio.Reader, partial []byte, fn func(LogEntry)) ([]byte, error) {
	for {
		line, err := r.ReadBytes('\n')
		partial = append(partial, line...)
		if err == io.EOF {
			return partial, nil
		}
		if err != nil {
			return partial, err
		}
		var e LogEntry
		if json.Unmarshal(partial, &e) == nil {
			fn(e)
		}
		partial = partial[:0]
	}
}

func printEntry(e LogEntry, o LogOptions) {
	if !o.Since.IsZero() && e.Time.Before(o.Since) {
		return
	}
	w := o.Stdout
	if e.Stream == "stderr" {
		w = o.Stderr
	}
	if o.Timestamps {
		fmt.Fprintf(w, "%s %s", e.Time.Format(time.RFC3339Nano), e.Log)
		return
	}
	_, _ = io.WriteString(w, e.Log)
}
