package archive

import (
	"errors"
	"io"
)

var errReadAfterClose = errors.New("archive: read after close")

// Readahead geometry: raBuffers buffers of raChunk bytes circulate between
// the decoding goroutine and the reader, so at most raBuffers*raChunk bytes
// are decoded ahead of what the caller has read.
const (
	raChunk   = 256 << 10
	raBuffers = 4
)

// readahead decodes in its own goroutine, so that decompression overlaps
// with what consumes its output (sha256 and the tar reader): on two cores a
// gzip layer scans about as fast as it inflates. Only the goroutine touches
// the decoder until Close has waited for it to end.
type readahead struct {
	full   chan chunk
	free   chan []byte
	done   chan struct{}
	exited chan struct{}
	cur    chunk
	off    int
	err    error
}

type chunk struct {
	b   []byte
	err error
}

func newReadahead(r io.Reader) *readahead {
	ra := &readahead{
		full:   make(chan chunk, raBuffers),
		free:   make(chan []byte, raBuffers),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	for range raBuffers {
		ra.free <- make([]byte, raChunk)
	}
	go ra.fill(r)
	return ra
}

// fill runs in the goroutine: it fills free buffers and hands them over
// until r fails or ends, or Close is called.
func (ra *readahead) fill(r io.Reader) {
	defer close(ra.exited)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.done:
			return
		}
		n, err := readFull(r, buf)
		select {
		case ra.full <- chunk{b: buf[:n], err: err}:
		case <-ra.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// readFull fills buf unless r fails or ends first. Unlike io.ReadFull it
// returns r's error unchanged, and like bufio it gives up on a reader that
// keeps returning nothing.
func readFull(r io.Reader, buf []byte) (int, error) {
	n, empty := 0, 0
	var err error
	for n < len(buf) && err == nil {
		var m int
		m, err = r.Read(buf[n:])
		n += m
		if m > 0 {
			empty = 0
		} else if empty++; empty >= 100 && err == nil {
			err = io.ErrNoProgress
		}
	}
	return n, err
}

func (ra *readahead) Read(p []byte) (int, error) {
	select {
	case <-ra.done:
		return 0, errReadAfterClose
	default:
	}
	for ra.off == len(ra.cur.b) {
		if ra.err != nil {
			return 0, ra.err
		}
		if ra.cur.b != nil {
			ra.free <- ra.cur.b[:cap(ra.cur.b)]
		}
		ra.cur, ra.off = <-ra.full, 0
		ra.err = ra.cur.err
	}
	n := copy(p, ra.cur.b[ra.off:])
	ra.off += n
	return n, nil
}

// Close stops the goroutine and waits for it, so that the decoder and the
// source are no longer read once Close returns.
func (ra *readahead) Close() {
	select {
	case <-ra.done:
	default:
		close(ra.done)
	}
	<-ra.exited
}
