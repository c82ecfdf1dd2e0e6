package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/engine"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/network"
)

// runFlags are the flags create and run share.
type runFlags struct {
	name, workdir, user, hostname, netMode, restart, memory, entrypoint, stopSignal string
	env, envFiles, publish, volumes, labels, addHosts                               []string
	tty, interactive, publishAll, readOnly, rm, detach, sigProxy                    bool
	cpus                                                                            float64
	pids                                                                            int64
	stopTimeout                                                                     int
	detachKeys                                                                      string
}

func (f *runFlags) register(fs *pflag.FlagSet, withRun bool) {
	fs.SetInterspersed(false) // flags after the image belong to the command
	fs.StringVar(&f.name, "name", "", "Assign a name to the container")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "Set environment variables")
	fs.StringArrayVar(&f.envFiles, "env-file", nil, "Read in a file of environment variables")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&f.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "Publish a container's port(s) to the host")
	fs.BoolVarP(&f.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	fs.StringArrayVarP(&f.volumes, "volume", "v", nil, "Bind mount a volume")
	fs.StringVar(&f.netMode, "network", "bridge", "Connect a container to a network (bridge, host, none)")
	fs.StringVar(&f.netMode, "net", "bridge", "Connect a container to a network")
	_ = fs.MarkHidden("net")
	fs.StringVarP(&f.hostname, "hostname", "h", "", "Container host name")
	fs.StringArrayVar(&f.addHosts, "add-host", nil, "Add a custom host-to-IP mapping (host:ip)")
	fs.BoolVar(&f.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.StringVarP(&f.memory, "memory", "m", "", "Memory limit")
	fs.Float64Var(&f.cpus, "cpus", 0, "Number of CPUs")
	fs.Int64Var(&f.pids, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "Set meta data on a container")
	fs.BoolVarP(&f.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.BoolVarP(&f.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVar(&f.rm, "rm", false, "Automatically remove the container when it exits")
	fs.StringVar(&f.restart, "restart", "no", "Restart policy to apply when a container exits")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "Signal to stop the container")
	fs.IntVar(&f.stopTimeout, "stop-timeout", -1, "Timeout (in seconds) to stop a container")
	if withRun {
		fs.BoolVarP(&f.detach, "detach", "d", false, "Run container in background and print container ID")
		fs.StringVar(&f.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
		fs.BoolVar(&f.sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	}
}

func (f *runFlags) options(fs *pflag.FlagSet, args []string) (container.CreateOptions, error) {
	o := container.CreateOptions{
		Name: f.name, Image: args[0], Args: args[1:], WorkingDir: f.workdir, Hostname: f.hostname,
		Tty: f.tty, OpenStdin: f.interactive, PublishAll: f.publishAll, Network: f.netMode,
		ExtraHosts: f.addHosts, ReadOnly: f.readOnly, AutoRemove: f.rm, CPUs: f.cpus, PidsLimit: f.pids,
		StopSignal: f.stopSignal,
	}
	if fs.Changed("entrypoint") {
		ep := []string{f.entrypoint}
		o.Entrypoint = &ep
	}
	if fs.Changed("user") {
		o.User = &f.user
	}
	if fs.Changed("stop-timeout") {
		o.StopTime = &f.stopTimeout
	}
	var err error
	if o.Env, err = readEnv(f.envFiles, f.env); err != nil {
		return o, err
	}
	if f.memory != "" {
		if o.Memory, err = engine.ParseSize(f.memory); err != nil {
			return o, err
		}
	}
	if o.Restart, err = parseRestart(f.restart); err != nil {
		return o, err
	}
	if o.AutoRemove && o.Restart.Name != "no" && o.Restart.Name != "" {
		return o, errdefs.Newf(errdefs.ErrInvalidArgument, "conflicting options: cannot specify both --restart and --rm")
	}
	for _, p := range f.publish {
		ports, err := network.ParsePublish(p)
		if err != nil {
			return o, err
		}
		o.Ports = append(o.Ports, ports...)
	}
	for _, v := range f.volumes {
		b, err := parseVolume(v)
		if err != nil {
			return o, err
		}
		o.Binds = append(o.Binds, b)
	}
	o.Labels = map[string]string{}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		o.Labels[k] = v
	}
	return o, nil
}

// readEnv reads --env-file files then -e values; a bare KEY takes the
// value from strata's own environment, or is dropped, as in Docker.
func readEnv(files, values []string) ([]string, error) {
	var out []string
	add := func(kv string) {
		if strings.Contains(kv, "=") {
			out = append(out, kv)
		} else if v, ok := os.LookupEnv(kv); ok {
			out = append(out, kv+"="+v)
		}
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line != "" && !strings.HasPrefix(line, "#") {
				add(line)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	for _, v := range values {
		add(v)
	}
	return out, nil
}

func parseRestart(s string) (container.RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	p := container.RestartPolicy{Name: name}
	switch name {
	case "", "no":
		p.Name = "no"
	case "always", "unless-stopped":
	case "on-failure":
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return p, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid restart policy format: maximum retry count must be an integer")
			}
			p.MaximumRetryCount = n
		}
		return p, nil
	default:
		return p, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", name)
	}
	if hasCount {
		return p, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid restart policy: maximum retry count can only be used with 'on-failure'")
	}
	return p, nil
}

var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// parseVolume reads -v: /ctr (anonymous), name:/ctr, /host:/ctr[:ro|rw].
func parseVolume(v string) (container.Bind, error) {
	parts := strings.Split(v, ":")
	var b container.Bind
	switch len(parts) {
	case 1:
		b.Destination = parts[0]
		b.Volume = true // anonymous: named at create
	case 2, 3:
		b.Source, b.Destination = parts[0], parts[1]
		if len(parts) == 3 {
			switch parts[2] {
			case "ro":
				b.ReadOnly = true
			case "rw", "z", "Z":
			default:
				return b, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid mode: %s", parts[2])
			}
		}
		if !filepath.IsAbs(b.Source) {
			b.Volume = true
			if !volumeName.MatchString(b.Source) {
				return b, errdefs.Newf(errdefs.ErrInvalidArgument, "create %s: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", b.Source, b.Source)
			}
		}
	default:
		return b, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid volume specification: '%s'", v)
	}
	if !filepath.IsAbs(b.Destination) {
		return b, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid volume specification: '%s': invalid mount config for type \"volume\": invalid mount path: '%s' mount path must be absolute", v, b.Destination)
	}
	if b.Source == "" && b.Volume {
		b.Source = "" // filled with an anonymous name by create
	}
	return b, nil
}

func (c *cli) createCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := c.containers()
			if err != nil {
				return err
			}
			o, err := f.options(cmd.Flags(), args)
			if err != nil {
				return err
			}
			ctr, err := mgr.Create(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.stdout, ctr.ID)
			return nil
		},
	}
	cmd.Flags().Bool("help", false, "Print usage")
	f.register(cmd.Flags(), false)
	return cmd
}

