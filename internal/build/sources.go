package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/runtime/spec"
)

// source resolves a --from name: an earlier stage's result, or an image.
func (s *stageRun) source(ctx context.Context, name string) (*state, error) {
	if j, ok := s.p.stageRef(name, s.idx); ok {
		r := s.p.results[j]
		if r == nil {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "stage %q is named through a variable only a stage ARG sets: use a global ARG (before the first FROM)", name)
		}
		return r.wait(ctx)
	}
	return s.baseState(ctx, name)
}

// withRootfs mounts a read-only view of st's filesystem and runs fn on it.
func (b *Builder) withRootfs(ctx context.Context, st *state, fn func(dir string) error) error {
	parent, err := b.Unpacker.Unpack(ctx, st.unpackLayers())
	if err != nil {
		return err
	}
	key, err := stepKey()
	if err != nil {
		return err
	}
	dir := filepath.Join(b.workDir(), key)
	if parent == "" { // no layers: an empty directory
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		defer os.Remove(dir)
		return fn(dir)
	}
	mounts, err := b.Snapshotter.View(ctx, key, parent)
	if err != nil {
		return err
	}
	defer func() { _ = b.Snapshotter.Remove(context.WithoutCancel(ctx), key) }()
	return b.withMount(mounts, dir, fn)
}

// bindSource returns the host path RUN --mount=type=bind mounts: a path in
// the context, or in a stage's or image's filesystem (mounted until
// release). The path always resolves inside its tree.
func (s *stageRun) bindSource(ctx context.Context, m *instructions.Mount) (string, func(), error) {
	nop := func() {}
	if m.From == "" {
		if s.o.Context == nil {
			return "", nop, errdefs.Newf(errdefs.ErrInvalidArgument, "RUN --mount=type=bind needs a build context")
		}
		p, err := securejoin.SecureJoin(s.o.Context.Dir, m.Source)
		if err != nil {
			return "", nop, err
		}
		if _, err := os.Stat(p); err != nil {
			return "", nop, errdefs.Newf(errdefs.ErrNotFound, "RUN --mount source %q: not found in the build context", m.Source)
		}
		return p, nop, nil
	}
	st, err := s.source(ctx, m.From)
	if err != nil {
		return "", nop, err
	}
	// Keep the view mounted while the step runs: the goroutine holds it
	// until release is called.
	ready := make(chan error, 1)
	done := make(chan struct{})
	finished := make(chan struct{})
	var path string
	go func() {
		defer close(finished)
		err := s.b.withRootfs(ctx, st, func(dir string) error {
			p, err := securejoin.SecureJoin(dir, m.Source)
			if err != nil {
				return err
			}
			path = p
			ready <- nil
			<-done
			return nil
		})
		if err != nil {
			ready <- err
		}
	}()
	if err := <-ready; err != nil {
		<-finished
		return "", nop, err
	}
	return path, func() { close(done); <-finished }, nil
}

// secretMount makes a --secret available to RUN: as a read-only file at
// its target (default /run/secrets/<id>) and, with env=, as a variable.
// The file lives in the step's bundle and never in a layer.
func (s *stageRun) secretMount(m *instructions.Mount, bundle string, i int) ([]specs.Mount, []string, error) {
	id := m.CacheID
	if id == "" && m.Target != "" {
		id = filepath.Base(m.Target)
	}
	sec, ok := s.o.Secrets[id]
	if !ok {
		if m.Required {
			return nil, nil, errdefs.Newf(errdefs.ErrNotFound, "secret %q is required but was not given (use --secret id=%s,src=FILE)", id, id)
		}
		return nil, nil, nil
	}
	data, err := readSecret(sec)
	if err != nil {
		return nil, nil, fmt.Errorf("secret %q: %w", id, err)
	}
	var env []string
	if m.Env != nil && *m.Env != "" {
		env = append(env, *m.Env+"="+strings.TrimRight(string(data), "\n"))
		if m.Target == "" {
			return nil, env, nil
		}
	}
	target := m.Target
	if target == "" {
		target = "/run/secrets/" + id
	}
	file := filepath.Join(bundle, fmt.Sprintf("secret-%d", i))
	mode := os.FileMode(0o400)
	if m.Mode != nil {
		mode = os.FileMode(*m.Mode)
	}
	if err := os.WriteFile(file, data, mode); err != nil {
		return nil, nil, err
	}
	uid, gid := 0, 0
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	if err := os.Chown(file, uid, gid); err != nil {
		return nil, nil, err
	}
	return []specs.Mount{spec.BindMount(file, target, true)}, env, nil
}

func readSecret(sec Secret) ([]byte, error) {
	if sec.File != "" {
		return os.ReadFile(sec.File)
	}
	v, ok := os.LookupEnv(sec.Env)
	if !ok {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "environment variable %s is not set", sec.Env)
	}
	return []byte(v), nil
}
