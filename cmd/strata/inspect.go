package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/engine"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/format"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
)

func (c *cli) imageInspectCommand() *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.inspectAll(cmd, args, tmpl, func(e *engine.Engine, name string) (any, error) {
				return inspectImage(cmd, e, name)
			})
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	return cmd
}

// inspectCommand is the top-level `inspect`: containers first, then
// images, or the --type given.
func (c *cli) inspectCommand() *cobra.Command {
	var tmpl, typ string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on strata objects",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if typ != "" && typ != "image" && typ != "container" {
				return errdefs.Newf(errdefs.ErrInvalidArgument, "%q is not a valid value for --type", typ)
			}
			return c.inspectAll(cmd, args, tmpl, func(e *engine.Engine, name string) (any, error) {
				return c.inspectObject(cmd, e, name, &typ, size)
			})
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	cmd.Flags().StringVar(&typ, "type", "", "Only inspect objects of the given type")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes if the type is container")
	return cmd
}

// inspectAll prints the views lookup finds for names, Docker-style: errors
// on stderr, the found ones on stdout, exit status 1 if any was missing.
func (c *cli) inspectAll(cmd *cobra.Command, names []string, tmpl string, lookup func(*engine.Engine, string) (any, error)) error {
	e, err := c.engine()
	if err != nil {
		return err
	}
	var views []any
	failed := 0
	for _, name := range names {
		v, err := lookup(e, name)
		if err != nil {
			fmt.Fprintf(c.stderr, "Error: %s\n", err)
			failed++
			continue
		}
		views = append(views, v)
	}
	if err := c.printInspect(views, tmpl); err != nil {
		return err
	}
	if failed > 0 {
		return statusError{code: 1}
	}
	return nil
}

func inspectImage(cmd *cobra.Command, e *engine.Engine, name string) (image.InspectView, error) {
	img, err := e.Images.Resolve(cmd.Context(), name)
	if err != nil {
		return image.InspectView{}, err
	}
	cfg, err := loadConfig(e, img)
	if err != nil {
		return image.InspectView{}, err
	}
	tags := familiarAll(img.Tags)
	digests := familiarAll(img.RepoDigests)
	return image.NewInspectView(img.ID, cfg, tags, digests, img.Parent.String(), img.Size, "", img.LastTag), nil
}

// printInspect writes Docker's inspect output: an indented JSON array, or
// one template result per object.
func (c *cli) printInspect(views []any, tmpl string) error {
	if tmpl == "" {
		if views == nil {
			views = []any{}
		}
		b, err := json.MarshalIndent(views, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.stdout, "%s\n", b)
		return err
	}
	t, err := format.Template(tmpl)
	if err != nil {
		return err
	}
	for _, v := range views {
		// Templates see the JSON shape (field names as printed), like Docker.
		var generic any
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // sizes print as integers, not 4.2e+06
		if err := dec.Decode(&generic); err != nil {
			return err
		}
		if err := t.Execute(c.stdout, generic); err != nil {
			return fmt.Errorf("template: %w", err)
		}
		fmt.Fprintln(c.stdout)
	}
	return nil
}

func loadConfig(e *engine.Engine, img metadata.Image) (*image.Config, error) {
	raw, err := e.Content.ReadAll(img.ID, 4<<20)
	if err != nil {
		return nil, fmt.Errorf("config of image %s: %w", img.ID, err)
	}
	return image.ParseConfig(raw)
}

func familiarAll(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, familiar(n))
	}
	return out
}
