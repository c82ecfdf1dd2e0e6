package build

import (
	"bufio"
	"context"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/buildctx"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/fetch"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/progress"
)

// add executes ADD: local archives (tar, gzip, bzip2, xz, zstd) are
// extracted into the destination, URLs downloaded (not extracted), other
// files copied as COPY does.
func (s *stageRun) add(ctx context.Context, c *instructions.AddCommand) error {
	if len(c.ExcludePatterns) > 0 {
		return errdefs.Newf(errdefs.ErrUnsupported, "ADD --exclude is not supported")
	}
	cs, err := s.newCopySpec("ADD", c.SourcesAndDest, c.Chown, c.Chmod)
	if err != nil {
		return err
	}
	var urls, local []string
	for _, src := range cs.srcs {
		if fetch.IsURL(src) {
			urls = append(urls, src)
		} else if strings.HasPrefix(src, "git@") || strings.HasSuffix(src, ".git") {
			return errdefs.Newf(errdefs.ErrUnsupported, "ADD of a git repository (%s) is not supported", src)
		} else {
			local = append(local, src)
		}
	}
	if c.Checksum != "" && len(local) > 0 {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "ADD --checksum applies to URL sources only")
	}
	unpack := c.Unpack == nil || *c.Unpack
	key, err := stepKey()
	if err != nil {
		return err
	}
	downloads, cleanup, err := s.download(ctx, urls, c.Checksum, filepath.Join(s.b.workDir(), key+".dl"))
	defer cleanup()
	if err != nil {
		return err
	}
	in := inputs{Step: "ADD " + copyFlags("", c.Chown, c.Chmod, c.Link) + stepSources(cs)}
	if len(local) > 0 {
		if err := s.contextSum(local, &in); err != nil {
			return err
		}
	}
	for _, d := range downloads {
		in.Step += " " + d.Digest.String()
	}
	if !unpack {
		in.Step += " --unpack=false"
	}
	return s.exec(ctx, c.String(), in, func(ctx context.Context, st *state, v *progress.Vertex) (*imagestore.Layer, error) {
		layer, err := s.b.fsStep(ctx, st, true, func(rootfs string) error {
			if err := writeContents(rootfs, cs); err != nil {
				return err
			}
			opts, err := copyOptions(rootfs, cs.chown, cs.chmod, true)
			if err != nil {
				return err
			}
			for _, d := range downloads {
				if err := buildctx.Copy(filepath.Dir(d.Path), []string{filepath.Base(d.Path)}, rootfs, cs.dest, opts); err != nil {
					return err
				}
			}
			for _, src := range local {
				if err := s.addLocal(rootfs, src, cs.dest, unpack, opts); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		st.addHistory(st.shellPrefix()+" #(nop) ADD "+copyHistory(s, cs, in)+" in "+cs.dest+" ", layer, now())
		return layer, nil
	})
}

// download fetches the URL sources into dir, each file named as ADD names
// it (from the URL or Content-Disposition), mode 0600, its mtime from
// Last-Modified.
func (s *stageRun) download(ctx context.Context, urls []string, checksum, dir string) ([]fetch.Result, func(), error) {
	nop := func() {}
	if len(urls) == 0 {
		return nil, nop, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nop, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	var out []fetch.Result
	for i, u := range urls {
		v := s.o.Display.Vertex("[internal] download " + u)
		sub := filepath.Join(dir, string(rune('a'+i%26))+strings.Repeat("x", i/26))
		if err := os.Mkdir(sub, 0o700); err != nil {
			return nil, cleanup, err
		}
		r, err := fetch.Download(ctx, u, sub, fetch.Options{AllowPrivate: s.o.AllowPrivate, Checksum: digest.Digest(checksum)})
		if err == nil {
			named := filepath.Join(sub, r.Name)
			if err = os.Rename(r.Path, named); err == nil {
				r.Path = named
				err = os.Chmod(named, 0o600)
			}
			if err == nil && !r.Modified.IsZero() {
				err = os.Chtimes(named, time.Now(), r.Modified)
			}
		}
		v.Done(err)
		if err != nil {
			return nil, cleanup, err
		}
		out = append(out, r)
	}
	return out, cleanup, nil
}

// addLocal adds one context source: an archive file is extracted into
// dest, anything else copied.
func (s *stageRun) addLocal(rootfs, src, dest string, unpack bool, opts buildctx.CopyOptions) error {
	matches, err := filepath.Glob(filepath.Join(s.o.Context.Dir, src))
	if err != nil || len(matches) == 0 {
		matches = []string{filepath.Join(s.o.Context.Dir, src)}
	}
	for _, m := range matches {
		rel, err := filepath.Rel(s.o.Context.Dir, m)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return errdefs.Newf(errdefs.ErrPermission, "ADD source %s is outside the build context", src)
		}
		if ignored, _ := s.o.Context.Ignored(filepath.ToSlash(rel)); ignored {
			continue
		}
		if unpack {
			done, err := extractArchive(rootfs, m, dest, s.b.Limits)
			if err != nil {
				return err
			}
			if done {
				continue
			}
		}
		if err := buildctx.Copy(s.o.Context.Dir, []string{rel}, rootfs, dest, opts); err != nil {
			return err
		}
	}
	return nil
}

// extractArchive extracts file into dest when it is a (compressed) tar,
// and reports whether it was one. Extraction has the safety of `cp`: every
// entry stays inside rootfs.
func extractArchive(rootfs, file, dest string, lim archive.Limits) (bool, error) {
	fi, err := os.Lstat(file)
	if err != nil || !fi.Mode().IsRegular() {
		return false, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	rc, _, err := archive.Decompress(f)
	if err != nil {
		return false, nil // not something we can read: copy it as it is
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	head, _ := br.Peek(512)
	if !archive.LooksLikeTar(head) {
		return false, nil
	}
	if err := mkdirInRoot(rootfs, dest); err != nil {
		return true, err
	}
	if err := archive.ExtractTo(rootfs, path.Clean(dest), io.Reader(br), lim); err != nil {
		return true, errdefs.Newf(errdefs.ErrInvalidArgument, "ADD %s: %v", filepath.Base(file), err)
	}
	return true, nil
}
