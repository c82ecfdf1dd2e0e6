package testbin

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// TarOption adds to the root filesystem BusyboxTar builds.
type TarOption func(*rootfs)

// rootfs is what BusyboxTar puts beside busybox and its applets.
type rootfs struct {
	passwd, group string
	dirs          []ownedDir
	files         []file
}

type ownedDir struct {
	name     string
	uid, gid int
}

type file struct {
	name, body string
}

// WithFile adds a regular file (mode 0644, owned by root) at name, a path
// relative to the root such as "var/www/index.html"; missing parent
// directories are added (0755, root).
func WithFile(name, body string) TarOption {
	return func(r *rootfs) { r.files = append(r.files, file{name: name, body: body}) }
}

// WithDir adds a directory (mode 0755) at name, owned by uid:gid; missing
// parent directories are added (0755, root).
func WithDir(name string, uid, gid int) TarOption {
	return func(r *rootfs) { r.dirs = append(r.dirs, ownedDir{name: name, uid: uid, gid: gid}) }
}

// WithUser adds a user and a group called name to /etc/passwd and
// /etc/group, with the shell /bin/sh and the home directory /home/NAME,
// which it adds owned by uid:gid.
func WithUser(name string, uid, gid int) TarOption {
	return func(r *rootfs) {
		r.passwd += fmt.Sprintf("%s:x:%d:%d:%s:/home/%s:/bin/sh\n", name, uid, gid, name, name)
		r.group += fmt.Sprintf("%s:x:%d:\n", name, gid)
		WithDir("home/"+name, uid, gid)(r)
	}
}

// BusyboxTar writes dir/busybox.tar, a root filesystem of the host's
// /bin/busybox with a symbolic link for each of its applets in /bin,
// /etc/passwd and /etc/group with root as the only user, /root, /home and
// a sticky /tmp, plus what opts add, and returns its path. Entries are
// owned by root unless an option says otherwise. It returns "" and no
// error when the host has no /bin/busybox, so that callers can skip.
func BusyboxTar(dir string, opts ...TarOption) (string, error) {
	p, err := busyboxTar("/bin/busybox", dir, opts...)
	if err != nil {
		return "", fmt.Errorf("busybox rootfs: %w", err)
	}
	return p, nil
}

// busyboxTar is BusyboxTar with busybox at bb.
func busyboxTar(bb, dir string, opts ...TarOption) (string, error) {
	bin, err := os.Open(bb)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer bin.Close()
	st, err := bin.Stat()
	if err != nil {
		return "", err
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return "", fmt.Errorf("%s --list: %w", bb, err)
	}
	r := rootfs{passwd: "root:x:0:0:root:/root:/bin/sh\n", group: "root:x:0:\n"}
	for _, o := range opts {
		o(&r)
	}

	p := filepath.Join(dir, "busybox.tar")
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	w := &tarWriter{tw: tar.NewWriter(f), now: time.Now().Truncate(time.Second), dirs: map[string]bool{}}
	w.dir(".", 0o755, 0, 0)
	w.dir("bin", 0o755, 0, 0)
	w.write(&tar.Header{Name: "./bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: st.Size()}, bin)
	for _, app := range strings.Fields(string(list)) {
		if app != "busybox" && !strings.Contains(app, "/") {
			w.write(&tar.Header{Name: "./bin/" + app, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
		}
	}
	w.file("etc/passwd", r.passwd)
	w.file("etc/group", r.group)
	w.dir("root", 0o755, 0, 0)
	w.dir("home", 0o755, 0, 0)
	w.dir("tmp", 0o1777, 0, 0)
	for _, d := range r.dirs {
		w.dir(d.name, 0o755, d.uid, d.gid)
	}
	for _, fl := range r.files {
		w.file(fl.name, fl.body)
	}
	err = w.close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return "", err
	}
	return p, nil
}

// tarWriter writes a tar stream whose entries are named "./NAME" as GNU
// tar names them; it keeps the first error, after which it writes nothing.
type tarWriter struct {
	tw   *tar.Writer
	now  time.Time
	dirs map[string]bool // directories written, by clean name
	err  error
}

// dir writes the directory name with its missing parents (0755, root).
// Writing a directory twice is an error.
func (w *tarWriter) dir(name string, mode int64, uid, gid int) {
	name = clean(name)
	if w.dirs[name] {
		w.fail(fmt.Errorf("directory %s is in the tarball twice", name))
		return
	}
	w.parents(name)
	w.dirs[name] = true
	w.write(&tar.Header{Name: strings.TrimSuffix("./"+name, "/.") + "/", Typeflag: tar.TypeDir, Mode: mode, Uid: uid, Gid: gid}, nil)
}

// file writes a regular file (0644, root) with its missing parents.
func (w *tarWriter) file(name, body string) {
	name = clean(name)
	w.parents(name)
	w.write(&tar.Header{Name: "./" + name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, strings.NewReader(body))
}

// clean makes name relative to the root, without "..": "." is the root.
func clean(name string) string {
	if name = strings.TrimPrefix(path.Clean("/"+name), "/"); name == "" {
		return "."
	}
	return name
}

// parents writes the directories above name that are not written yet.
func (w *tarWriter) parents(name string) {
	if parent := path.Dir(name); parent != "." && !w.dirs[parent] {
		w.dir(parent, 0o755, 0, 0)
	}
}

// write writes one entry and, for a regular file, its content from body.
func (w *tarWriter) write(h *tar.Header, body io.Reader) {
	if w.err != nil {
		return
	}
	h.ModTime = w.now
	if err := w.tw.WriteHeader(h); err != nil {
		w.fail(err)
		return
	}
	if body != nil {
		if _, err := io.Copy(w.tw, body); err != nil {
			w.fail(fmt.Errorf("%s: %w", h.Name, err))
		}
	}
}

func (w *tarWriter) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// close ends the stream and returns the first error.
func (w *tarWriter) close() error {
	if w.err != nil {
		return w.err
	}
	return w.tw.Close()
}
