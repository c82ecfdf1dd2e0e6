package archive

import (
	"archive/tar"
	"io"
	"path"
	"slices"
	"strings"
	"time"
)

// Diff writes the OCI layer (an uncompressed tar) of an overlayfs upper
// directory: what it holds as is, with files that are hard links of each
// other as tar hard links; each overlay whiteout (a character device 0/0)
// becomes a ".wh.<name>" entry and each opaque directory gets a
// ".wh..wh..opq" entry right after its own. The walk is sorted, so the same
// tree gives the same bytes; file contents stream. Sockets are skipped, and
// so are device nodes, which Scan would refuse in a layer.
//
// The overlay must be mounted without metacopy and redirect_dir (the
// snapshotter does so): with them, the upper directory alone does not hold
// the changes.
func Diff(w io.Writer, upper string) error {
	t := newTarWriter(w)
	err := walkDir(upper, func(n *node) (bool, error) {
		if n.rel == "" {
			return true, nil
		}
		if isWhiteoutDevice(&n.st) {
			return false, t.tw.WriteHeader(markerHeader(n, path.Join(path.Dir(n.rel), whiteoutPrefix+n.name)))
		}
		if err := t.write(n, n.rel, false); err != nil {
			return false, err
		}
		if n.isDir() && isOpaqueFd(n.fd) {
			if err := t.tw.WriteHeader(markerHeader(n, n.rel+"/"+whiteoutOpaque)); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	return t.close()
}

// markerHeader is the header of an empty whiteout or opaque marker file.
func markerHeader(n *node, name string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, ModTime: time.Unix(n.st.Mtim.Sec, 0)}
}

// Change is one line of `docker diff`.
type Change struct {
	Kind byte   // 'A' added, 'C' changed, 'D' deleted
	Path string // absolute in the container: "/etc/passwd"
}

// String formats c as `docker diff` prints it: "C /etc/passwd".
func (c Change) String() string { return string(c.Kind) + " " + c.Path }

// Changes lists the changes an overlayfs upper directory holds, as Docker
// does for its overlay2 driver: a whiteout is D; an opaque directory that
// exists in the layers below is D (it replaced that directory; what it now
// holds follows as A or C); any other entry is C if existsBelow(path) says
// the layers below have that path, else A. Since overlayfs copies up the
// parents of every change, the parents of changes appear too, as C when
// they exist below. The list is sorted by path.
func Changes(upper string, existsBelow func(path string) bool) ([]Change, error) {
	var out []Change
	err := walkDir(upper, func(n *node) (bool, error) {
		if n.rel == "" {
			return true, nil
		}
		p := "/" + n.rel
		switch {
		case isWhiteoutDevice(&n.st):
			out = append(out, Change{Kind: 'D', Path: p})
		case n.isDir() && isOpaqueFd(n.fd) && existsBelow(p):
			out = append(out, Change{Kind: 'D', Path: p})
		case existsBelow(p):
			out = append(out, Change{Kind: 'C', Path: p})
		default:
			out = append(out, Change{Kind: 'A', Path: p})
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	sortChanges(out)
	return out, nil
}

func sortChanges(c []Change) {
	slices.SortFunc(c, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
}
