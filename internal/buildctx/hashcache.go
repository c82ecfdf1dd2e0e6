package buildctx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// racyWindow: a file whose ctime is this close to (or after) the moment its
// content was read may have changed in the same timestamp tick; its cached
// digest is not trusted. The kernel stamps times from a clock that may lag
// by a scheduler tick (up to 10 ms at HZ=100).
const racyWindow = 20 * time.Millisecond

const (
	cacheMagic   = "STRATAHC"
	cacheVersion = 1
	cacheHeader  = len(cacheMagic) + 4 + 4
	cacheFixed   = 8*4 + 4 + 8 + 32 // size, mtime, ctime, inode; mode; hashedAt; sum
)

// fileMeta is what must be unchanged for a cached digest to hold.
type fileMeta struct {
	size, mtime, ctime int64
	ino                uint64
	mode               uint32
}

func metaOf(st *unix.Stat_t) fileMeta {
	return fileMeta{
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
		ino:   st.Ino,
		mode:  st.Mode,
	}
}

type cacheEntry struct {
	path     string // below the context root
	meta     fileMeta
	hashedAt int64 // unix ns when the content was read
	sum      [32]byte
	used     bool // looked up or stored since the cache was loaded
}

// hashCache maps context paths to content digests, safe for concurrent use.
type hashCache struct {
	mu    sync.Mutex
	idx   map[string]int32
	ents  []cacheEntry
	dirty bool
}

func newHashCache() *hashCache { return &hashCache{idx: make(map[string]int32)} }

// size is the number of entries.
func (c *hashCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ents)
}

// lookup returns the cached content digest of path if meta still matches
// and the entry is not racy.
func (c *hashCache) lookup(path string, meta fileMeta) ([32]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.idx[path]
	if !ok {
		return [32]byte{}, false
	}
	e := &c.ents[i]
	if e.meta != meta || meta.ctime >= e.hashedAt-int64(racyWindow) {
		return [32]byte{}, false
	}
	e.used = true
	return e.sum, true
}

// store records the digest of path, read at hashedAt with metadata meta.
func (c *hashCache) store(path string, meta fileMeta, sum [32]byte, hashedAt int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := cacheEntry{path: path, meta: meta, hashedAt: hashedAt, sum: sum, used: true}
	if i, ok := c.idx[path]; ok {
		c.ents[i] = e
	} else {
		c.idx[path] = int32(len(c.ents))
		c.ents = append(c.ents, e)
	}
	c.dirty = true
}

// load reads a cache file; one that is missing or does not parse leaves
// the cache empty.
func (c *hashCache) load(name string) {
	data, err := os.ReadFile(name)
	if err != nil {
		return
	}
	ents, ok := decodeCache(data)
	if !ok {
		return
	}
	idx := make(map[string]int32, len(ents))
	for i := range ents {
		idx[ents[i].path] = int32(i)
	}
	c.mu.Lock()
	c.ents, c.idx = ents, idx
	c.mu.Unlock()
}

func decodeCache(data []byte) ([]cacheEntry, bool) {
	if len(data) < cacheHeader+4 || string(data[:len(cacheMagic)]) != cacheMagic {
		return nil, false
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != sum {
		return nil, false
	}
	le := binary.LittleEndian
	if le.Uint32(body[len(cacheMagic):]) != cacheVersion {
		return nil, false
	}
	count := int(le.Uint32(body[len(cacheMagic)+4:]))
	if count > (len(body)-cacheHeader)/(cacheFixed+1) {
		return nil, false
	}
	s := string(body) // one allocation; every path is a substring of it
	ents := make([]cacheEntry, count)
	off := cacheHeader
	for i := range ents {
		n, w := binary.Uvarint(body[off:])
		if room := len(body) - off - w - cacheFixed; w <= 0 || room < 0 || n > uint64(room) {
			return nil, false
		}
		off += w
		e := &ents[i]
		e.path = s[off : off+int(n)]
		off += int(n)
		b := body[off : off+cacheFixed]
		e.meta = fileMeta{
			size:  int64(le.Uint64(b[0:])),
			mtime: int64(le.Uint64(b[8:])),
			ctime: int64(le.Uint64(b[16:])),
			ino:   le.Uint64(b[24:]),
			mode:  le.Uint32(b[32:]),
		}
		e.hashedAt = int64(le.Uint64(b[36:]))
		copy(e.sum[:], b[44:76])
		off += cacheFixed
	}
	if off != len(body) {
		return nil, false
	}
	return ents, true
}

func encodeCache(ents []cacheEntry) []byte {
	size := cacheHeader + 4
	for i := range ents {
		size += binary.MaxVarintLen64 + len(ents[i].path) + cacheFixed
	}
	le := binary.LittleEndian
	buf := make([]byte, 0, size)
	buf = append(buf, cacheMagic...)
	buf = le.AppendUint32(buf, cacheVersion)
	buf = le.AppendUint32(buf, uint32(len(ents)))
	for i := range ents {
		e := &ents[i]
		buf = binary.AppendUvarint(buf, uint64(len(e.path)))
		buf = append(buf, e.path...)
		buf = le.AppendUint64(buf, uint64(e.meta.size))
		buf = le.AppendUint64(buf, uint64(e.meta.mtime))
		buf = le.AppendUint64(buf, uint64(e.meta.ctime))
		buf = le.AppendUint64(buf, e.meta.ino)
		buf = le.AppendUint32(buf, e.meta.mode)
		buf = le.AppendUint64(buf, uint64(e.hashedAt))
		buf = append(buf, e.sum[:]...)
	}
	return le.AppendUint32(buf, crc32.Checksum(buf, crc32.MakeTable(crc32.Castagnoli)))
}

// Save writes the hash cache if anything changed since it was loaded or
// saved: to a temporary file renamed over the cache file, so a reader sees
// the old or the new file whole. Several processes building the same
// context may save at once; the last one wins, and entries are validated
// against the files on every use anyway. Entries not used since Open whose
// file is gone are dropped.
func (c *Context) Save() error {
	if c.cacheFile == "" {
		return nil
	}
	hc := c.cache
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if !hc.dirty {
		return nil
	}
	keep := hc.ents[:0:0]
	for _, e := range hc.ents {
		if !e.used {
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(c.Dir, e.path), &st); errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
				continue
			}
		}
		keep = append(keep, e)
	}
	if err := writeAtomic(c.cacheFile, encodeCache(keep)); err != nil {
		return fmt.Errorf("save build context hash cache: %w", err)
	}
	hc.ents = keep
	hc.idx = make(map[string]int32, len(keep))
	for i := range keep {
		hc.idx[keep[i].path] = int32(i)
	}
	hc.dirty = false
	return nil
}

// writeAtomic writes data to a temporary file next to name and renames it
// over name. No fsync: a cache file lost or torn by a crash fails its crc
// and is ignored.
func writeAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
