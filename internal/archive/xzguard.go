package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/strata-dev/strata/internal/errdefs"
)

// xzMaxDict caps the LZMA2 dictionary an xz block may ask for. The
// decoder allocates the whole dictionary up front for every block, so
// without a cap a 100-byte stream can make us reserve 4 GiB. The largest xz
// preset (-9) uses 64 MiB; 256 MiB leaves room for custom settings.
const xzMaxDict = 256 << 20

// xzGuard passes an xz stream through unchanged while following its
// container structure (stream header, block headers, LZMA2 chunk headers,
// index, footer, padding: https://tukaani.org/xz/xz-file-format.txt) far
// enough to see every block header before the decoder does, and refuses
// dictionaries over xzMaxDict. Bytes of a block header reach the decoder
// only up to the Read that completes the header, which is where it is
// checked, so the decoder never acts on a refused header. The guard checks
// no checksums: the decoder does.
type xzGuard struct {
	r      io.Reader
	st     xzState
	buf    [1024]byte // the field being collected
	have   int
	need   int
	skip   int64 // bytes to pass over in xzSkip
	after  xzState
	check  int    // check size of the current stream
	block  int64  // bytes of the current block so far (header + data), for its padding
	index  int64  // bytes of the current index so far, for its padding
	count  int64  // index: varints still to read
	vint   uint64 // index: the varint being read
	vshift uint
	err    error
}

type xzState int

const (
	xzStreamHeader xzState = iota // collecting 12 bytes
	xzBlockStart                  // 1 byte: block header size or 0 (index)
	xzBlockHeader                 // collecting the rest of the block header
	xzChunk                       // 1 byte: LZMA2 control byte
	xzChunkHeader                 // collecting the rest of a chunk header
	xzBlockPad                    // zero bytes up to a multiple of 4, then the check
	xzIndexVarint                 // index: record count and records, byte-wise varints
	xzIndexPad                    // zero bytes up to a multiple of 4, then CRC32 and the footer
	xzStreamPad                   // zero padding, or a next stream
	xzSkip                        // passing over skip bytes, then after
)

func newXzGuard(r io.Reader) *xzGuard { return &xzGuard{r: r, st: xzStreamHeader, need: 12} }

func (g *xzGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if perr := g.feed(p[:n]); perr != nil {
		g.err = perr
		return 0, perr
	}
	return n, err
}

var errXzStructure = errors.New("invalid xz container structure")

// feed advances the state machine over b.
func (g *xzGuard) feed(b []byte) error {
	for len(b) > 0 {
		switch g.st {
		case xzSkip:
			k := int64(len(b))
			if k > g.skip {
				k = g.skip
			}
			g.skip -= k
			b = b[k:]
			if g.skip == 0 {
				g.st = g.after
			}
		case xzStreamHeader, xzBlockHeader, xzChunkHeader:
			k := copy(g.buf[g.have:g.need], b)
			g.have += k
			b = b[k:]
			if g.have == g.need {
				if err := g.collected(); err != nil {
					return err
				}
			}
		default:
			if err := g.single(b[0]); err != nil {
				return err
			}
			b = b[1:]
		}
	}
	return nil
}

// collect starts collecting need bytes (first already collected) in st.
func (g *xzGuard) collect(st xzState, first byte, need int) {
	g.st, g.buf[0], g.have, g.need = st, first, 1, need
}

// skipThen passes n bytes over, then continues in st.
func (g *xzGuard) skipThen(n int64, st xzState) {
	if n == 0 {
		g.st = st
		return
	}
	g.st, g.skip, g.after = xzSkip, n, st
}

