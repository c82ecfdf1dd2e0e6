package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/reference"
)

func (c *cli) tagCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := c.engine()
			if err != nil {
				return err
			}
			target, err := reference.Parse(args[1])
			if err != nil {
				return fmt.Errorf("%q is not a valid repository/tag: %w", args[1], err)
			}
			if target.Digest != "" {
				return errdefs.Newf(errdefs.ErrInvalidArgument, "refusing to create a tag with a digest reference")
			}
			id, err := e.Images.ResolveID(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			_, err = e.Meta.Tag(cmd.Context(), target.String(), id)
			return err
		},
	}
}
