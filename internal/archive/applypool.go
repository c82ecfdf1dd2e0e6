package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// Small regular files (most of a layer's entries) are written by worker
// goroutines while the stream is read, hashed and checked on: creating,
// writing, chowning and closing files is system calls that overlap well.
// The order of the stream is kept where it matters:
//
//   - an entry whose path, or a parent of it, or a hard link target, is a
//     file still being written waits for the workers (a barrier), so two
//     entries for one path land in stream order;
//   - whiteouts, hard links and fifos always wait; so does anything that
//     would close a directory handle a worker may be using (root.drop);
//   - a worker that finds a directory or a symlink in the way hands the
//     file back; the main goroutine writes it at the next barrier, in
//     stream order, with the usual replacement.
const (
	asyncMaxSize = 128 << 10 // larger files stream on the main goroutine
	asyncQueue   = 32
)

// errHandBack is a worker's "write this one yourself".
var errHandBack = errors.New("replacement needs the main goroutine")

type fileJob struct {
	seq   int
	dirfd int
	name  string
	p     string // path below the root
	hdr   *tar.Header
	data  []byte
	buf   []byte // pooled buffer data lives in
}

type filePool struct {
	a        *applier
	jobs     chan *fileJob
	free     chan []byte
	bufs     int // buffers allocated
	workers  sync.WaitGroup
	pending  sync.WaitGroup
	inflight map[string]struct{} // paths of submitted jobs, until the next barrier
	seq      int

	mu     sync.Mutex
	err    error
	handed []*fileJob
}

func newFilePool(a *applier, workers int) *filePool {
	p := &filePool{
		a:        a,
		jobs:     make(chan *fileJob, asyncQueue),
		free:     make(chan []byte, asyncQueue+workers+1),
		inflight: make(map[string]struct{}),
	}
	for range workers {
		p.workers.Go(p.work)
	}
	return p
}

// close stops the workers once they have done or skipped every job.
func (p *filePool) close() {
	close(p.jobs)
	p.workers.Wait()
}

func (p *filePool) work() {
	for j := range p.jobs {
		p.mu.Lock()
		failed := p.err != nil
		p.mu.Unlock()
		var err error
		if !failed {
			err = p.a.writeSmall(j)
		}
		p.mu.Lock()
		switch {
		case errors.Is(err, errHandBack):
			p.handed = append(p.handed, j)
		case err != nil && p.err == nil:
			p.err = &writeError{entry: j.hdr.Name, err: err}
		}
		p.mu.Unlock()
		if !errors.Is(err, errHandBack) {
			p.free <- j.buf
		}
		p.pending.Done()
	}
}

// conflicts reports whether p or one of its parents is being written.
func (p *filePool) conflicts(full string) bool {
	if len(p.inflight) == 0 {
		return false
	}
	for q := range ancestors(full) {
		if _, ok := p.inflight[q]; ok {
			return true
		}
	}
	return false
}

// wait is the barrier: every submitted job is done, and the handed-back
// ones are written, in stream order. It returns the first error.
func (p *filePool) wait() error {
	p.pending.Wait()
	clear(p.inflight)
	handed := p.handed
	p.handed = nil
	slices.SortFunc(handed, func(x, y *fileJob) int { return x.seq - y.seq })
	for _, j := range handed {
		if p.err == nil {
			if err := p.a.file(j.dirfd, j.name, j.hdr, bytes.NewReader(j.data)); err != nil {
				p.err = &writeError{entry: j.hdr.Name, err: err}
			}
		}
		p.free <- j.buf
	}
	return p.err
}

// buffer returns a free buffer, allocating up to the pool's bound. When
// all are taken (some perhaps by handed-back files), it waits for the
// workers and writes those.
func (p *filePool) buffer() ([]byte, error) {
	select {
	case b := <-p.free:
		return b, nil
	default:
	}
	if p.bufs < cap(p.free) {
		p.bufs++
		return make([]byte, asyncMaxSize), nil
	}
	if err := p.wait(); err != nil {
		return nil, err
	}
	return <-p.free, nil
}

// submit reads the file's content and queues it.
func (p *filePool) submit(dirfd int, name, full string, hdr *tar.Header, data io.Reader) error {
	p.mu.Lock()
	err := p.err
	p.mu.Unlock()
	if err != nil {
		return err
	}
	buf, err := p.buffer()
	if err != nil {
		return err
	}
	if _, err := io.ReadFull(data, buf[:hdr.Size]); err != nil {
		p.free <- buf
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	p.seq++
	p.inflight[full] = struct{}{}
	p.pending.Add(1)
	p.jobs <- &fileJob{seq: p.seq, dirfd: dirfd, name: name, p: full, hdr: hdr, data: buf[:hdr.Size], buf: buf}
	return nil
}

// writeSmall is a.file for a worker: a name taken by anything but a
// directory or a symlink is unlinked (neither can invalidate a resolved
// directory); those two are handed back.
func (a *applier) writeSmall(j *fileJob) error {
	create := func() (int, error) {
		return unix.Openat(j.dirfd, j.name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|createFlags, 0o600)
	}
	fd, err := create()
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if err = unix.Fstatat(j.dirfd, j.name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
			if t := st.Mode & unix.S_IFMT; t == unix.S_IFDIR || t == unix.S_IFLNK {
				return errHandBack
			}
			if err = unix.Unlinkat(j.dirfd, j.name, 0); err == nil || errors.Is(err, unix.ENOENT) {
				fd, err = create()
			}
		}
	}
	if err != nil {
		return pathError("create", j.name, err)
	}
	f := os.NewFile(uintptr(fd), j.name)
	_, err = f.Write(j.data)
	if err == nil {
		err = a.setMeta(fd, j.hdr)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return a.setTimes(j.dirfd, j.name, j.hdr)
}

// needsBarrier reports whether the entry must wait for the workers.
func (a *applier) needsBarrier(hdr *tar.Header, full string) bool {
	switch hdr.Typeflag {
	case tar.TypeLink, tar.TypeFifo:
		return true
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeDir, tar.TypeSymlink:
	default:
		return true
	}
	if a.whiteouts && isWhiteoutName(path.Base(full)) {
		return true
	}
	return a.pool.conflicts(full)
}

func isWhiteoutName(name string) bool {
	return len(name) >= len(whiteoutPrefix) && name[:len(whiteoutPrefix)] == whiteoutPrefix
}

// async reports whether an entry is a small file for the workers.
func (a *applier) async(hdr *tar.Header) bool {
	return a.pool != nil && hdr.Typeflag == tar.TypeReg && !isSparse(hdr) && hdr.Size <= asyncMaxSize
}
