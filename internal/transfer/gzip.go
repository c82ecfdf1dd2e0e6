package transfer

import (
	"io"
	"os"
	"sync"

	"github.com/klauspost/pgzip"
	"golang.org/x/sys/unix"
)

// gzipStream is a layer gzip-compressed (pgzip, level 1) as it goes out.
// WriteTo compresses straight into the writer it is given (the HTTP
// connection), so no pipe copies the output between goroutines; Read,
// for readers that do not use WriteTo, falls back to such a pipe. A
// stream is read once, by one of the two.
type gzipStream struct {
	src    io.Reader
	n      int64 // compressed bytes written so far
	last   int64
	report func(int64)

	once sync.Once
	pr   *io.PipeReader
}

// copyBuf is the size of the reads from the layer file: large reads mean
// few system calls, and a pgzip block (1 MiB) fills at once.
const copyBuf = 1 << 20

func (g *gzipStream) WriteTo(w io.Writer) (int64, error) {
	zw, err := pgzip.NewWriterLevel(&gzipCounter{g: g, w: w}, pgzip.BestSpeed)
	if err == nil {
		err = zw.SetConcurrency(copyBuf, 4)
	}
	if err != nil {
		return 0, err
	}
	if err := g.copy(zw); err != nil {
		_ = zw.Close()
		return g.n, err
	}
	err = zw.Close()
	if g.n != g.last {
		g.last = g.n
		g.report(g.n)
	}
	return g.n, err
}

// copy feeds the layer to zw. A file (a content-store blob, which never
// changes in place) is mapped into memory, so its bytes go to the
// compressor without a read copying them first; other sources are read
// in large pieces.
func (g *gzipStream) copy(zw io.Writer) error {
	if f, ok := g.src.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
			data, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
			if err == nil {
				_ = unix.Madvise(data, unix.MADV_SEQUENTIAL)
				_, err = zw.Write(data)
				_ = unix.Munmap(data)
				return err
			}
		}
	}
	// Hide a file's own WriteTo, which would copy through 32 KiB.
	_, err := io.CopyBuffer(zw, struct{ io.Reader }{g.src}, make([]byte, copyBuf))
	return err
}

func (g *gzipStream) Read(p []byte) (int, error) {
	g.once.Do(func() {
		pr, pw := io.Pipe()
		go func() {
			_, err := g.WriteTo(pw)
			pw.CloseWithError(err)
		}()
		g.pr = pr
	})
	return g.pr.Read(p)
}

// Close stops a Read fallback's compressing goroutine, and any Read after.
func (g *gzipStream) Close() error {
	g.once.Do(func() { g.pr, _ = io.Pipe() })
	return g.pr.CloseWithError(io.ErrClosedPipe)
}

// gzipCounter counts the compressed bytes and reports progress every
// reportEvery bytes.
type gzipCounter struct {
	g *gzipStream
	w io.Writer
}

func (c *gzipCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	g := c.g
	g.n += int64(n)
	if g.n-g.last >= reportEvery {
		g.last = g.n
		g.report(g.n)
	}
	return n, err
}
