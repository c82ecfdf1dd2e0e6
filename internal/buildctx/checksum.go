package buildctx

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Sum is the checksum of a COPY/ADD source set.
type Sum struct {
	// Digest covers, for every source entry: its path relative to the
	// context, type, permission bits (setuid, setgid, sticky included),
	// symlink target and, for a regular file, the sha256 of its content.
	// Not times, not owners.
	Digest digest.Digest
	// Files maps each entry's context-relative slash path (directories
	// included) to a digest of the same inputs for that entry alone.
	Files map[string]digest.Digest
}

// sumEntry is one entry of a source set.
type sumEntry struct {
	lrel string // path as the sources name it: the key of Sum.Files
	rel  string // resolved path below the root
	meta fileMeta
	link string
	sum  [32]byte // content digest of a regular file
}

// collector is the visitor that gathers a Checksum's entries.
type collector struct {
	c       *Context
	entries []sumEntry
	todo    []int // entries whose content must be read
}

func (col *collector) enter(n *node) error {
	e := sumEntry{lrel: n.lrel, rel: n.rel, meta: metaOf(&n.st), link: n.link}
	if n.st.Mode&unix.S_IFMT == unix.S_IFREG {
		var ok bool
		if e.sum, ok = col.c.cache.lookup(n.rel, e.meta); !ok {
			col.todo = append(col.todo, len(col.entries))
		}
	}
	col.entries = append(col.entries, e)
	return nil
}

func (col *collector) leave(*node) error { return nil }

// Checksum resolves srcs, COPY/ADD source arguments after variable
// expansion, relative to the context root ("." and "/" name the root,
// leading "/" and "./" are allowed, wildcards follow filepath.Match in each
// path component) and returns their Sum. Ignored entries are left out.
//
// A source that matches nothing (or only ignored entries) is
// errdefs.ErrNotFound; one that leaves the context through "..", or through
// a symlink pointing outside the context, is errdefs.ErrPermission. A
// source that is itself a symlink is followed; symlinks inside a source
// directory are entries, their targets hashed and never followed.
//
// Content digests come from the hash cache while a file's size, mtime,
// ctime, inode and mode are unchanged; other files are read, by
// runtime.NumCPU() workers.
func (c *Context) Checksum(srcs []string) (Sum, error) {
	rootfd, err := unix.Open(c.Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Sum{}, fmt.Errorf("open build context %s: %w", c.Dir, err)
	}
	defer unix.Close(rootfd)

	col := &collector{c: c, entries: make([]sumEntry, 0, c.sizeHint(srcs))}
	w := &walker{filt: c.filter(), v: col}
	for _, src := range srcs {
		r := &resolver{rootfd: rootfd, root: c.Dir, strict: true, src: src}
		pattern, err := r.cleanSource(src)
		if err != nil {
			return Sum{}, err
		}
		before := len(col.entries)
		n, err := r.expand(pattern, true, func(lrel, real string, st *unix.Stat_t) error {
			return w.walkTop(&node{dirfd: rootfd, name: real, rel: real, lrel: lrel, st: *st, out: -1})
		})
		if err != nil {
			return Sum{}, err
		}
		if len(col.entries) == before {
			return Sum{}, r.notFound(n > 0)
		}
	}
	if err := c.hashFiles(rootfd, col.entries, col.todo); err != nil {
		return Sum{}, err
	}
	return sumOf(col.entries), nil
}

// sizeHint guesses how many entries srcs give: the whole context holds
// about as many as the cache knows.
func (c *Context) sizeHint(srcs []string) int {
	for _, s := range srcs {
		if path.Clean(strings.TrimLeft(s, "/")) == "." {
			return c.cache.size() + 16
		}
	}
	return 16
}

// hashFiles reads the content digests of entries[todo] in parallel and
// records them in the cache.
func (c *Context) hashFiles(rootfd int, entries []sumEntry, todo []int) error {
	workers := min(runtime.NumCPU(), len(todo))
	if workers == 0 {
		return nil
	}
	jobs := make(chan int)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			h := sha256.New()
			for i := range jobs {
				if errs[w] == nil {
					errs[w] = c.hashFile(rootfd, &entries[i], buf, h)
				}
			}
		}()
	}
	for _, i := range todo {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// hashFile reads e's content into e.sum, taking its metadata from the open
// file, and stores the digest in the cache.
func (c *Context) hashFile(rootfd int, e *sumEntry, buf []byte, h hash.Hash) error {
	start := time.Now().UnixNano()
	fd, err := openBeneath(rootfd, e.rel, unix.O_RDONLY|unix.O_NONBLOCK) // a fifo swapped in must not block
	if err != nil {
		return fmt.Errorf("build context file %s: %w", e.rel, err)
	}
	f := os.NewFile(uintptr(fd), e.rel)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("build context file %s: %w", e.rel, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return errdefs.Newf(errdefs.ErrConflict, "build context file %s changed while it was read", e.rel)
	}
	h.Reset()
	for {
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read build context file %s: %w", e.rel, err)
		}
	}
	h.Sum(e.sum[:0])
	e.meta = metaOf(&st)
	c.cache.store(e.rel, e.meta, e.sum, start)
	c.hashed.Add(1)
	return nil
}

// sumOf sorts entries by path, drops repeats (overlapping sources) and
// digests them.
func sumOf(entries []sumEntry) Sum {
	byPath := func(a, b sumEntry) int { return strings.Compare(a.lrel, b.lrel) }
	if !slices.IsSortedFunc(entries, byPath) {
		slices.SortStableFunc(entries, byPath)
	}
	entries = slices.CompactFunc(entries, func(a, b sumEntry) bool { return a.lrel == b.lrel })
	files := make(map[string]digest.Digest, len(entries))
	total, h := sha256.New(), sha256.New()
	var d [32]byte
	var head [4]byte // NUL after the path, type, permission bits
	for i := range entries {
		e := &entries[i]
		h.Reset()
		_, _ = io.WriteString(h, e.lrel) // a hash.Hash never fails a write
		head[1] = typeByte(e.meta.mode)
		binary.BigEndian.PutUint16(head[2:], uint16(e.meta.mode&0o7777))
		h.Write(head[:])
		switch head[1] {
		case 'l':
			_, _ = io.WriteString(h, e.link) // a hash.Hash never fails a write
		case 'f':
			h.Write(e.sum[:])
		}
		h.Sum(d[:0])
		total.Write(d[:])
		files[e.lrel] = toDigest(d[:])
	}
	return Sum{Digest: toDigest(total.Sum(d[:0])), Files: files}
}

// typeByte names an entry's type in its digest.
func typeByte(mode uint32) byte {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return 'd'
	case unix.S_IFLNK:
		return 'l'
	case unix.S_IFIFO:
		return 'p'
	}
	return 'f'
}

func toDigest(sum []byte) digest.Digest {
	var b strings.Builder
	b.Grow(len("sha256:") + 2*len(sum))
	b.WriteString("sha256:")
	var hx [64]byte
	hex.Encode(hx[:], sum)
	b.Write(hx[:2*len(sum)])
	return digest.Digest(b.String())
}
