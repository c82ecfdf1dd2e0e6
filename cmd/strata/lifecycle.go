package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/metadata"
)

// eachContainer runs fn for every argument, printing errors and going on,
// like Docker's multi-container commands; the exit status is 1 if any
// failed.
func (c *cli) eachContainer(args []string, fn func(mgr *container.Manager, ref string) error) error {
	mgr, err := c.containers()
	if err != nil {
		return err
	}
	failed := 0
	for _, ref := range args {
		if err := fn(mgr, ref); err != nil {
			fmt.Fprintf(c.stderr, "Error: %s\n", err)
			failed++
		}
	}
	if failed > 0 {
		return statusError{code: 1}
	}
	return nil
}

func (c *cli) startCommand() *cobra.Command {
	var attach, interactive bool
	var keys string
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if attach || interactive {
				mgr, err := c.containers()
				if err != nil {
					return err
				}
				ctr, err := mgr.Start(cmd.Context(), args[0], true)
				if err != nil {
					return c.startFailed(mgr, "", false, err)
				}
				cfg, err := container.ConfigOf(ctr)
				if err != nil {
					return err
				}
				code, detached, err := c.attach(cmd, mgr, ctr.ID, interactive, cfg.Tty, keys, attach)
				if err != nil || detached {
					return err
				}
				if code != 0 {
					return statusError{code: code}
				}
				return nil
			}
			return c.eachContainer(args, func(mgr *container.Manager, ref string) error {
				if _, err := mgr.Start(cmd.Context(), ref, false); err != nil {
					return err
				}
				fmt.Fprintln(c.stdout, ref)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	cmd.Flags().StringVar(&keys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func (c *cli) stopCommand(use, short string, restart bool) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] CONTAINER [CONTAINER...]",
		Short: short,
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t *int
			if cmd.Flags().Changed("time") {
				t = &timeout
			}
			return c.eachContainer(args, func(mgr *container.Manager, ref string) error {
				if _, err := mgr.Stop(cmd.Context(), ref, t); err != nil {
					return err
				}
				if restart {
					if _, err := mgr.Start(cmd.Context(), ref, false); err != nil {
						return err
					}
				}
				fmt.Fprintln(c.stdout, ref)
				return nil
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "Seconds to wait before killing the container")
	return cmd
}

func (c *cli) killCommand() *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(args, func(mgr *container.Manager, ref string) error {
				if _, err := mgr.Kill(cmd.Context(), ref, signal); err != nil {
					return err
				}
				fmt.Fprintln(c.stdout, ref)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func (c *cli) rmCommand(use string, aliases ...string) *cobra.Command {
	var o container.RemoveOptions
	cmd := &cobra.Command{
		Use:     use + " [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases: aliases,
		Short:   "Remove one or more containers",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(args, func(mgr *container.Manager, ref string) error {
				if err := mgr.Remove(cmd.Context(), ref, o); err != nil {
					return err
				}
				fmt.Fprintln(c.stdout, ref)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&o.Force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&o.Volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	return cmd
}

func (c *cli) waitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(args, func(mgr *container.Manager, ref string) error {
				code, err := mgr.Wait(cmd.Context(), ref)
				if err != nil {
					return err
				}
				fmt.Fprintln(c.stdout, code)
				return nil
			})
		},
	}
}

func (c *cli) pauseCommand(pause bool) *cobra.Command {
	use, short := "unpause", "Unpause all processes within one or more containers"
	if pause {
		use, short = "pause", "Pause all processes within one or more containers"
	}
	return &cobra.Command{
		Use:   use + " CONTAINER [CONTAINER...]",
		Short: short,
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(args, func(mgr *container.Manager, ref string) error {
				var err error
				if pause {
					err = mgr.Pause(cmd.Context(), ref)
				} else {
					err = mgr.Unpause(cmd.Context(), ref)
				}
				if err == nil {
					fmt.Fprintln(c.stdout, ref)
				}
				return err
			})
		},
	}
}

func (c *cli) renameCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := c.containers()
			if err != nil {
				return err
			}
			return mgr.Rename(cmd.Context(), args[0], args[1])
		},
	}
}

func (c *cli) attachCommand() *cobra.Command {
	var noStdin, sigProxy bool
	var keys string
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, ctr, cfg, err := c.lookupContainer(cmd, args[0])
			if err != nil {
				return err
			}
			code, detached, err := c.attach(cmd, mgr, ctr.ID, cfg.OpenStdin && !noStdin, cfg.Tty, keys, sigProxy)
			if err != nil || detached {
				return err
			}
			if code != 0 {
				return statusError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	cmd.Flags().StringVar(&keys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// monitorCommand is the hidden body of a container's monitor process.
func (c *cli) monitorCommand() *cobra.Command {
	var waitAttach bool
	cmd := &cobra.Command{
		Use:    "container-monitor ID",
		Hidden: true,
		Args:   exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := c.containers()
			if err != nil {
				return err
			}
			ready := os.NewFile(3, "ready")
			return mgr.RunMonitor(context.Background(), args[0], ready, waitAttach)
		},
	}
	cmd.Flags().BoolVar(&waitAttach, "wait-attach", false, "start the container when the first client attaches")
	return cmd
}

// lookupContainer opens the container manager and finds ref with its
// configuration.
func (c *cli) lookupContainer(cmd *cobra.Command, ref string) (*container.Manager, metadata.Container, container.Config, error) {
	mgr, err := c.containers()
	if err != nil {
		return nil, metadata.Container{}, container.Config{}, err
	}
	ctr, err := mgr.Get(cmd.Context(), ref)
	if err != nil {
		return nil, ctr, container.Config{}, err
	}
	cfg, err := container.ConfigOf(ctr)
	return mgr, ctr, cfg, err
}