func (c *cli) containers() (*container.Manager, error) {
	e, err := c.engine()
	if err != nil {
		return nil, err
	}
	return e.Containers()
}

func (c *cli) runCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mgr, err := c.containers()
			if err != nil {
				return runError(err)
			}
			o, err := f.options(cmd.Flags(), args)
			if err != nil {
				return runError(err)
			}
			if err := c.checkTty(f.interactive && !f.detach, f.tty); err != nil {
				return err
			}
			ctr, err := mgr.Create(cmd.Context(), o)
			if err != nil {
				return runError(err)
			}
			if f.detach {
				if _, err := mgr.Start(cmd.Context(), ctr.ID, false); err != nil {
					return c.startFailed(mgr, ctr.ID, o.AutoRemove, err)
				}
				fmt.Fprintln(c.stdout, ctr.ID)
				return nil
			}
			if _, err := mgr.Start(cmd.Context(), ctr.ID, true); err != nil {
				return c.startFailed(mgr, ctr.ID, o.AutoRemove, err)
			}
			code, detached, err := c.attach(cmd, mgr, ctr.ID, f.interactive, f.tty, f.detachKeys, f.sigProxy)
			if err != nil || detached {
				return err
			}
			if code != 0 {
				return statusError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().Bool("help", false, "Print usage")
	f.register(cmd.Flags(), true)
	return cmd
}

// runError reports a `run` that failed before its container ran, with
// Docker's exit status 125.
func runError(err error) error {
	return statusError{code: 125, msg: "strata: Error: " + err.Error() + ".\nSee 'strata run --help'."}
}

// startFailed reports a container that did not start with Docker's exit
// codes (125, 126, 127), removing it when --rm asked for that.
func (c *cli) startFailed(mgr *container.Manager, id string, autoRemove bool, err error) error {
	if autoRemove {
		_ = mgr.Remove(context.Background(), id, container.RemoveOptions{Force: true, Volumes: true})
	}
	var se *container.StartError
	if errors.As(err, &se) {
		return statusError{code: se.Code, msg: "strata: Error: " + se.Msg + "."}
	}
	if id != "" { // run
		return runError(err)
	}
	return err
}

// checkTty refuses -i -t when stdin is not a terminal, as Docker does.
func (c *cli) checkTty(stdin, tty bool) error {
	if stdin && tty && !isTerminal(c.stdin) {
		return errors.New("the input device is not a TTY")
	}
	return nil
}

// attach connects the terminal or pipes to a running container. Without a
// terminal, and with sigProxy, the signals strata receives go to the
// container (Docker's --sig-proxy, on by default).
func (c *cli) attach(cmd *cobra.Command, mgr *container.Manager, id string, stdin, tty bool, keys string, sigProxy bool) (int, bool, error) {
	if sigProxy && !tty {
		defer proxySignals(cmd.Context(), mgr, id)()
	}
	o := container.AttachOptions{Stdout: c.stdout, Stderr: c.stderr, Tty: tty}
	if keys != "" {
		k, err := parseDetachKeys(keys)
		if err != nil {
			return 0, false, err
		}
		o.DetachKeys = k
	}
	if stdin {
		o.Stdin = c.stdin
	}
	if tty {
		if f, ok := c.stdin.(*os.File); ok && isTerminal(f) {
			restore, err := makeRaw(int(f.Fd()))
			if err == nil {
				defer restore()
			}
			sizes, stop := watchSize(int(f.Fd()))
			defer stop()
			o.Resize = sizes
		}
	}
	return mgr.Attach(cmd.Context(), id, o)
}

// parseDetachKeys reads Docker's --detach-keys: "ctrl-p,ctrl-q", "a,b".
func parseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			ch := k[5]
			switch {
			case ch >= 'a' && ch <= 'z':
				out = append(out, ch-'a'+1)
			case ch == '@':
				out = append(out, 0)
			case ch >= '[' && ch <= '_':
				out = append(out, ch-'['+27)
			default:
				return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid detach keys (%s) provided", s)
			}
		default:
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid detach keys (%s) provided", s)
		}
	}
	return out, nil
}
