package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/engine"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/format"
)

func (c *cli) containerPruneCommand() *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := container.ParsePruneFilter(filters, time.Now())
			if err != nil {
				return err
			}
			mgr, err := c.containers()
			if err != nil {
				return err
			}
			if !force && !c.confirm("WARNING! This will remove all stopped containers.") {
				return nil
			}
			rep, err := mgr.Prune(cmd.Context(), f)
			if len(rep.Deleted) > 0 {
				fmt.Fprintln(c.stdout, "Deleted Containers:")
				for _, id := range rep.Deleted {
					fmt.Fprintln(c.stdout, id)
				}
				fmt.Fprintln(c.stdout)
			}
			fmt.Fprintf(c.stdout, "Total reclaimed space: %s\n", format.HumanSizePrecise(rep.Reclaimed))
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values (e.g. \"until=<timestamp>\")")
	return cmd
}

func (c *cli) topCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := c.containers()
			if err != nil {
				return err
			}
			top, err := mgr.Top(cmd.Context(), args[0], strings.Join(args[1:], " "))
			if err != nil {
				return err
			}
			// Docker's settings: min width 20, tab width 1, padding 3.
			w := tabwriter.NewWriter(c.stdout, 20, 1, 3, ' ', 0)
			fmt.Fprintln(w, strings.Join(top.Titles, "\t"))
			for _, p := range top.Processes {
				fmt.Fprintln(w, strings.Join(p, "\t"))
			}
			return w.Flush()
		},
	}
	cmd.Flags().SetInterspersed(false) // everything after the container is for ps
	return cmd
}

func (c *cli) updateCommand() *cobra.Command {
	var memory, restart string
	var cpus float64
	var pids int64
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var o container.UpdateOptions
			fs := cmd.Flags()
			if fs.Changed("memory") {
				n, err := engine.ParseSize(memory)
				if err != nil {
					return err
				}
				if n != 0 { // Docker: 0 leaves the limit as it is
					o.Memory = &n
				}
			}
			if fs.Changed("cpus") && cpus != 0 {
				o.CPUs = &cpus
			}
			if fs.Changed("pids-limit") {
				o.PidsLimit = &pids
			}
			if fs.Changed("restart") {
				p, err := parseRestart(restart)
				if err != nil {
					return err
				}
				o.Restart = &p
			}
			if !fs.Changed("memory") && !fs.Changed("cpus") && !fs.Changed("pids-limit") && !fs.Changed("restart") {
				return errdefs.Newf(errdefs.ErrInvalidArgument, "you must provide one or more flags when using this command")
			}
			return c.eachContainer(args, func(mgr *container.Manager, ref string) error {
				var err error
				if o == (container.UpdateOptions{}) {
					_, err = mgr.Get(cmd.Context(), ref) // only zero values: nothing changes, as in Docker
				} else {
					_, err = mgr.Update(cmd.Context(), ref, o)
				}
				if err != nil {
					return err
				}
				fmt.Fprintln(c.stdout, ref)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&memory, "memory", "m", "", "Memory limit")
	f.Float64Var(&cpus, "cpus", 0, "Number of CPUs")
	f.Int64Var(&pids, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	f.StringVar(&restart, "restart", "", "Restart policy to apply when a container exits")
	return cmd
}
