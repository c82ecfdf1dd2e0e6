package main

import (
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
			mgr, err := c.containers()
			if err != nil {
				return err
			}
			return c.inspectAll(cmd, args, tmpl, func(_ *engine.Engine, ref string) (any, error) {
				return mgr.Inspect(cmd.Context(), ref, size)
			})
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return cmd
}

// inspectObject is the top-level `inspect`'s lookup of one name, by
// --type: "container", "image", or "" for a container first, then an
// image, as Docker does.
func (c *cli) inspectObject(cmd *cobra.Command, e *engine.Engine, name string, typ *string, size bool) (any, error) {
	if *typ == "image" {
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
