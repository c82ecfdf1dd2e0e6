package main

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/engine"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/reference"
	"github.com/strata-dev/strata/internal/remote"
	"github.com/strata-dev/strata/internal/transfer"
)

func (c *cli) pullCommand() *cobra.Command {
	var all, quiet bool
	var platform string
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := reference.ParseNamed(args[0])
			if err != nil {
				return err
			}
			if all && (ref.Tag != "" || ref.Digest != "") {
				return usageError{err: fmt.Errorf("tag can't be used with --all-tags/-a"), cmd: cmd.CommandPath()}
			}
			plat := image.HostPlatform()
			if platform != "" {
				if plat, err = image.ParsePlatform(platform); err != nil {
					return err
				}
			}
			out := c.stdout
			if quiet {
				out = io.Discard
			}
			e, client, cfg, err := c.remote()
			if err != nil {
				return err
			}
			tags := []string{ref.Tag}
			if ref.Tag == "" && ref.Digest == "" && !all {
				fmt.Fprintln(out, "Using default tag: latest")
				tags = []string{"latest"}
			}
			repo, err := client.Repository(cmd.Context(), ref, "pull")
			if err != nil {
				return err
			}
			if all {
				if tags, err = repo.Tags(cmd.Context()); err != nil {
					return err
				}
				fmt.Fprintf(out, "Pulling all tags of %s\n", ref.Name())
			}
			progress := transferProgress(out, "Pulling fs layer", "Already exists", "Download complete", "Pull complete")
			fresh := false
			for _, tag := range tags {
				r := ref
				if ref.Digest == "" {
					r.Tag = tag
				}
				// The header comes once the manifest is found, as Docker's.
				var once sync.Once
				header := func() { fmt.Fprintf(out, "%s: Pulling from %s\n", r.Object(), ref.Path) }
				p := &transfer.Puller{Images: e.Images, Platform: plat, Parallel: cfg.MaxDownloads, Progress: func(ev transfer.Event) {
					once.Do(header)
					progress(ev)
				}}
				res, err := p.Pull(cmd.Context(), repo, r)
				if err != nil {
					return pullError(ref, err)
				}
				once.Do(header)
				fmt.Fprintf(out, "Digest: %s\n", res.Digest)
				fresh = fresh || res.Fresh
				if !all {
					fmt.Fprintf(out, "Status: %s for %s\n", pullStatus(res.Fresh), r.Familiar())
					fmt.Fprintln(c.stdout, r.String())
				}
			}
			if all {
				fmt.Fprintf(out, "Status: %s for %s\n", pullStatus(fresh), ref.FamiliarName())
				fmt.Fprintln(c.stdout, ref.Name())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all-tags", "a", false, "Download all tagged images in the repository")
	f.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	f.StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

// remote opens the store, the config file and a registry client.
func (c *cli) remote() (*engine.Engine, *remote.Client, engine.Config, error) {
	e, err := c.engine()
	if err != nil {
		return nil, nil, engine.Config{}, err
	}
	client, cfg, err := e.Remote()
	return e, client, cfg, err
}

func pullStatus(fresh bool) string {
	if fresh {
		return "Downloaded newer image"
	}
	return "Image is up to date"
}

// pullError words a refused repository as Docker does; a missing manifest
// keeps the registry's "manifest for X not found".
func pullError(ref reference.Reference, err error) error {
	if errdefs.IsPermission(err) {
		return fmt.Errorf("pull access denied for %s, repository does not exist or may require 'strata login': %w", ref.FamiliarName(), err)
	}
	return err
}

func (c *cli) pushCommand() *cobra.Command {
	var all, quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := reference.ParseNamed(args[0])
			if err != nil {
				return err
			}
			if ref.Digest != "" {
				return errdefs.Newf(errdefs.ErrInvalidArgument, "cannot push a digest reference")
			}
			e, client, cfg, err := c.remote()
			if err != nil {
				return err
			}
			tags := []string{ref.Tag}
			if ref.Tag == "" {
				if all {
					if tags, err = localTags(cmd, c, ref); err != nil {
						return err
					}
				} else {
					tags = []string{"latest"}
				}
			}
			out := c.stdout
			if quiet {
				out = io.Discard
			}
			if ref.Tag == "" && !all {
				fmt.Fprintln(out, "Using default tag: latest")
			}
			fmt.Fprintf(out, "The push refers to repository [%s]\n", ref.Name())
			repo, err := client.Repository(cmd.Context(), ref, "pull", "push")
			if err != nil {
				return err
			}
			p := &transfer.Pusher{Images: e.Images, Parallel: cfg.MaxUploads, Progress: transferProgress(out, "Preparing", "Layer already exists", "Pushed", "Mounted from")}
			for _, tag := range tags {
				r := ref
				r.Tag = tag
				img, err := e.Images.Resolve(cmd.Context(), r.String())
				if err != nil {
					return errdefs.Newf(errdefs.ErrNotFound, "an image does not exist locally with the tag: %s", r.FamiliarName())
				}
				dg, size, err := p.Push(cmd.Context(), repo, transfer.Destination{Registry: ref.Domain, Repo: ref.Path, Tag: tag}, img)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s: digest: %s size: %d\n", tag, dg, size)
				if quiet {
					fmt.Fprintln(c.stdout, r.String())
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all-tags", "a", false, "Push all tags of an image to the repository")
	f.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}

// localTags lists the tags the store has for ref's repository.
func localTags(cmd *cobra.Command, c *cli, ref reference.Reference) ([]string, error) {
	e, err := c.engine()
	if err != nil {
		return nil, err
	}
	imgs, err := e.Meta.List(cmd.Context())
	if err != nil {
		return nil, err
	}
	var tags []string
	for _, img := range imgs {
		for _, t := range img.Tags {
			if i := strings.LastIndex(t, ":"); i > 0 && t[:i] == ref.Name() {
				tags = append(tags, t[i+1:])
			}
		}
	}
	if len(tags) == 0 {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "An image does not exist locally with the tag: %s", ref.FamiliarName())
	}
	return tags, nil
}

// lineProgress prints a line per layer when its status changes to one of
// shown (prefix match), as Docker does without a terminal.
func lineProgress(w io.Writer, shown ...string) func(transfer.Event) {
	var mu sync.Mutex
	last := map[string]string{}
	return func(ev transfer.Event) {
		for _, s := range shown {
			if strings.HasPrefix(ev.Status, s) {
				mu.Lock()
				if last[ev.ID] != ev.Status {
					last[ev.ID] = ev.Status
					fmt.Fprintf(w, "%s: %s\n", ev.ID, ev.Status)
				}
				mu.Unlock()
				return
			}
		}
	}
}
