package main

import (
	"archive/tar"
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
	return &cobra.Command{
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
					return mgr.CopyFrom(cmd.Context(), srcCtr, srcPath, c.stdout)
				}
				return copyOutToHost(cmd, mgr, srcCtr, srcPath, dstPath)
			case dstIn:
				if srcPath == "-" {
					return mgr.CopyTo(cmd.Context(), dstCtr, dstPath, c.stdin)
				}
				return copyInFromHost(cmd, mgr, srcPath, dstCtr, dstPath)
			}
			return errdefs.Newf(errdefs.ErrInvalidArgument, "must specify at least one container source")
		},
	}
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

// copyOutToHost extracts the container path's tar into the host path:
// into it when it is an existing directory, else as that name.
func copyOutToHost(cmd *cobra.Command, mgr *container.Manager, ctr, src, dst string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(mgr.CopyFrom(cmd.Context(), ctr, src, pw)) }()
	defer pr.Close()
	return extractHost(pr, src, dst)
}

func extractHost(r io.Reader, src, dst string) error {
	name := path.Base(path.Clean("/" + src))
	dir, newName := dst, name
	if fi, err := os.Stat(dst); err != nil || !fi.IsDir() {
		dir, newName = filepath.Dir(dst), filepath.Base(dst)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(renameTop(r, pw, name, newName)) }()
	defer pr.Close()
	return archive.ExtractTo(dir, ".", pr, archive.Limits{})
}

// copyInFromHost tars the host path and extracts it into the container:
// into DEST when DEST is a directory there, else as DEST.
func copyInFromHost(cmd *cobra.Command, mgr *container.Manager, src, ctr, dst string) error {
	if _, err := os.Lstat(src); err != nil {
		return errdefs.Newf(errdefs.ErrNotFound, "could not find the file %s in the host", src)
	}
	name := filepath.Base(filepath.Clean(src))
	dir, newName := dst, name
	if !mgr.IsDir(cmd.Context(), ctr, dst) {
		dir, newName = path.Dir(dst), path.Base(dst)
	}
	pr, pw := io.Pipe()
	go func() {
		inner, innerW := io.Pipe()
		go func() { innerW.CloseWithError(archive.WritePath(innerW, filepath.Dir(filepath.Clean(src)), name)) }()
		pw.CloseWithError(renameTop(inner, pw, name, newName))
		inner.Close()
	}()
	defer pr.Close()
	return mgr.CopyTo(cmd.Context(), ctr, dir, pr)
}

// renameTop copies a tar stream, renaming its top-level entry from to to.
func renameTop(r io.Reader, w io.Writer, from, to string) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		if from != to {
			clean := strings.TrimPrefix(hdr.Name, "./")
			if clean == from || strings.HasPrefix(clean, from+"/") {
				hdr.Name = to + strings.TrimPrefix(clean, from)
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}
