package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/reference"
)

func (c *cli) commitCommand() *cobra.Command {
	var o container.CommitOptions
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := c.containers()
			if err != nil {
				return err
			}
			if len(args) == 2 {
				ref, err := reference.Parse(args[1])
				if err != nil {
					return err
				}
				if ref.Digest != "" {
					return errdefs.Newf(errdefs.ErrInvalidArgument, "refusing to create a tag with a digest reference")
				}
				o.Tag = &ref
			}
			img, err := mgr.Commit(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.stdout, img.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Message, "message", "m", "", "Commit message")
	f.StringVarP(&o.Author, "author", "a", "", "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")")
	f.StringArrayVarP(&o.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	f.BoolVarP(&o.Pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

func (c *cli) diffCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := c.containers()
			if err != nil {
				return err
			}
			changes, err := mgr.Changes(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			for _, ch := range changes {
				fmt.Fprintf(c.stdout, "%c %s\n", ch.Kind, ch.Path)
			}
			return nil
		},
	}
}

func (c *cli) exportCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := c.containers()
			if err != nil {
				return err
			}
			if output == "" {
				if isTerminal(c.stdout) {
					return errdefs.Newf(errdefs.ErrInvalidArgument, "cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
				return mgr.Export(cmd.Context(), args[0], c.stdout)
			}
			return writeAtomic(output, func(w io.Writer) error { return mgr.Export(cmd.Context(), args[0], w) })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// cpCommand copies between a container and the host, or tar streams with
// "-", like docker cp.
func (c *cli) cpCommand() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  strata cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := c.containers()
			if err != nil {
				return err
			}
			srcCtr, srcPath, srcIn := splitCp(args[0])
			dstCtr, dstPath, dstIn := splitCp(args[1])
			switch {
			case srcIn && dstIn:
				return errdefs.Newf(errdefs.ErrInvalidArgument, "copying between containers is not supported")
			case srcIn:
				if dstPath == "-" {
					return mgr.CopyFrom(cmd.Context(), srcCtr, srcPath, follow, c.stdout)
				}
				return copyOutToHost(cmd, mgr, srcCtr, srcPath, dstPath, follow)
			case dstIn:
				if srcPath == "-" {
					return mgr.CopyTo(cmd.Context(), dstCtr, dstPath, c.stdin)
				}
				return copyInFromHost(cmd, mgr, srcPath, dstCtr, dstPath, follow)
			}
			return errdefs.Newf(errdefs.ErrInvalidArgument, "must specify at least one container source")
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	return cmd
}

func splitCp(arg string) (ctr, path string, inContainer bool) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") || arg == "-" {
		return "", arg, false
	}
	ctr, path, ok := strings.Cut(arg, ":")
	if !ok {
		return "", arg, false
	}
	return ctr, path, true
}

// cpTarget decides, by docker cp's rules, where a copied source lands: the
// directory to extract into and the name its top entry takes there ("" for
// the contents of a directory, SRC_PATH/.).
//
//   - DEST is a directory: the source goes into it (its contents, for /.);
//   - DEST is a file: a file overwrites it, a directory is an error;
//   - DEST does not exist: the source is created as DEST, but DEST/ must
//     name an existing directory for a file.
func cpTarget(srcIsDir bool, src, dst string, exists, isDir bool) (dir, name string, err error) {
	contents := srcIsDir && (strings.HasSuffix(src, "/.") || src == ".")
	switch {
	case exists && isDir && contents:
		return dst, "", nil
	case exists && isDir:
		return dst, path.Base(path.Clean("/" + src)), nil
	case exists && srcIsDir:
		return "", "", errdefs.Newf(errdefs.ErrInvalidArgument, "cannot copy a directory to %s: it is a file", dst)
	case !exists && !srcIsDir && strings.HasSuffix(dst, "/"):
		return "", "", errdefs.Newf(errdefs.ErrNotFound, "destination directory %s does not exist", dst)
	}
	clean := path.Clean(dst)
	return path.Dir(clean), path.Base(clean), nil
}

// copyOutToHost extracts the container path's tar where cpTarget says on
// the host.
func copyOutToHost(cmd *cobra.Command, mgr *container.Manager, ctr, src, dst string, follow bool) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(mgr.CopyFrom(cmd.Context(), ctr, src, follow, pw)) }()
	defer pr.Close()
	tr := tar.NewReader(pr)
	top, err := tr.Next()
	if err != nil {
		return err
	}
	fi, statErr := os.Stat(dst)
	dir, name, err := cpTarget(top.Typeflag == tar.TypeDir, src, dst, statErr == nil, statErr == nil && fi.IsDir())
	if err != nil {
		return err
	}
	r := renamed(top, tr, name)
	defer r.Close()
	return archive.ExtractTo(dir, ".", r, archive.Limits{})
}

// copyInFromHost tars the host path and extracts it where cpTarget says
// in the container.
func copyInFromHost(cmd *cobra.Command, mgr *container.Manager, src, ctr, dst string, follow bool) error {
	stat := os.Lstat
	if follow {
		stat = os.Stat
	}
	fi, err := stat(src)
	if err != nil {
		return errdefs.Newf(errdefs.ErrNotFound, "could not find the file %s in the host", src)
	}
	exists, isDir, err := mgr.Stat(cmd.Context(), ctr, dst)
	if err != nil {
		return err
	}
	dir, name, err := cpTarget(fi.IsDir(), filepath.ToSlash(src), dst, exists, isDir)
	if err != nil {
		return err
	}
	base := filepath.Base(filepath.Clean(src))
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(archive.WritePathWith(pw, filepath.Dir(filepath.Clean(src)), base, archive.PathOptions{FollowSymlink: follow}))
	}()
	defer pr.Close()
	tr := tar.NewReader(pr)
	top, err := tr.Next()
	if err != nil {
		return err
	}
	r := renamed(top, tr, name)
	defer r.Close()
	return mgr.CopyTo(cmd.Context(), ctr, dir, r)
}

// renamed re-writes a tar stream whose first entry, top, was read already:
// top becomes name and what is below it name/...; an empty name drops top
// and puts what is below it at the top (SRC_PATH/.). Hard link targets
// follow the same renaming.
func renamed(top *tar.Header, tr *tar.Reader, name string) io.ReadCloser {
	from := path.Clean(top.Name)
	rename := func(n string) (string, bool) {
		c := path.Clean(n)
		switch {
		case c == from:
			return name, name != ""
		case from == ".":
		case strings.HasPrefix(c, from+"/"):
			c = strings.TrimPrefix(c, from+"/")
		default:
			return n, true
		}
		if name != "" {
			c = name + "/" + c
		}
		return c, true
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		hdr, err := top, error(nil)
		for err == nil {
			n, keep := rename(hdr.Name)
			if keep {
				hdr.Name = n
				if hdr.Typeflag == tar.TypeLink {
					hdr.Linkname, _ = rename(hdr.Linkname)
				}
				if err = tw.WriteHeader(hdr); err == nil {
					_, err = io.Copy(tw, tr)
				}
			}
			if err == nil {
				hdr, err = tr.Next()
			}
		}
		if errors.Is(err, io.EOF) {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}
