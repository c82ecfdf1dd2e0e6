package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/imagestore"
)

func (c *cli) execCommand() *cobra.Command {
	var interactive, tty, detach bool
	var env []string
	var workdir, user string
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := c.containers()
			if err != nil {
				return err
			}
			if err := c.checkTty(interactive && !detach, tty); err != nil {
				return err
			}
			o := container.ExecOptions{Args: args[1:], Env: env, WorkingDir: workdir, Tty: tty, Detach: detach,
				Stdout: os.Stdout, Stderr: os.Stderr}
			if cmd.Flags().Changed("user") {
				o.User = &user
			}
			if interactive {
				o.Stdin = os.Stdin
			}
			if tty && interactive && isTerminal(os.Stdin) && !detach {
				if restore, err := makeRaw(int(os.Stdin.Fd())); err == nil {
					defer restore()
				}
				sizes, stop := watchSize(int(os.Stdin.Fd()))
				defer stop()
				o.Resize = sizes
			}
			code, err := mgr.Exec(cmd.Context(), args[0], o)
			if err != nil {
				return c.startFailed(mgr, "", false, err)
			}
			if code != 0 {
				return statusError{code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.BoolVarP(&detach, "detach", "d", false, "Detached mode: run command in the background")
	f.StringArrayVarP(&env, "env", "e", nil, "Set environment variables")
	f.StringVarP(&workdir, "workdir", "w", "", "Working directory inside the container")
	f.StringVarP(&user, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	return cmd
}

func (c *cli) logsCommand() *cobra.Command {
	var follow, timestamps bool
	var tail, since string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := c.containers()
			if err != nil {
				return err
			}
			o := container.LogOptions{Follow: follow, Timestamps: timestamps, Tail: -1, Stdout: c.stdout, Stderr: c.stderr}
			if tail != "" && tail != "all" {
				if _, err := fmt.Sscanf(tail, "%d", &o.Tail); err != nil {
					return fmt.Errorf("invalid tail value %q", tail)
				}
			}
			if since != "" {
				t, err := imagestore.ParseTime(since, time.Now())
				if err != nil {
					return err
				}
				o.Since = t
			}
			return mgr.Logs(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "Follow log output")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "Show timestamps")
	f.StringVarP(&tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	f.StringVar(&since, "since", "", "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\")")
	return cmd
}

func (c *cli) portCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, ctr, cfg, err := c.lookupContainer(cmd, args[0])
			if err != nil {
				return err
			}
			want := ""
			if len(args) == 2 {
				want = args[1]
				if !strings.Contains(want, "/") {
					want += "/tcp"
				}
			}
			found := false
			for _, p := range mgr.PublishedPorts(ctr, cfg) {
				key := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
				host := fmt.Sprintf("%s:%d", hostIPOr(p.HostIP), p.HostPort)
				if want == "" {
					fmt.Fprintf(c.stdout, "%s -> %s\n", key, host)
				} else if key == want {
					fmt.Fprintln(c.stdout, host)
					found = true
				}
			}
			if want != "" && !found {
				return fmt.Errorf("no public port '%s' published for %s", want, args[0])
			}
			return nil
		},
	}
}

func hostIPOr(ip string) string {
	if ip == "" {
		return "0.0.0.0"
	}
	if strings.Contains(ip, ":") {
		return "[" + ip + "]"
	}
	return ip
}
