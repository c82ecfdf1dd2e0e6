package archive

import (
	"bytes"
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// paxXattr is the PAX record prefix of extended attributes (GNU tar, star,
// Docker, archive/tar).
const paxXattr = "SCHILY.xattr."

// overlayOpaque marks an overlayfs directory that hides the directories
// below it.
const overlayOpaque = "trusted.overlay.opaque"

// privateXattr reports attributes a layer never carries: overlayfs keeps its
// own state in trusted.overlay.* (user.overlay.* when mounted with
// userxattr), and a layer that set them could forge redirects or opaque
// markers; security.selinux labels belong to the host that wrote the file.
// A layer says "opaque" with a .wh..wh..opq entry instead.
func privateXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") ||
		strings.HasPrefix(name, "user.overlay.") ||
		name == "security.selinux"
}

// ignorableXattrError reports a failure to set an attribute that extraction
// goes on after, as Docker does: the filesystem has no extended attributes,
// or (for security.* other than file capabilities) the kernel refuses it.
func ignorableXattrError(name string, err error) bool {
	if errors.Is(err, unix.ENOTSUP) {
		return true
	}
	return strings.HasPrefix(name, "security.") && name != "security.capability" &&
		(errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EINVAL))
}

// xattrSetter sets one attribute: fsetxattr on an open file, or lsetxattr
// through procPath for a symlink.
type xattrSetter func(name string, value []byte) error

func fdXattrSetter(fd int) xattrSetter {
	return func(name string, value []byte) error { return unix.Fsetxattr(fd, name, value, 0) }
}

func pathXattrSetter(p string) xattrSetter {
	return func(name string, value []byte) error { return unix.Lsetxattr(p, name, value, 0) }
}

// setXattrs applies the SCHILY.xattr records of a tar header.
func setXattrs(records map[string]string, set xattrSetter) error {
	for k, v := range records {
		name, ok := strings.CutPrefix(k, paxXattr)
		if !ok || name == "" || privateXattr(name) {
			continue
		}
		if err := set(name, []byte(v)); err != nil && !ignorableXattrError(name, err) {
			return pathError("setxattr "+name, "", err)
		}
	}
	return nil
}

// xattrReader reads the attributes of one file: through an open fd, or
// through procPath for a symlink or a special file.
type xattrReader struct {
	fd   int    // -1 to use path
	path string // procPath of the file
	buf  []byte
}

func (x *xattrReader) list(dest []byte) (int, error) {
	if x.fd >= 0 {
		return unix.Flistxattr(x.fd, dest)
	}
	return unix.Llistxattr(x.path, dest)
}

func (x *xattrReader) get(name string, dest []byte) (int, error) {
	if x.fd >= 0 {
		return unix.Fgetxattr(x.fd, name, dest)
	}
	return unix.Lgetxattr(x.path, name, dest)
}

// records returns the file's attributes as PAX records, private ones left
// out, or nil when it has none. A filesystem without extended attributes,
// or a /proc that cannot be used, gives none.
func (x *xattrReader) records() (map[string]string, error) {
	names, err := x.names()
	if err != nil || len(names) == 0 {
		return nil, err
	}
	var out map[string]string
	for _, name := range names {
		if privateXattr(name) {
			continue
		}
		v, ok, err := x.value(name)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(names))
		}
		out[paxXattr+name] = string(v)
	}
	return out, nil
}

func (x *xattrReader) names() ([]string, error) {
	if x.buf == nil {
		x.buf = make([]byte, 1024)
	}
	for {
		n, err := x.list(x.buf)
		switch {
		case errors.Is(err, unix.ERANGE):
			size, err := x.list(nil)
			if err != nil {
				return nil, pathError("listxattr", x.path, err)
			}
			x.buf = make([]byte, size+256)
			continue
		case errors.Is(err, unix.ENOTSUP), x.fd < 0 && errors.Is(err, unix.ENOENT):
			return nil, nil
		case err != nil:
			return nil, pathError("listxattr", x.path, err)
		}
		var names []string
		for _, b := range bytes.Split(x.buf[:n], []byte{0}) {
			if len(b) > 0 {
				names = append(names, string(b))
			}
		}
		return names, nil
	}
}

// value reads one attribute; ok is false if it vanished meanwhile.
func (x *xattrReader) value(name string) ([]byte, bool, error) {
	buf := make([]byte, 256)
	for {
		n, err := x.get(name, buf)
		switch {
		case errors.Is(err, unix.ERANGE):
			size, err := x.get(name, nil)
			if err != nil {
				return nil, false, pathError("getxattr "+name, x.path, err)
			}
			buf = make([]byte, size+64)
			continue
		case errors.Is(err, unix.ENODATA):
			return nil, false, nil
		case err != nil:
			return nil, false, pathError("getxattr "+name, x.path, err)
		}
		return buf[:n], true, nil
	}
}

// isOpaqueFd reports an overlayfs opaque directory.
func isOpaqueFd(fd int) bool {
	var b [2]byte
	n, err := unix.Fgetxattr(fd, overlayOpaque, b[:])
	return err == nil && n == 1 && b[0] == 'y'
}
