package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/format"
	"github.com/strata-dev/strata/internal/imagestore"
)

func (c *cli) rmiCommand(use string, aliases ...string) *cobra.Command {
	var force, noPrune bool
	cmd := &cobra.Command{
		Use:     use + " [OPTIONS] IMAGE [IMAGE...]",
		Aliases: aliases,
		Short:   "Remove one or more images",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := c.engine()
			if err != nil {
				return err
			}
			failed, deleted := 0, false
			for _, name := range args {
				res, err := e.Images.Remove(cmd.Context(), name, force, noPrune)
				printEvents(c, res.Events, "Untagged: ", "Deleted: ")
				deleted = deleted || res.Deleted()
				if err != nil {
					fmt.Fprintf(c.stderr, "Error: %s\n", err)
					failed++
				}
			}
			if deleted {
				if err := e.PruneUnpacked(cmd.Context()); err != nil {
					fmt.Fprintf(c.stderr, "Error: removing unpacked layers: %s\n", err)
					failed++
				}
			}
			if failed > 0 {
				return statusError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

func printEvents(c *cli, events []imagestore.Event, untagged, deleted string) {
	for _, ev := range events {
		if ev.Untagged != "" {
			fmt.Fprintf(c.stdout, "%s%s\n", untagged, ev.Untagged)
		} else {
			fmt.Fprintf(c.stdout, "%s%s\n", deleted, ev.Deleted)
		}
	}
}

func (c *cli) pruneCommand() *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := c.engine()
			if err != nil {
				return err
			}
			filters, dangling, err := takeDangling(filters)
			if err != nil {
				return err
			}
			all = all || !dangling
			f, err := e.Images.ParseFilter(cmd.Context(), filters, "until", "label", "label!")
			if err != nil {
				return err
			}
			warning := "WARNING! This will remove all dangling images."
			if all {
				warning = "WARNING! This will remove all images without at least one container associated to them."
			}
			if !force && !c.confirm(warning) {
				return nil
			}
			res, err := e.Images.Prune(cmd.Context(), all, f)
			if err == nil && res.Deleted() {
				err = e.PruneUnpacked(cmd.Context())
			}
			if len(res.Events) > 0 {
				fmt.Fprintln(c.stdout, "Deleted Images:")
				printEvents(c, res.Events, "untagged: ", "deleted: ")
				fmt.Fprintln(c.stdout)
			}
			fmt.Fprintf(c.stdout, "Total reclaimed space: %s\n", format.HumanSizePrecise(res.Reclaimed))
			return err
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values (e.g. \"until=<timestamp>\")")
	return cmd
}

// takeDangling removes Docker's dangling=true|false from prune's filters
// and returns its value (true when absent): the Docker CLI sends -a as
// dangling=false, and scripts pass it too.
func takeDangling(filters []string) (rest []string, dangling bool, err error) {
	dangling = true
	for _, f := range filters {
		key, val, _ := strings.Cut(f, "=")
		if strings.ToLower(strings.TrimSpace(key)) != "dangling" {
			rest = append(rest, f)
			continue
		}
		if dangling, err = strconv.ParseBool(val); err != nil {
			return nil, false, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter 'dangling=%s'", val)
		}
	}
	return rest, dangling, nil
}

// confirm asks on stdin like Docker; anything but y/yes declines.
func (c *cli) confirm(warning string) bool {
	fmt.Fprintf(c.stdout, "%s\nAre you sure you want to continue? [y/N] ", warning)
	line, _ := bufio.NewReader(c.stdin).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes"
}
