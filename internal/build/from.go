package build

import (
	"context"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/metadata"
)

// from sets the stage's starting state: an earlier stage, scratch, or an
// image in the store.
func (s *stageRun) from(ctx context.Context, stage instructions.Stage) error {
	base, err := s.x.Word(stage.BaseName, s.p.meta)
	if err != nil {
		return errdefs.Classed(errdefs.ErrInvalidArgument, err)
	}
	if stage.Platform != "" {
		plat, err := s.x.Word(stage.Platform, s.p.meta)
		if err != nil {
			return errdefs.Classed(errdefs.ErrInvalidArgument, err)
		}
		if err := checkPlatform(plat); err != nil {
			return err
		}
	}
	if j, ok := s.p.stageRef(base, s.idx); ok && s.p.f.Stages[j].Name == strings.ToLower(base) {
		s.st = s.p.results[j].st.clone()
		return nil
	}
	v := s.o.Display.Vertex(s.label("FROM " + base))
	st, err := s.baseState(ctx, base)
	v.Done(err)
	if err != nil {
		return err
	}
	s.st = st
	return nil
}

// baseState loads a base image (or scratch) and pins it in the cache, so
// that its layers outlive an `rmi` as long as the cache refers to them.
func (s *stageRun) baseState(ctx context.Context, base string) (*state, error) {
	hostOS, arch, variant := "linux", "", ""
	p := image.HostPlatform()
	arch, variant = p.Architecture, p.Variant
	if strings.EqualFold(base, "scratch") {
		st := scratchState(hostOS, arch, variant)
		st.base = "scratch"
		st.key = inputs{Step: "FROM scratch", From: hostPlatform()}.key()
		return st, nil
	}
	img, err := s.pullBase(ctx, base)
	if err != nil {
		return nil, err
	}
	raw, err := s.b.Images.Content.ReadAll(img.ID, 4<<20)
	if err != nil {
		return nil, err
	}
	cfg, err := image.ParseConfig(raw)
	if err != nil {
		return nil, err
	}
	st := &state{Config: *cfg, Layers: imageLayers(img), base: base}
	in := inputs{Step: "FROM " + base, From: img.ID.String()}
	if _, hit, err := s.c.lookup(ctx, in); err != nil {
		return nil, err
	} else if !hit || s.c.noCache {
		if err := s.recordStep(ctx, in, st, 0); err != nil {
			return nil, err
		}
	}
	st.key = in.key()
	return st, nil
}

// pullBase resolves a base image, pulling it when the store lacks it or
// --pull asks for the registry's current one, as `docker build` does.
func (s *stageRun) pullBase(ctx context.Context, base string) (metadata.Image, error) {
	img, err := s.b.Images.Resolve(ctx, base)
	if err == nil && !s.o.Pull {
		return img, nil
	}
	if err != nil && !errdefs.IsNotFound(err) {
		return img, err
	}
	if s.b.Pull == nil {
		if err != nil {
			return img, errdefs.Newf(errdefs.ErrNotFound, "base image %q is not in the store: load, import, pull or build it first", base)
		}
		return img, nil
	}
	v := s.o.Display.Vertex("[internal] pull " + base)
	perr := s.b.Pull(ctx, base, v)
	v.Done(perr)
	if perr != nil {
		if err == nil { // --pull with a local copy: keep building with it
			s.o.Display.Notice(fmt.Sprintf("--pull: %s: %v; using the local image", base, perr))
			return img, nil
		}
		return img, fmt.Errorf("base image %q: %w", base, perr)
	}
	return s.b.Images.Resolve(ctx, base)
}

// imageLayers converts an image record's layers.
func imageLayers(img metadata.Image) []imagestore.Layer {
	var out []imagestore.Layer
	for _, l := range img.Layers() {
		out = append(out, imagestore.Layer{Digest: l.Digest, Size: l.Size, MediaType: l.MediaType, DiffID: l.DiffID, DiffSize: l.DiffSize})
	}
	return out
}
