package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/engine"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagearchive"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/reference"
)

func (c *cli) saveCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := c.engine()
			if err != nil {
				return err
			}
			if output == "" {
				if isTerminal(c.stdout) {
					return errdefs.Newf(errdefs.ErrInvalidArgument, "cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
				return imagearchive.Save(cmd.Context(), e.Images, c.stdout, args)
			}
			return writeAtomic(output, func(w io.Writer) error {
				return imagearchive.Save(cmd.Context(), e.Images, w, args)
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// writeAtomic writes path through a temporary file in the same directory,
// so an interrupted save never leaves a truncated archive under its name.
func writeAtomic(path string, fn func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fn(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (c *cli) loadCommand() *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := c.engine()
			if err != nil {
				return err
			}
			r := c.stdin
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			} else if isTerminal(c.stdin) {
				return errdefs.Newf(errdefs.ErrInvalidArgument, "requested load from stdin, but stdin is empty")
			}
			owners, err := tagOwners(cmd.Context(), e)
			if err != nil {
				return err
			}
			loaded, err := imagearchive.Load(cmd.Context(), e.Images, r, imagearchive.LoadOptions{Limits: e.Limits})
			if err != nil {
				return err
			}
			for _, l := range loaded {
				if len(l.Tags) == 0 {
					fmt.Fprintf(c.stdout, "Loaded image ID: %s\n", l.ID)
				}
				for _, t := range l.Tags {
					if prev, ok := owners[t]; ok && prev != l.ID {
						fmt.Fprintf(c.stdout, "The image %s already exists, renaming the old one with ID %s to empty string\n", t, prev)
					}
					fmt.Fprintf(c.stdout, "Loaded image: %s\n", t)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

func (c *cli) importCommand() *cobra.Command {
	var changes []string
	var message, platform string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := c.engine()
			if err != nil {
				return err
			}
			// Docker's CLI streams a file as "-"; only a URL is named.
			source := "-"
			if strings.HasPrefix(args[0], "http://") || strings.HasPrefix(args[0], "https://") {
				source = args[0]
			}
			opts := imagestore.ImportOptions{Source: source, Message: message, Changes: changes, Limits: e.Limits, Platform: image.HostPlatform()}
			if platform != "" {
				if opts.Platform, err = image.ParsePlatform(platform); err != nil {
					return err
				}
			}
			if len(args) == 2 {
				ref, err := reference.Parse(args[1])
				if err != nil {
					return fmt.Errorf("%q is not a valid repository/tag: %w", args[1], err)
				}
				if ref.Digest != "" {
					return errdefs.Newf(errdefs.ErrInvalidArgument, "refusing to create a tag with a digest reference")
				}
				opts.Tags = append(opts.Tags, ref)
			}
			r, closeFn, err := c.openSource(args[0])
			if err != nil {
				return err
			}
			defer closeFn()
			img, err := e.Images.Import(cmd.Context(), r, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.stdout, img.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	f.StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	f.StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

// openSource opens import's source: "-" for stdin, an http(s) URL, or a file.
func (c *cli) openSource(src string) (io.Reader, func(), error) {
	switch {
	case src == "-":
		return c.stdin, func() {}, nil
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		client := &http.Client{Timeout: 30 * time.Minute}
		resp, err := client.Get(src) //nolint:bodyclose // the returned func closes it
		if err != nil {
			return nil, nil, errdefs.Classed(errdefs.ErrUnavailable, fmt.Errorf("download %s: %w", src, err))
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, nil, errdefs.Newf(errdefs.ErrUnavailable, "download %s: %s", src, resp.Status)
		}
		return resp.Body, func() { resp.Body.Close() }, nil
	}
	f, err := os.Open(src)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil, errdefs.Newf(errdefs.ErrNotFound, "open %s: no such file or directory", src)
		}
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// tagOwners maps every familiar tag to its image, so that load can say,
// as Docker does, which image lost a name to a loaded one.
func tagOwners(ctx context.Context, e *engine.Engine) (map[string]digest.Digest, error) {
	imgs, err := e.Meta.List(ctx)
	if err != nil {
		return nil, err
	}
	owners := map[string]digest.Digest{}
	for _, img := range imgs {
		for _, t := range img.Tags {
			owners[familiar(t)] = img.ID
		}
	}
	return owners, nil
}

func familiar(name string) string { return imagestore.Familiar(name) }
