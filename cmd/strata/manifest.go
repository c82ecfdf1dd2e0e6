package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/engine"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/reference"
	"github.com/strata-dev/strata/internal/transfer"
)

// manifestCommand is Docker's `manifest`: manifest lists are made locally
// from images already in registries, then pushed.
func (c *cli) manifestCommand() *cobra.Command {
	m := group("manifest", "Manage Docker image manifests and manifest lists")
	m.AddCommand(c.manifestCreateCommand(), c.manifestAnnotateCommand(), c.manifestInspectCommand(),
		c.manifestPushCommand(), c.manifestRmCommand())
	return m
}

func (c *cli) lists() (transfer.ListStore, *engine.Engine, error) {
	e, err := c.engine()
	if err != nil {
		return transfer.ListStore{}, nil, err
	}
	return transfer.ListStore{Dir: filepath.Join(e.Root, "manifests")}, e, nil
}

func (c *cli) manifestCreateCommand() *cobra.Command {
	var amend bool
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] MANIFEST_LIST MANIFEST [MANIFEST...]",
		Short: "Create a local manifest list for annotating and pushing to a registry",
		Args:  minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, e, err := c.lists()
			if err != nil {
				return err
			}
			listRef, err := reference.Parse(args[0])
			if err != nil {
				return err
			}
			l := &transfer.ManifestList{Name: listRef.String()}
			if old, err := store.Get(l.Name); err == nil {
				if !amend {
					return errdefs.Newf(errdefs.ErrAlreadyExists, "refusing to amend an existing manifest list with no --amend flag")
				}
				l = old
			}
			client, _, err := e.Remote()
			if err != nil {
				return err
			}
			for _, a := range args[1:] {
				ref, err := reference.Parse(a)
				if err != nil {
					return err
				}
				repo, err := client.Repository(cmd.Context(), ref, "pull")
				if err != nil {
					return err
				}
				entry, err := transfer.Entry(cmd.Context(), repo, ref.String(), ref.Object())
				if err != nil {
					return err
				}
				l.Entries = replaceEntry(l.Entries, entry)
			}
			if err := store.Put(l); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "Created manifest list %s\n", l.Name)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&amend, "amend", "a", false, "Amend an existing manifest list")
	cmd.Flags().Bool("insecure", false, "Allow communication with an insecure registry (loopback always is)")
	return cmd
}

// replaceEntry adds e, replacing an entry of the same digest.
func replaceEntry(list []transfer.ListEntry, e transfer.ListEntry) []transfer.ListEntry {
	for i := range list {
		if list[i].Descriptor.Digest == e.Descriptor.Digest {
			list[i] = e
			return list
		}
	}
	return append(list, e)
}

func (c *cli) manifestAnnotateCommand() *cobra.Command {
	var osName, arch, variant string
	var features []string
	cmd := &cobra.Command{
		Use:   "annotate [OPTIONS] MANIFEST_LIST MANIFEST",
		Short: "Add additional information to a local image manifest",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, _, err := c.lists()
			if err != nil {
				return err
			}
			l, err := getList(store, args[0])
			if err != nil {
				return err
			}
			ref, err := reference.Parse(args[1])
			if err != nil {
				return err
			}
			for i := range l.Entries {
				if l.Entries[i].Ref != ref.String() && l.Entries[i].Descriptor.Digest != ref.Digest {
					continue
				}
				p := l.Entries[i].Descriptor.Platform
				if osName != "" {
					p.OS = osName
				}
				if arch != "" {
					p.Architecture = arch
				}
				if variant != "" {
					p.Variant = variant
				}
				if len(features) > 0 {
					p.OSFeatures = features
				}
				return store.Put(l)
			}
			return errdefs.Newf(errdefs.ErrNotFound, "manifest for image %s does not exist in %s", args[1], args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&osName, "os", "", "Set operating system")
	f.StringVar(&arch, "arch", "", "Set architecture")
	f.StringVar(&variant, "variant", "", "Set architecture variant")
	f.StringSliceVar(&features, "os-features", nil, "Set operating system feature")
	return cmd
}

func getList(store transfer.ListStore, name string) (*transfer.ManifestList, error) {
	ref, err := reference.Parse(name)
	if err != nil {
		return nil, err
	}
	return store.Get(ref.String())
}

func (c *cli) manifestInspectCommand() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] [MANIFEST_LIST] MANIFEST",
		Short: "Display an image manifest, or manifest list",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, e, err := c.lists()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				if l, err := getList(store, args[0]); err == nil {
					raw, _, err := l.Index()
					if err != nil {
						return err
					}
					if verbose {
						return c.printJSON(l.Entries)
					}
					fmt.Fprintln(c.stdout, string(raw))
					return nil
				}
			}
			ref, err := reference.Parse(args[len(args)-1])
			if err != nil {
				return err
			}
			client, _, err := e.Remote()
			if err != nil {
				return err
			}
			repo, err := client.Repository(cmd.Context(), ref, "pull")
			if err != nil {
				return err
			}
			raw, mt, dg, err := repo.Manifest(cmd.Context(), ref.Object())
			if err != nil {
				return err
			}
			if verbose {
				return c.printJSON(map[string]any{"Ref": ref.String(), "Descriptor": map[string]any{"mediaType": mt, "digest": dg, "size": len(raw)}, "Raw": json.RawMessage(raw)})
			}
			var buf bytes.Buffer
			if json.Indent(&buf, raw, "", "   ") != nil {
				buf.Reset()
				buf.Write(raw)
			}
			fmt.Fprintln(c.stdout, buf.String())
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "Output additional info including layers and platform")
	cmd.Flags().Bool("insecure", false, "Allow communication with an insecure registry (loopback always is)")
	return cmd
}

func (c *cli) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, string(b))
	return nil
}

func (c *cli) manifestPushCommand() *cobra.Command {
	var purge bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] MANIFEST_LIST",
		Short: "Push a manifest list to a repository",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, e, err := c.lists()
			if err != nil {
				return err
			}
			l, err := getList(store, args[0])
			if err != nil {
				return err
			}
			listRef, err := reference.Parse(l.Name)
			if err != nil {
				return err
			}
			client, _, err := e.Remote()
			if err != nil {
				return err
			}
			repo, err := client.Repository(cmd.Context(), listRef, "pull", "push")
			if err != nil {
				return err
			}
			repoOf := func(s string) (string, string, error) {
				r, err := reference.Parse(s)
				return r.Domain, r.Path, err
			}
			dg, err := transfer.PushList(cmd.Context(), repo, l, listRef.Tag, repoOf, listRef.Domain, listRef.Path)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.stdout, dg)
			if purge {
				return store.Remove(l.Name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&purge, "purge", "p", false, "Remove the local manifest list after push")
	cmd.Flags().Bool("insecure", false, "Allow push to an insecure registry (loopback always is)")
	return cmd
}

func (c *cli) manifestRmCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rm MANIFEST_LIST [MANIFEST_LIST...]",
		Short: "Delete one or more manifest lists from local storage",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, _, err := c.lists()
			if err != nil {
				return err
			}
			var failed error
			for _, a := range args {
				ref, err := reference.Parse(a)
				if err == nil {
					err = store.Remove(ref.String())
				}
				if err != nil {
					fmt.Fprintf(c.stderr, "Error: %v\n", err)
					failed = statusError{code: 1}
				}
			}
			return failed
		},
	}
}
