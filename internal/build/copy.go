package build

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-dev/strata/internal/buildctx"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/progress"
	"github.com/strata-dev/strata/internal/runtime/spec"
)

// copySpec is what COPY and ADD share.
type copySpec struct {
	name     string // COPY or ADD
	srcs     []string
	dest     string // absolute container path; a trailing "/" kept
	chown    string
	chmod    *os.FileMode
	contents []instructions.SourceContent // heredoc sources
}

func (s *stageRun) newCopySpec(name string, sd instructions.SourcesAndDest, chown, chmod string) (copySpec, error) {
	cs := copySpec{name: name, srcs: sd.SourcePaths, chown: chown, contents: sd.SourceContents}
	cs.dest = sd.DestPath
	if !path.IsAbs(cs.dest) {
		d := path.Join(workdirOr(s.st.Config.Config.WorkingDir), cs.dest)
		if strings.HasSuffix(cs.dest, "/") || cs.dest == "." {
			d += "/"
		}
		cs.dest = d
	}
	if chmod != "" {
		m, err := strconv.ParseUint(chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return cs, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid --chmod=%s: use an octal mode such as 755", chmod)
		}
		mode := os.FileMode(m & 0o777)
		if m&0o4000 != 0 {
			mode |= os.ModeSetuid
		}
		if m&0o2000 != 0 {
			mode |= os.ModeSetgid
		}
		if m&0o1000 != 0 {
			mode |= os.ModeSticky
		}
		cs.chmod = &mode
	}
	if n := len(cs.srcs) + len(cs.contents); n > 1 && !strings.HasSuffix(cs.dest, "/") {
		return cs, errdefs.Newf(errdefs.ErrInvalidArgument, "When using %s with more than one source file, the destination must be a directory and end with a /", name)
	}
	return cs, nil
}

// flags is the step text of the copy flags.
func copyFlags(from, chown, chmod string, link bool) string {
	var f []string
	if from != "" {
		f = append(f, "--from="+from)
	}
	if chown != "" {
		f = append(f, "--chown="+chown)
	}
	if chmod != "" {
		f = append(f, "--chmod="+chmod)
	}
	if link {
		f = append(f, "--link")
	}
	if len(f) == 0 {
		return ""
	}
	return strings.Join(f, " ") + " "
}

// copy executes COPY from the context, a stage or an image.
func (s *stageRun) copy(ctx context.Context, c *instructions.CopyCommand) error {
	if c.Parents || len(c.ExcludePatterns) > 0 {
		return errdefs.Newf(errdefs.ErrUnsupported, "COPY --parents and --exclude are not supported")
	}
	cs, err := s.newCopySpec("COPY", c.SourcesAndDest, c.Chown, c.Chmod)
	if err != nil {
		return err
	}
	in := inputs{Step: "COPY " + copyFlags(c.From, c.Chown, c.Chmod, c.Link) + stepSources(cs)}
	var srcRoot func(func(string) error) error
	if c.From != "" {
		src, err := s.source(ctx, c.From)
		if err != nil {
			return err
		}
		in.From = src.key
		srcRoot = func(fn func(string) error) error { return s.b.withRootfs(ctx, src, fn) }
	} else if len(cs.srcs) > 0 {
		if err := s.contextSum(cs.srcs, &in); err != nil {
			return err
		}
		srcRoot = func(fn func(string) error) error { return fn(s.o.Context.Dir) }
	}
	return s.exec(ctx, c.String(), in, func(ctx context.Context, st *state, v *progress.Vertex) (*imagestore.Layer, error) {
		layer, err := s.b.fsStep(ctx, st, true, func(rootfs string) error {
			if err := writeContents(rootfs, cs); err != nil {
				return err
			}
			if srcRoot == nil {
				return nil
			}
			opts, err := copyOptions(rootfs, cs.chown, cs.chmod, c.From == "")
			if err != nil {
				return err
			}
			if c.From == "" {
				opts.Ignore = s.o.Context.Ignored
			}
			return srcRoot(func(root string) error { return buildctx.Copy(root, cs.srcs, rootfs, cs.dest, opts) })
		})
		if err != nil {
			return nil, err
		}
		st.addHistory(st.shellPrefix()+" #(nop) COPY "+copyHistory(s, cs, in)+" in "+cs.dest+" ", layer, now())
		return layer, nil
	})
}

