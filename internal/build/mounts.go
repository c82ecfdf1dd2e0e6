package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/flock"
	"github.com/strata-dev/strata/internal/runtime/spec"
)

// stubs are the mount points the runtime creates in a step's root
// filesystem because nothing was there; they are removed after the step so
// they stay out of its layer, as BuildKit does.
type stubs struct {
	root  *os.Root
	paths []string // deepest first
}

// findStubs returns, for every target, the first path component missing
// under rootfs. Paths are resolved inside rootfs only.
func findStubs(rootfs string, targets []string) (*stubs, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil, err
	}
	s := &stubs{root: root}
	seen := map[string]bool{}
	for _, t := range targets {
		p := ""
		for _, part := range strings.Split(strings.Trim(path.Clean(t), "/"), "/") {
			p = path.Join(p, part)
			fi, err := root.Lstat(p)
			if errors.Is(err, fs.ErrNotExist) {
				if !seen[p] {
					seen[p] = true
					s.paths = append(s.paths, p)
				}
				break
			}
			if err != nil || fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir() {
				break // the runtime resolves it; nothing of ours to undo
			}
		}
	}
	sort.Slice(s.paths, func(i, j int) bool { return strings.Count(s.paths[i], "/") > strings.Count(s.paths[j], "/") })
	return s, nil
}

// remove deletes the stubs that are still empty: a directory with nothing
// in it, an empty file. Whatever the step wrote there is kept.
func (s *stubs) remove() {
	defer func() { _ = s.root.Close() }() // a directory handle: nothing to flush
	for _, p := range s.paths {
		removeEmptyTree(s.root, p)
	}
}

// removeEmptyTree removes p if it is an empty file, or a directory holding
// only empty directories and files (the runtime's nested mount points).
func removeEmptyTree(root *os.Root, p string) bool {
	fi, err := root.Lstat(p)
	if err != nil {
		return false
	}
	switch {
	case fi.Mode().IsRegular() && fi.Size() == 0:
	case fi.IsDir():
		f, err := root.Open(p)
		if err != nil {
			return false
		}
		names, _ := f.Readdirnames(-1)
		f.Close()
		for _, n := range names {
			if !removeEmptyTree(root, path.Join(p, n)) {
				return false
			}
		}
	default:
		return false
	}
	return root.Remove(p) == nil
}

// mkdirInRoot creates dir (a container path) inside rootfs, owned by the
// user, if it is missing: RUN's working directory.
func mkdirInRoot(rootfs, dir string) error {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return err
	}
	defer func() { _ = root.Close() }() // a directory handle: nothing to flush
	rel := strings.TrimPrefix(path.Clean("/"+dir), "/")
	if rel == "" {
		return nil
	}
	if _, err := root.Stat(rel); err == nil {
		return nil
	}
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "create working directory %s: %v", dir, err)
	}
	return nil
}

// writeSpec writes config.json into the bundle.
func writeSpec(bundle string, sp *specs.Spec) error {
	b, err := json.Marshal(sp)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600)
}

// runExtras are what RUN --mount adds: mounts and environment (secrets
// given as env=).
type runExtras struct {
	mounts []specs.Mount
	env    []string
}

