package imagearchive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/imagestore"
)

// Bounds on what Load keeps in memory and tracks for one archive.
const (
	maxSmallFile  = 4 << 20  // one non-layer file: config, manifest, index, json
	maxSmallTotal = 64 << 20 // all non-layer files together
	maxEntries    = 1 << 16  // regular files and links
	maxLinkHops   = 40       // links followed to resolve one path
	headSize      = 512      // bytes peeked to tell a layer from a small file
)

// entry is one regular file of the archive.
type entry struct {
	name  string     // cleaned path in the archive
	data  []byte     // a small file kept in memory; nil for a streamed layer
	layer *layerBlob // a layer streamed into the content store
	err   error      // why the entry cannot be used: a refused layer, a wrong digest, ...
}

// reader collects the entries of one archive.
type reader struct {
	store   *imagestore.Store
	lim     archive.Limits
	files   map[string]*entry
	links   map[string]string // link path -> target, both cleaned archive paths
	pending []*layerBlob      // every ingest opened, to commit or abort
	memory  int64             // bytes of small files held
	count   int               // files and links seen
	head    [headSize]byte
	buf     []byte
}

func newReader(s *imagestore.Store, lim archive.Limits) *reader {
	return &reader{
		store: s,
		lim:   lim,
		files: map[string]*entry{},
		links: map[string]string{},
		buf:   make([]byte, copyBufferSize),
	}
}

// abortAll removes every ingest that was not committed.
func (rd *reader) abortAll() {
	for _, lb := range rd.pending {
		lb.abort()
	}
}

// read reads the whole archive stream, entry by entry.
func (rd *reader) read(ctx context.Context, r io.Reader) error {
	rc, _, err := archive.Decompress(r)
	if err != nil {
		return fmt.Errorf("read archive: %w", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	last := "at the start of the archive"
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) { // names are judged below
			return readError(err, last)
		}
		last = fmt.Sprintf("after entry %q", hdr.Name)
		if err := rd.entry(ctx, tr, hdr); err != nil {
			return err
		}
	}
	// Read to the end, so that a truncated or corrupt compressed stream is
	// noticed even when it breaks after the end-of-archive blocks.
	if _, err := io.CopyBuffer(io.Discard, rc, rd.buf); err != nil {
		return readError(err, "after the end of the tar")
	}
	return nil
}

// readError explains a failure to read the archive stream at where.
func readError(err error, where string) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errdefs.Newf(errdefs.ErrCorrupt, "archive is truncated %s", where)
	case errors.Is(err, tar.ErrHeader):
		return errdefs.Newf(errdefs.ErrInvalidArgument, "archive is not a valid tar %s: %v", where, err)
	}
	return fmt.Errorf("read archive %s: %w", where, err)
}

// entry handles one tar header.
func (rd *reader) entry(ctx context.Context, tr *tar.Reader, hdr *tar.Header) error {
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
	default:
		return nil // directories and anything else an image archive does not use
	}
	name, reason := cleanPath(hdr.Name, "path")
	if reason == "" && name == "." {
		reason = "not a file name"
	}
	if reason != "" {
		return entryError(hdr.Name, reason)
	}
	if rd.count++; rd.count > maxEntries {
		return errdefs.Newf(errdefs.ErrLimitExceeded, "archive has more than %d files", maxEntries)
	}
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		target, reason := path.Join(path.Dir(name), hdr.Linkname), ""
		if strings.HasPrefix(hdr.Linkname, "/") {
			reason = "symlink target is absolute"
		} else {
			target, reason = cleanPath(target, "symlink target")
		}
		if reason != "" {
			return entryError(hdr.Name, reason)
		}
		rd.setLink(name, target)
		return nil
	case tar.TypeLink:
		target, reason := cleanPath(hdr.Linkname, "hard link target")
		if reason != "" {
			return entryError(hdr.Name, reason)
		}
		rd.setLink(name, target)
		return nil
	}
	return rd.file(ctx, tr, hdr, name)
}

// cleanPath cleans an archive path, or says why it is refused; what names
// the path in the reason.
func cleanPath(name, what string) (string, string) {
	switch {
	case name == "":
		return "", "empty " + what
	case strings.IndexByte(name, 0) >= 0:
		return "", what + " contains a NUL byte"
	case strings.HasPrefix(name, "/"):
		return "", what + " is absolute"
	}
	p := path.Clean(name)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", what + " escapes the archive"
	}
	return p, ""
}

