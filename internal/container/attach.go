package container

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/strata-dev/strata/internal/errdefs"
)

// DefaultDetachKeys is Docker's ctrl-p ctrl-q.
var DefaultDetachKeys = []byte{16, 17}

// AttachOptions connect a terminal or pipes to a running container.
type AttachOptions struct {
	Stdin          io.Reader // nil: do not send input
	Stdout, Stderr io.Writer
	Resize         <-chan [2]uint16 // rows, cols
	DetachKeys     []byte           // with a terminal; nil: DefaultDetachKeys
	Tty            bool
}

// Attach streams a container's output (and input) until it stops for good
// or the user types the detach keys. It returns the exit code, or
// detached=true.
func (m *Manager) Attach(ctx context.Context, ref string, o AttachOptions) (code int, detached bool, err error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return 0, false, err
	}
	conn, err := dial(m.sockPath(c.ID), request{Op: opAttach, Stdin: o.Stdin != nil})
	if err != nil {
		return 0, false, errdefs.Newf(errdefs.ErrConflict, "You cannot attach to a stopped container, start it first")
	}
	defer conn.Close()
	var wmu sync.Mutex
	send := func(typ byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writeFrame(conn, typ, p)
	}
	detach := make(chan struct{})
	if o.Stdin != nil {
		keys := o.DetachKeys
		if keys == nil {
			keys = DefaultDetachKeys
		}
		if !o.Tty {
			keys = nil
		}
		go pumpStdin(o.Stdin, keys, send, detach)
	}
	if o.Resize != nil {
		go func() {
			for sz := range o.Resize {
				var p [4]byte
				binary.BigEndian.PutUint16(p[:2], sz[0])
				binary.BigEndian.PutUint16(p[2:], sz[1])
				if send(frameResize, p[:]) != nil {
					return
				}
			}
		}()
	}
	frames := make(chan error, 1)
	go func() { frames <- readOutput(bufio.NewReader(conn), o, &code) }()
	select {
	case err := <-frames:
		if err == nil {
			waitExit(ctx, c) // its teardown (and --rm) is done when run returns
		}
		return code, false, err
	case <-detach:
		return 0, true, nil
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
}

func readOutput(r io.Reader, o AttachOptions, code *int) error {
	buf := make([]byte, 32<<10)
	for {
		typ, p, err := readFrame(r, buf)
		if err != nil {
			return fmt.Errorf("lost the container's monitor: %w", err)
		}
		switch typ {
		case frameStdout:
			if o.Stdout != nil {
				_, _ = o.Stdout.Write(p)
			}
		case frameStderr:
			if o.Stderr != nil {
				_, _ = o.Stderr.Write(p)
			}
		case frameExit:
			if len(p) == 4 {
				*code = int(int32(binary.BigEndian.Uint32(p)))
			}
			return nil
		}
	}
}

// pumpStdin forwards input, watching for the detach sequence.
func pumpStdin(in io.Reader, keys []byte, send func(byte, []byte) error, detach chan<- struct{}) {
	buf := make([]byte, 32<<10)
	matched := 0
	for {
		n, err := in.Read(buf)
		if n > 0 {
			p := buf[:n]
			if len(keys) > 0 {
				if i := detachIndex(p, keys, &matched); i >= 0 {
					_ = send(frameStdin, p[:i])
					close(detach)
					return
				}
			}
			if send(frameStdin, p) != nil {
				return
			}
		}
		if err != nil {
			_ = send(frameCloseIn, nil)
			return
		}
	}
}

// detachIndex finds where the detach sequence ends in p (it may span
// reads: matched carries the progress), returning the index of the start
// of the part of the sequence in p, or -1.
func detachIndex(p, keys []byte, matched *int) int {
	for i, b := range p {
		if b == keys[*matched] {
			*matched++
			if *matched == len(keys) {
				return max(0, i+1-len(keys))
			}
			continue
		}
		*matched = 0
		if b == keys[0] {
			*matched = 1
		}
	}
	return -1
}
