package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/engine"
	"github.com/strata-dev/strata/internal/errdefs"
)

func (c *cli) containerInspectCommand() *cobra.Command {
	var tmpl string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.inspectContainers(cmd, args, tmpl, size)
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return cmd
}

// inspectContainers prints the inspect views of refs like `docker
// container inspect`: errors on stderr, the found ones on stdout, exit 1
// if any was missing.
func (c *cli) inspectContainers(cmd *cobra.Command, refs []string, tmpl string, size bool) error {
	mgr, err := c.containers()
	if err != nil {
		return err
	}
	var views []any
	failed := 0
	for _, ref := range refs {
		v, err := mgr.Inspect(cmd.Context(), ref, size)
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

// inspectObject is the top-level `inspect`'s lookup of one name: with typ
// nil (image inspect) an image; else by --type: "container", "image", or
// "" for a container first, then an image, as Docker does.
func (c *cli) inspectObject(cmd *cobra.Command, e *engine.Engine, name string, typ *string, size bool) (any, error) {
	if typ == nil || *typ == "image" {
		return inspectImage(cmd, e, name)
	}
	switch *typ {
	case "", "container":
	default:
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "%q is not a valid value for --type", *typ)
	}
	mgr, err := e.Containers()
	if err != nil {
		return nil, err
	}
	v, err := mgr.Inspect(cmd.Context(), name, size)
	if err == nil || *typ == "container" || !errdefs.IsNotFound(err) {
		return v, err
	}
	img, err := inspectImage(cmd, e, name)
	if errdefs.IsNotFound(err) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "No such object: %s", name)
	}
	return img, err
}