// contextSum checksums COPY/ADD sources in the context into in.
func (s *stageRun) contextSum(srcs []string, in *inputs) error {
	if s.o.Context == nil {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "no build context: COPY and ADD of local files need one (the Dockerfile came on stdin)")
	}
	sum, err := s.o.Context.Checksum(srcs)
	if err != nil {
		return err
	}
	in.Sources = sum.Digest
	in.Files = make(map[string]string, len(sum.Files))
	for p, d := range sum.Files {
		in.Files[p] = d.String()
	}
	return nil
}

// stepSources is the sources and destination of a COPY or ADD for the
// cache key: paths and heredoc bodies.
func stepSources(cs copySpec) string {
	parts := append([]string{}, cs.srcs...)
	for _, c := range cs.contents {
		parts = append(parts, "<<"+c.Path+"\n"+c.Data)
	}
	return strings.Join(append(parts, cs.dest), " ")
}

// copyHistory is "file:<hash>", "dir:<hash>" or "multi:<hash>", as in
// Docker's classic builder.
func copyHistory(s *stageRun, cs copySpec, in inputs) string {
	hash := strings.TrimPrefix(string(in.Sources), "sha256:")
	if hash == "" {
		hash = strings.TrimPrefix(in.key(), "sha256:")
	}
	kind := "multi"
	if len(cs.srcs) == 0 && len(cs.contents) == 1 {
		kind = "file"
	}
	if len(cs.srcs) == 1 && len(cs.contents) == 0 {
		kind = "file"
		if s.o.Context != nil && in.From == "" {
			matches, _ := filepath.Glob(filepath.Join(s.o.Context.Dir, cs.srcs[0]))
			if len(matches) > 1 {
				kind = "multi"
			} else if fi, err := os.Stat(filepath.Join(s.o.Context.Dir, cs.srcs[0])); err == nil && fi.IsDir() {
				kind = "dir"
			}
		}
	}
	return kind + ":" + hash
}

// copyOptions resolves --chown (names from the image's own /etc/passwd and
// /etc/group) and --chmod. Context files default to root's; files from a
// stage or image keep their owner.
func copyOptions(rootfs, chown string, chmod *os.FileMode, fromContext bool) (buildctx.CopyOptions, error) {
	o := buildctx.CopyOptions{UID: -1, GID: -1, Chmod: chmod, FollowTopSymlink: fromContext, RootfsSymlinks: !fromContext}
	if fromContext {
		o.UID, o.GID = 0, 0
	}
	if chown != "" {
		u, err := spec.ResolveUser(rootfs, chown)
		if err != nil {
			return o, errdefs.Classed(errdefs.ErrInvalidArgument, err)
		}
		o.UID, o.GID = int(u.UID), int(u.GID)
		// Docker: a user without a group takes the same number as its GID.
		if !strings.Contains(chown, ":") {
			o.GID = o.UID
		}
	}
	return o, nil
}

// writeContents writes heredoc sources (COPY <<EOF /dest) into rootfs.
func writeContents(rootfs string, cs copySpec) error {
	if len(cs.contents) == 0 {
		return nil
	}
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return err
	}
	defer func() { _ = root.Close() }() // a directory handle: nothing to flush
	for _, c := range cs.contents {
		dest := strings.TrimPrefix(cs.dest, "/")
		if strings.HasSuffix(cs.dest, "/") || dest == "" {
			dest = path.Join(dest, c.Path)
		}
		if dir := path.Dir(dest); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		mode := os.FileMode(0o644)
		if cs.chmod != nil {
			mode = *cs.chmod
		}
		if err := root.WriteFile(dest, []byte(c.Data), mode); err != nil {
			return err
		}
	}
	return nil
}

// workdir sets the working directory, creating it (a layer) when the
// image does not have it yet.
func (s *stageRun) workdir(ctx context.Context, c *instructions.WorkdirCommand) error {
	wd := workdirPath(s.st.Config.Config.WorkingDir, c.Path)
	return s.exec(ctx, c.String(), inputs{Step: "WORKDIR " + wd}, func(ctx context.Context, st *state, v *progress.Vertex) (*imagestore.Layer, error) {
		layer, err := s.b.fsStep(ctx, st, false, func(rootfs string) error {
			return mkdirInRoot(rootfs, wd)
		})
		if err != nil {
			return nil, err
		}
		st.Config.Config.WorkingDir = wd
		st.addHistory(st.shellPrefix()+" #(nop) WORKDIR "+wd, layer, now())
		return layer, nil
	})
}