// runMounts turns RUN --mount flags into mounts. The returned cleanup
// undoes what they set up; call it even on error.
func (b *Builder) runMounts(ctx context.Context, r runSpec, bundle, rootfs string) (runExtras, func(), error) {
	var ex runExtras
	var undo []func()
	cleanup := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	for i, m := range r.mounts {
		target := m.Target
		if target != "" && !path.IsAbs(target) {
			target = path.Join(workdirOr(r.cwd), target)
		}
		switch m.Type {
		case instructions.MountTypeCache:
			dir, release, err := b.cacheMount(m, target)
			if err != nil {
				return ex, cleanup, err
			}
			undo = append(undo, release)
			ex.mounts = append(ex.mounts, spec.BindMount(dir, target, m.ReadOnly))
		case instructions.MountTypeTmpfs:
			opts := ""
			if m.SizeLimit > 0 {
				opts = "size=" + strconv.FormatInt(m.SizeLimit, 10)
			}
			ex.mounts = append(ex.mounts, spec.TmpfsMount(target, opts))
		case instructions.MountTypeSecret:
			mnt, env, err := r.stage.secretMount(m, bundle, i)
			if err != nil {
				return ex, cleanup, err
			}
			ex.mounts = append(ex.mounts, mnt...)
			ex.env = append(ex.env, env...)
		case instructions.MountTypeBind:
			src, release, err := r.stage.bindSource(ctx, m)
			if err != nil {
				return ex, cleanup, err
			}
			undo = append(undo, release)
			mnt, err := bindMount(src, target, bundle, i, m.ReadOnly)
			if err != nil {
				return ex, cleanup, err
			}
			ex.mounts = append(ex.mounts, mnt)
		default:
			return ex, cleanup, errdefs.Newf(errdefs.ErrUnsupported, "RUN --mount=type=%s is not supported", m.Type)
		}
	}
	return ex, cleanup, nil
}

// bindMount mounts src at target: read-only, or (rw) with the step's
// writes going to a scratch overlay layer in the bundle that is thrown
// away, so neither the context nor the source stage ever changes.
func bindMount(src, target, bundle string, i int, readOnly bool) (specs.Mount, error) {
	if readOnly {
		return spec.BindMount(src, target, true), nil
	}
	fi, err := os.Stat(src)
	if err != nil {
		return specs.Mount{}, err
	}
	scratch := filepath.Join(bundle, "bind-"+strconv.Itoa(i))
	if !fi.IsDir() { // a file: a throwaway copy
		if err := os.MkdirAll(scratch, 0o700); err != nil {
			return specs.Mount{}, err
		}
		cp := filepath.Join(scratch, "file")
		data, err := os.ReadFile(src)
		if err != nil {
			return specs.Mount{}, err
		}
		if err := os.WriteFile(cp, data, fi.Mode().Perm()); err != nil {
			return specs.Mount{}, err
		}
		return spec.BindMount(cp, target, false), nil
	}
	upper, work := filepath.Join(scratch, "upper"), filepath.Join(scratch, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return specs.Mount{}, err
		}
	}
	return specs.Mount{Type: "overlay", Source: "overlay", Destination: target,
		Options: []string{"lowerdir=" + src, "upperdir=" + upper, "workdir=" + work}}, nil
}

func workdirOr(cwd string) string {
	if cwd == "" {
		return "/"
	}
	return cwd
}

// cacheMount returns the host directory of a cache mount, kept across
// builds under the builder's directory, keyed by its id (default: its
// target). sharing=locked holds a lock on it while the step runs.
func (b *Builder) cacheMount(m *instructions.Mount, target string) (string, func(), error) {
	id := m.CacheID
	if id == "" {
		id = target
	}
	sum := sha256.Sum256([]byte(id))
	dir := filepath.Join(b.Dir, "cache-mounts", hex.EncodeToString(sum[:12]))
	nop := func() {}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		mode := os.FileMode(0o755)
		if m.Mode != nil {
			mode = os.FileMode(*m.Mode)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", nop, err
		}
		if err := os.Chmod(dir, mode); err != nil {
			return "", nop, err
		}
		if m.UID != nil || m.GID != nil {
			uid, gid := 0, 0
			if m.UID != nil {
				uid = int(*m.UID)
			}
			if m.GID != nil {
				gid = int(*m.GID)
			}
			if err := os.Lchown(dir, uid, gid); err != nil {
				return "", nop, err
			}
		}
	}
	if m.CacheSharing == instructions.MountSharingLocked {
		release, err := flock.Exclusive(dir + ".lock")
		if err != nil {
			return "", nop, err
		}
		return dir, release, nil
	}
	return dir, nop, nil
}