// entryError refuses an entry of the archive (not of a layer in it).
func entryError(name, reason string) error {
	return fmt.Errorf("archive %w", &archive.EntryError{Entry: name, Reason: reason})
}

// setLink records a symlink or hard link; a later entry of the same name
// replaces an earlier one, as extracting the archive would.
func (rd *reader) setLink(name, target string) {
	rd.drop(name)
	rd.links[name] = target
}

// drop forgets what the archive held at name so far.
func (rd *reader) drop(name string) {
	delete(rd.links, name)
	if e := rd.files[name]; e != nil {
		if e.layer != nil {
			e.layer.abort()
		}
		rd.memory -= int64(len(e.data))
		delete(rd.files, name)
	}
}

// file reads one regular file: a layer is streamed into the store, anything
// else is kept in memory.
func (rd *reader) file(ctx context.Context, tr *tar.Reader, hdr *tar.Header, name string) error {
	rd.drop(name)
	e := &entry{name: name}
	rd.files[name] = e
	head := rd.head[:min(hdr.Size, headSize)]
	if _, err := io.ReadFull(tr, head); err != nil {
		return readError(err, fmt.Sprintf("in entry %q", hdr.Name))
	}
	switch comp := archive.DetectCompression(head); {
	case comp == archive.Xz || comp == archive.Bzip2:
		e.err = unsupportedCompression(comp) // its data is skipped
		return nil
	case comp != archive.Uncompressed || archive.LooksLikeTar(head):
		return rd.streamLayer(ctx, e, io.MultiReader(bytes.NewReader(head), tr))
	}
	if hdr.Size > maxSmallFile {
		return errdefs.Newf(errdefs.ErrLimitExceeded,
			"archive entry %q: %d bytes is too large for a file that is not a layer (limit %d)", hdr.Name, hdr.Size, maxSmallFile)
	}
	if rd.memory+hdr.Size > maxSmallTotal {
		return errdefs.Newf(errdefs.ErrLimitExceeded,
			"archive entry %q: the files that are not layers exceed %d bytes together", hdr.Name, maxSmallTotal)
	}
	data := make([]byte, hdr.Size)
	copy(data, head)
	if _, err := io.ReadFull(tr, data[len(head):]); err != nil {
		return readError(err, fmt.Sprintf("in entry %q", hdr.Name))
	}
	rd.memory += hdr.Size
	e.data = data
	if d, ok := blobDigest(name); ok {
		if got := d.Algorithm().FromBytes(data); got != d {
			e.err = digestMismatch(got)
		}
	}
	return nil
}

func unsupportedCompression(c archive.Compression) error {
	return errdefs.Newf(errdefs.ErrUnsupported, "%s-compressed layers are not supported", c)
}

func digestMismatch(got digest.Digest) error {
	return errdefs.Newf(errdefs.ErrCorrupt, "content has digest %s, which does not match its name", got)
}

// blobDigest returns the digest an OCI blob path (blobs/<alg>/<encoded>)
// names, if name is one.
func blobDigest(name string) (digest.Digest, bool) {
	rest, ok := strings.CutPrefix(name, dirBlobs+"/")
	if !ok {
		return "", false
	}
	alg, enc, ok := strings.Cut(rest, "/")
	if !ok {
		return "", false
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(alg), enc)
	return d, d.Validate() == nil
}

// lookup finds the file at p, a path as a manifest names it, following
// symlinks and hard links (also through linked directories). It returns nil
// when there is no such file.
func (rd *reader) lookup(p string) *entry {
	p, reason := cleanPath(p, "path")
	if reason != "" {
		return nil
	}
	for hops := 0; hops <= maxLinkHops; hops++ {
		if e := rd.files[p]; e != nil {
			return e
		}
		next, ok := rd.followLink(p)
		if !ok {
			return nil
		}
		p = next
	}
	return nil
}

// followLink replaces the longest prefix of p that is a link by its target.
func (rd *reader) followLink(p string) (string, bool) {
	for i := len(p); i > 0; i = strings.LastIndexByte(p[:i], '/') {
		if t, ok := rd.links[p[:i]]; ok {
			return path.Join(t, p[i:]), true
		}
	}
	return "", false
}
