package transfer

import (
	"context"
	"errors"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
)

// download streams one layer blob into the content store, hashing it as
// it is written, and returns its uncompressed size (see diffSize). The
// ingest is named by the digest, so a download cut short (a dropped
// connection, a killed process) resumes from the bytes already on disk.
func (p *Puller) download(ctx context.Context, src Source, d image.Descriptor, diffID digest.Digest) (int64, error) {
	w, err := p.Images.Content.Writer("pull-"+d.Digest.Encoded(), d.Digest.Algorithm())
	if err != nil {
		return 0, err
	}
	defer w.Close()
	offset := w.Offset()
	if offset >= d.Size && offset > 0 {
		if err := w.Truncate(0); err != nil {
			return 0, err
		}
		offset = 0
	}
	rc, _, err := src.FetchBlob(ctx, d.Digest, offset)
	if err != nil {
		return 0, err
	}
	body := &counter{r: rc, n: offset, report: func(n int64) {
		p.event(Event{ID: shortID(d.Digest), Status: "Downloading", Current: n, Total: d.Size})
	}}
	_, err = io.Copy(w, body)
	rc.Close()
	if err != nil {
		return 0, err // the ingest stays: the next pull resumes it
	}
	p.event(Event{ID: shortID(d.Digest), Status: "Download complete"})
	if _, err := w.Commit(d.Size, d.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		if errors.Is(err, errdefs.ErrCorrupt) || errdefs.IsInvalidArgument(err) {
			_ = w.Abort() // never resume from bytes that do not hash right
		}
		return 0, err
	}
	return p.diffSize(d, diffID)
}

// counter counts bytes read and reports every reportEvery bytes.
type counter struct {
	r      io.Reader
	n      int64
	last   int64
	report func(int64)
}

const reportEvery = 1 << 20

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n-c.last >= reportEvery || (err == io.EOF && c.n != c.last) {
		c.last = c.n
		c.report(c.n)
	}
	return n, err
}
