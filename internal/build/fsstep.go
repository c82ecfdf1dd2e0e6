package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/snapshot"
)

// emptyTarSize is the size of a tar with no entries: two zero blocks.
const emptyTarSize = 1024

// stepKeyPrefix starts the snapshot key and work directory of a step in
// progress; the process ID follows, so a crashed process's leftovers can be
// told from a live one's.
const stepKeyPrefix = "build-"

// fsStep runs mutate on a writable snapshot of st's filesystem mounted at
// a work directory, then stores what changed as a layer and keeps the
// snapshot as that layer's unpacked form. With keepEmpty false a step that
// changed nothing adds no layer (nil).
func (b *Builder) fsStep(ctx context.Context, st *state, keepEmpty bool, mutate func(rootfs string) error) (*imagestore.Layer, error) {
	parent, err := b.Unpacker.Unpack(ctx, st.unpackLayers())
	if err != nil {
		return nil, err
	}
	key, err := stepKey()
	if err != nil {
		return nil, err
	}
	mounts, err := b.Snapshotter.Prepare(ctx, key, parent)
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			_ = b.Snapshotter.Remove(context.WithoutCancel(ctx), key)
		}
	}()
	rootfs := filepath.Join(b.workDir(), key)
	if err := b.withMount(mounts, rootfs, mutate); err != nil {
		return nil, err
	}
	layer, err := b.storeDiff(ctx, key, parent, mounts, keepEmpty)
	if err != nil || layer == nil {
		return nil, err
	}
	chain := image.ChainID(append(append([]digest.Digest{}, st.Config.RootFS.DiffIDs...), layer.DiffID))
	switch err := b.Snapshotter.Commit(ctx, string(chain), key); {
	case err == nil:
		committed = true
	case !errdefs.IsAlreadyExists(err): // another build made the same layer: keep theirs
		return nil, err
	}
	return layer, nil
}

// withMount mounts mounts on dir, runs fn and unmounts.
func (b *Builder) withMount(mounts []snapshot.Mount, dir string, fn func(string) error) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.Remove(dir) // never RemoveAll: if the unmount failed, that would empty the mount
	if err := snapshot.MountAll(mounts, dir); err != nil {
		return err
	}
	err := fn(dir)
	if uerr := snapshot.Unmount(dir); uerr != nil && err == nil {
		err = fmt.Errorf("unmount step filesystem: %w", uerr)
	}
	return err
}

// storeDiff writes the snapshot's changes as an uncompressed layer blob;
// an empty change gives no blob (nil) unless keepEmpty.
func (b *Builder) storeDiff(ctx context.Context, key, parent string, mounts []snapshot.Mount, keepEmpty bool) (*imagestore.Layer, error) {
	upper, ok := snapshot.UpperDir(mounts)
	if !ok {
		return nil, fmt.Errorf("step snapshot %s has no upper directory", key)
	}
	w, err := b.Images.Content.Writer(imagestore.TempRef("build"), "")
	if err != nil {
		return nil, err
	}
	defer w.Close()
	if err := b.writeDiff(ctx, w, upper, parent); err != nil {
		w.Abort()
		return nil, err
	}
	size, dg := w.Offset(), w.Digest()
	if size == emptyTarSize && !keepEmpty {
		w.Abort()
		return nil, nil
	}
	if _, err := w.Commit(size, dg); err != nil && !errdefs.IsAlreadyExists(err) {
		return nil, err
	}
	return &imagestore.Layer{Digest: dg, Size: size, MediaType: image.MediaTypeOCILayer, DiffID: dg, DiffSize: size}, nil
}

// writeDiff writes an OCI layer tar: overlay's upper directory is the
// change itself; vfs compares with a view of the parent.
func (b *Builder) writeDiff(ctx context.Context, w io.Writer, upper, parent string) error {
	if b.Driver != "vfs" {
		return archive.Diff(w, upper)
	}
	key, err := stepKey()
	if err != nil {
		return err
	}
	if parent == "" {
		empty := filepath.Join(b.workDir(), key)
		if err := os.Mkdir(empty, 0o700); err != nil {
			return err
		}
		defer os.Remove(empty)
		return archive.DiffTrees(w, empty, upper)
	}
	mounts, err := b.Snapshotter.View(ctx, key, parent)
	if err != nil {
		return err
	}
	defer func() { _ = b.Snapshotter.Remove(context.WithoutCancel(ctx), key) }()
	return b.withMount(mounts, filepath.Join(b.workDir(), key), func(lower string) error {
		return archive.DiffTrees(w, lower, upper)
	})
}

// stepKey is a new snapshot key for a step of this process.
func stepKey() (string, error) {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	return stepKeyPrefix + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(r[:]), nil
}

// cleanStale removes what steps of a killed process left: RUN containers,
// networks and bundles, ADD downloads, mounts and snapshots.
func (b *Builder) cleanStale(ctx context.Context) {
	for _, ext := range []string{".bundle", ".dl"} {
		dirs, _ := filepath.Glob(filepath.Join(b.workDir(), stepKeyPrefix+"*"+ext))
		for _, dir := range dirs {
			id := strings.TrimSuffix(filepath.Base(dir), ext)
			if pid, ok := stepPID(id); !ok || alive(pid) {
				continue
			}
			if ext == ".bundle" { // a RUN's container and network
				_ = b.Runtime.Delete(ctx, id, true)
				_ = b.Network.Teardown(ctx, id)
			}
			_ = os.RemoveAll(dir)
		}
	}
	var stale []string
	_ = b.Snapshotter.Walk(ctx, func(info snapshot.Info) error {
		if pid, ok := stepPID(info.Name); ok && info.Kind != snapshot.KindCommitted && !alive(pid) {
			stale = append(stale, info.Name)
		}
		return nil
	})
	for _, key := range stale {
		dir := filepath.Join(b.workDir(), key)
		_ = snapshot.Unmount(dir)
		_ = os.Remove(dir)
		_ = b.Snapshotter.Remove(ctx, key)
	}
}

func stepPID(key string) (int, bool) {
	rest, ok := strings.CutPrefix(key, stepKeyPrefix)
	if !ok {
		return 0, false
	}
	pid, _, _ := strings.Cut(rest, "-")
	n, err := strconv.Atoi(pid)
	return n, err == nil
}

// alive reports whether process pid exists and is not a zombie (a killed
// process whose parent has not reaped it is dead for us).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}
