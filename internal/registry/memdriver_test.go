package registry

import (
	"bytes"
	"context"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/registry/storage"
	"github.com/strata-dev/strata/internal/registry/storage/storagetest"
)

// memDriver is an in-memory storage.Driver with the filesystem driver's
// committed/pending semantics, for fast tests and as a second backend the
// conformance suite runs on.
type memDriver struct {
	mu      sync.Mutex
	files   map[string]*memFile
	pending map[string][]byte
	locked  map[string]bool
}

type memFile struct {
	data []byte
	mod  time.Time
}

func newMemDriver() *memDriver {
	return &memDriver{files: map[string]*memFile{}, pending: map[string][]byte{}, locked: map[string]bool{}}
}

func TestMemDriverSuite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver { return newMemDriver() })
}

func notFound(p string) error { return errdefs.Newf(errdefs.ErrNotFound, "%s: not found", p) }

func (m *memDriver) GetContent(ctx context.Context, p string) ([]byte, error) {
	if err := storage.CheckPath(p); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[p]
	if !ok {
		return nil, notFound(p)
	}
	return bytes.Clone(f.data), nil
}

func (m *memDriver) PutContent(ctx context.Context, p string, data []byte) error {
	if err := storage.CheckPath(p); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[p] = &memFile{data: bytes.Clone(data), mod: time.Now()}
	return nil
}

func (m *memDriver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	data, err := m.GetContent(ctx, p)
	if err != nil {
		return nil, err
	}
	if offset < 0 || offset > int64(len(data)) {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "offset %d outside %s", offset, p)
	}
	return io.NopCloser(bytes.NewReader(data[offset:])), nil
}

func (m *memDriver) Writer(ctx context.Context, p string, appendTo bool) (storage.FileWriter, error) {
	if err := storage.CheckPath(p); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locked[p] {
		return nil, errdefs.Newf(errdefs.ErrUnavailable, "%s: another writer", p)
	}
	// Empty pending content is no pending content.
	switch {
	case !appendTo:
		m.pending[p] = []byte{}
	case len(m.pending[p]) == 0:
		if f, ok := m.files[p]; ok {
			m.pending[p] = bytes.Clone(f.data)
		} else {
			m.pending[p] = []byte{}
		}
	}
	m.locked[p] = true
	return &memWriter{m: m, p: p}, nil
}

type memWriter struct {
	m    *memDriver
	p    string
	done bool
}

func (w *memWriter) Write(b []byte) (int, error) {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if w.done {
		return 0, errdefs.Newf(errdefs.ErrInvalidArgument, "writer closed")
	}
	if _, ok := w.m.pending[w.p]; !ok {
		return 0, errdefs.Newf(errdefs.ErrConflict, "%s deleted under writer", w.p)
	}
	w.m.pending[w.p] = append(w.m.pending[w.p], b...)
	return len(b), nil
}

func (w *memWriter) Size() int64 {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	return int64(len(w.m.pending[w.p]))
}

func (w *memWriter) finish(f func()) error {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if w.done {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "writer closed")
	}
	w.done = true
	delete(w.m.locked, w.p)
	f()
	return nil
}

func (w *memWriter) Commit(ctx context.Context) error {
	var err error
	ferr := w.finish(func() {
		data, ok := w.m.pending[w.p]
		if !ok {
			err = errdefs.Newf(errdefs.ErrConflict, "%s deleted under writer", w.p)
			return
		}
		w.m.files[w.p] = &memFile{data: data, mod: time.Now()}
		delete(w.m.pending, w.p)
	})
	if ferr != nil {
		return ferr
	}
	return err
}

func (w *memWriter) Cancel(ctx context.Context) error {
	return w.finish(func() { delete(w.m.pending, w.p) })
}

func (w *memWriter) Close() error {
	if w.done {
		return nil
	}
	return w.finish(func() {
		if len(w.m.pending[w.p]) == 0 {
			delete(w.m.pending, w.p)
		}
	})
}

func (m *memDriver) Stat(ctx context.Context, p string) (storage.FileInfo, error) {
	if err := storage.CheckPath(p); err != nil {
		return storage.FileInfo{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.files[p]; ok {
		return storage.FileInfo{Path: p, Size: int64(len(f.data)), ModTime: f.mod}, nil
	}
	for k := range m.files {
		if strings.HasPrefix(k, p+"/") {
			return storage.FileInfo{Path: p, IsDir: true}, nil
		}
	}
	return storage.FileInfo{}, notFound(p)
}

func (m *memDriver) List(ctx context.Context, p string) ([]string, error) {
	if err := storage.CheckPath(p); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	for k := range m.files {
		if rest, ok := strings.CutPrefix(k, p+"/"); ok {
			child, _, _ := strings.Cut(rest, "/")
			seen[p+"/"+child] = true
		}
	}
	if len(seen) == 0 {
		return nil, notFound(p)
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

func (m *memDriver) Move(ctx context.Context, src, dest string) error {
	if err := storage.CheckPath(src); err != nil {
		return err
	}
	if err := storage.CheckPath(dest); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[src]
	if !ok {
		return notFound(src)
	}
	delete(m.files, src)
	m.files[dest] = f
	return nil
}

func (m *memDriver) Delete(ctx context.Context, p string) error {
	if err := storage.CheckPath(p); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	found := false
	for k := range m.files {
		if k == p || strings.HasPrefix(k, p+"/") {
			delete(m.files, k)
			found = true
		}
	}
	for k := range m.pending {
		if k == p || strings.HasPrefix(k, p+"/") {
			delete(m.pending, k)
			found = true
		}
	}
	if !found {
		return notFound(p)
	}
	return nil
}

// age moves a committed file's modification time back by d.
func (m *memDriver) age(p string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.files[p]; ok {
		f.mod = f.mod.Add(-d)
	}
}