// single handles the states that read one byte at a time.
func (g *xzGuard) single(c byte) error {
	switch g.st {
	case xzBlockStart:
		if c == 0 { // index indicator
			g.st, g.index, g.count, g.vint, g.vshift = xzIndexVarint, 1, -1, 0, 0
			return nil
		}
		g.block = 0
		g.collect(xzBlockHeader, c, (int(c)+1)*4)
	case xzChunk:
		g.block++
		switch {
		case c == 0x00: // end of LZMA2 data
			g.st = xzBlockPad
			g.skip = (4 - g.block%4) % 4
		case c == 0x01 || c == 0x02: // uncompressed chunk
			g.collect(xzChunkHeader, c, 3)
		case c >= 0x80: // LZMA chunk, with a properties byte from 0xc0 on
			need := 5
			if c >= 0xc0 {
				need = 6
			}
			g.collect(xzChunkHeader, c, need)
		default:
			return errXzStructure
		}
	case xzBlockPad:
		if g.skip > 0 { // padding
			g.skip--
			if c != 0 {
				return errXzStructure
			}
			return nil
		}
		g.skipThen(int64(g.check), xzBlockStart) // c is the check's first byte
		return g.feed([]byte{c})
	case xzIndexVarint:
		return g.indexByte(c)
	case xzIndexPad:
		if g.index%4 != 0 {
			g.index++
			if c != 0 {
				return errXzStructure
			}
			return nil
		}
		g.skipThen(4+12, xzStreamPad) // CRC32 and stream footer; c is the CRC's first byte
		return g.feed([]byte{c})
	case xzStreamPad:
		switch c {
		case 0:
		case magicXz[0]:
			g.collect(xzStreamHeader, c, 12)
		default:
			return errXzStructure
		}
	}
	return nil
}

// indexByte reads the index's varints: the record count, then two per
// record (unpadded and uncompressed size). count is -1 until the record
// count is known.
func (g *xzGuard) indexByte(c byte) error {
	g.index++
	if g.vshift > 63 {
		return errXzStructure
	}
	g.vint |= uint64(c&0x7f) << g.vshift
	g.vshift += 7
	if c&0x80 != 0 { // more bytes of this varint follow
		return nil
	}
	v := g.vint
	g.vint, g.vshift = 0, 0
	switch {
	case g.count == -1 && v > 1<<62:
		return errXzStructure
	case g.count == -1:
		g.count = int64(v) * 2
	default:
		g.count--
	}
	if g.count == 0 {
		g.st = xzIndexPad
	}
	return nil
}

// collected handles a complete field in g.buf[:g.need].
func (g *xzGuard) collected() error {
	f := g.buf[:g.need]
	switch g.st {
	case xzStreamHeader:
		if !bytes.HasPrefix(f, magicXz) {
			return errXzStructure
		}
		id := int(f[7] & 0x0f)
		g.check = 0
		if id > 0 {
			g.check = 4 << ((id - 1) / 3)
		}
		g.st = xzBlockStart
	case xzBlockHeader:
		if err := checkXzBlockHeader(f); err != nil {
			return err
		}
		g.block = int64(len(f))
		g.st = xzChunk
	case xzChunkHeader:
		g.block += int64(len(f)) - 1 // the control byte was counted
		var data int64
		if f[0] < 0x80 {
			data = int64(binary.BigEndian.Uint16(f[1:3])) + 1
		} else {
			data = int64(binary.BigEndian.Uint16(f[3:5])) + 1
		}
		g.block += data
		g.skipThen(data, xzChunk)
	}
	return nil
}

// checkXzBlockHeader refuses a block whose LZMA2 filter asks for a
// dictionary over xzMaxDict. Other filters pass: the decoder judges them.
func checkXzBlockHeader(h []byte) error {
	if len(h) < 2 {
		return errXzStructure
	}
	flags := h[1]
	filters := int(flags&0x03) + 1
	rest := h[2:]
	var err error
	for _, present := range []bool{flags&0x40 != 0, flags&0x80 != 0} { // sizes
		if present {
			if _, rest, err = xzVarint(rest); err != nil {
				return err
			}
		}
	}
	for range filters {
		var id, size uint64
		if id, rest, err = xzVarint(rest); err != nil {
			return err
		}
		if size, rest, err = xzVarint(rest); err != nil {
			return err
		}
		if size > uint64(len(rest)) {
			return errXzStructure
		}
		if id == 0x21 && size == 1 {
			if dict := xzDictSize(rest[0]); dict > xzMaxDict {
				return errdefs.Newf(errdefs.ErrLimitExceeded,
					"xz stream needs a %d MiB dictionary, more than the %d MiB allowed", dict>>20, xzMaxDict>>20)
			}
		}
		rest = rest[size:]
	}
	return nil
}

// xzDictSize decodes an LZMA2 dictionary size byte (format spec 5.3.1).
func xzDictSize(b byte) int64 {
	b &= 0x3f
	if b >= 40 {
		return 1<<32 - 1
	}
	return int64(2|b&1) << (b/2 + 11)
}

func xzVarint(b []byte) (uint64, []byte, error) {
	var v uint64
	for i := 0; i < len(b) && i < 9; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, b[i+1:], nil
		}
	}
	return 0, nil, fmt.Errorf("%w: bad varint", errXzStructure)
}
