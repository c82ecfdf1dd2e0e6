package main

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/format"
	"github.com/strata-dev/strata/internal/metadata"
)

// psRow is one line of `ps`; fields are Docker's --format names.
type psRow struct {
	Command      string
	CreatedAt    string
	ID           string
	Image        string
	Labels       string
	LocalVolumes string
	Mounts       string
	Names        string
	Networks     string
	Ports        string
	RunningFor   string
	Size         string
	State        string
	Status       string
}

var psHeaders = map[string]string{
	"Command": "COMMAND", "CreatedAt": "CREATED AT", "ID": "CONTAINER ID", "Image": "IMAGE", "Labels": "LABELS",
	"LocalVolumes": "LOCAL VOLUMES", "Mounts": "MOUNTS", "Names": "NAMES", "Networks": "NETWORKS", "Ports": "PORTS",
	"RunningFor": "CREATED", "Size": "SIZE", "State": "STATE", "Status": "STATUS",
}

const psTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

type psOptions struct {
	all, quiet, size, latest, noTrunc bool
	last                              int
	filters                           []string
	format                            string
}

func (c *cli) psCommand(use string, aliases ...string) *cobra.Command {
	var o psOptions
	cmd := &cobra.Command{
		Use:     use + " [OPTIONS]",
		Aliases: aliases,
		Short:   "List containers",
		Args:    exactArgs(0),
		RunE:    func(cmd *cobra.Command, args []string) error { return c.listContainers(cmd, o) },
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display container IDs")
	f.BoolVarP(&o.size, "size", "s", false, "Display total file sizes")
	f.BoolVarP(&o.latest, "latest", "l", false, "Show the latest created container (includes all states)")
	f.IntVarP(&o.last, "last", "n", -1, "Show n last created containers (includes all states)")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "Filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", "Format output using a custom template")
	return cmd
}

func (c *cli) listContainers(cmd *cobra.Command, o psOptions) error {
	mgr, err := c.containers()
	if err != nil {
		return err
	}
	list, err := mgr.List(cmd.Context())
	if err != nil {
		return err
	}
	match, err := c.containerFilter(cmd, o.filters)
	if err != nil {
		return err
	}
	if o.latest {
		o.last = 1
	}
	now := time.Now()
	table := psTable
	if o.size {
		table += "\t{{.Size}}" // Docker adds the column to its default table
	}
	w, err := format.NewWriter(c.stdout, o.format, table, psHeaders)
	if err != nil && !o.quiet {
		return err
	}
	shown := 0
	for _, ctr := range list {
		if o.last >= 0 && shown >= o.last {
			break
		}
		if o.last < 0 && !o.all && !container.IsRunning(ctr) {
			continue
		}
		if !match(ctr) {
			continue
		}
		shown++
		if o.quiet {
			id := ctr.ID
			if !o.noTrunc {
				id = id[:12]
			}
			fmt.Fprintln(c.stdout, id)
			continue
		}
		row := psRowOf(mgr, cmd, ctr, o, now)
		if err := w.Write(row); err != nil {
			return err
		}
	}
	if o.quiet {
		return nil
	}
	return w.Flush()
}

func psRowOf(mgr *container.Manager, cmd *cobra.Command, ctr metadata.Container, o psOptions, now time.Time) psRow {
	cfg, _ := container.ConfigOf(ctr)
	r := psRow{ID: ctr.ID, Image: imageColumn(mgr, cmd, ctr, o.noTrunc), Names: ctr.Name, State: ctr.State, Networks: cfg.Network,
		CreatedAt: ctr.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"), RunningFor: format.Ago(ctr.Created, now)}
	command := commandString(cfg.Args)
	if !o.noTrunc {
		r.ID = r.ID[:12]
		command = format.Ellipsis(command, 20)
	}
	r.Command = strconv.Quote(command)
	r.Status = containerStatus(ctr, now)
	cfg.Ports = mgr.PublishedPorts(ctr, cfg) // random host ports as resolved at start
	r.Ports = portsString(ctr, cfg)
	var labels []string
	for k, v := range cfg.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	r.Labels = strings.Join(labels, ",")
	if o.size {
		r.Size = containerSize(mgr, cmd, ctr)
	}
	return r
}

// imageColumn is Docker's IMAGE: the name the container was created with
// while it still names the container's image, else the image's ID (short
// unless --no-trunc), as after `rmi -f` or a re-tag.
func imageColumn(mgr *container.Manager, cmd *cobra.Command, ctr metadata.Container, noTrunc bool) string {
	if id, err := mgr.Images.ResolveID(cmd.Context(), ctr.ImageRef); err == nil && id == ctr.ImageID {
		return ctr.ImageRef
	}
	if noTrunc {
		return ctr.ImageID.String()
	}
	return ctr.ImageID.Encoded()[:12]
}

// commandString is Docker's COMMAND: the arguments joined by spaces, those
// with a space inside in single quotes.
func commandString(args []string) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a
		if strings.Contains(a, " ") {
			parts[i] = "'" + a + "'"
		}
	}
	return strings.Join(parts, " ")
}

// containerStatus is Docker's STATUS column.
func containerStatus(ctr metadata.Container, now time.Time) string {
	switch ctr.State {
	case metadata.StateRunning:
		return "Up " + format.HumanDuration(now.Sub(ctr.StartedAt))
	case metadata.StatePaused:
		return "Up " + format.HumanDuration(now.Sub(ctr.StartedAt)) + " (Paused)"
	case metadata.StateRestarting:
		return fmt.Sprintf("Restarting (%d) %s", ctr.ExitCode, format.Ago(ctr.FinishedAt, now))
	case metadata.StateExited:
		if ctr.FinishedAt.IsZero() {
			return fmt.Sprintf("Exited (%d)", ctr.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s", ctr.ExitCode, format.Ago(ctr.FinishedAt, now))
	case metadata.StateRemoving:
		return "Removal In Progress"
	case metadata.StateDead:
		return "Dead"
	}
	return "Created"
}

// portsString is Docker's PORTS column: published ports of a running
// container as 0.0.0.0:8080->80/tcp, exposed ones as 80/tcp; nothing for a
// container that does not run (Docker drops its port map at stop).
func portsString(ctr metadata.Container, cfg container.Config) string {
	if !container.IsRunning(ctr) {
		return ""
	}
	published := map[string]bool{}
	var parts []string
	for _, p := range cfg.Ports {
		parts = append(parts, p.String())
		published[fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)] = true
	}
	var exposed []string
	for p := range cfg.Exposed {
		if !published[p] {
			exposed = append(exposed, p)
		}
	}
	sort.Strings(exposed)
	return strings.Join(append(parts, exposed...), ", ")
}

func containerSize(mgr *container.Manager, cmd *cobra.Command, ctr metadata.Container) string {
	own, virtual, err := mgr.Size(cmd.Context(), ctr)
	if err != nil {
		return "N/A"
	}
	return fmt.Sprintf("%s (virtual %s)", format.HumanSize(own), format.HumanSize(virtual))
}

// containerFilter parses ps --filter: status, name, id, ancestor, label,
// exited. Values of one key are ORed, keys ANDed.
func (c *cli) containerFilter(cmd *cobra.Command, args []string) (func(metadata.Container) bool, error) {
	byKey := map[string][]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "bad format of filter (expected name=value)")
		}
		switch k {
		case "status", "name", "id", "ancestor", "label", "exited":
		default:
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter '%s'", k)
		}
		byKey[k] = append(byKey[k], v)
	}
	ancestors := map[string]bool{}
	if vals := byKey["ancestor"]; len(vals) > 0 {
		e, err := c.engine()
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			if id, err := e.Images.ResolveID(cmd.Context(), v); err == nil {
				ancestors[id.String()] = true
			}
		}
	}
	return func(ctr metadata.Container) bool {
		cfg, _ := container.ConfigOf(ctr)
		for k, vals := range byKey {
			if !anyMatch(vals, func(v string) bool { return filterOne(k, v, ctr, cfg, ancestors) }) {
				return false
			}
		}
		return true
	}, nil
}

func filterOne(key, v string, ctr metadata.Container, cfg container.Config, ancestors map[string]bool) bool {
	switch key {
	case "status":
		return ctr.State == v
	case "name":
		re, err := regexp.Compile(v)
		return err == nil && re.MatchString(ctr.Name)
	case "id":
		return strings.HasPrefix(ctr.ID, v)
	case "ancestor":
		return ancestors[ctr.ImageID.String()] || ctr.ImageRef == v
	case "label":
		k, val, has := strings.Cut(v, "=")
		got, ok := cfg.Labels[k]
		return ok && (!has || got == val)
	case "exited":
		n, err := strconv.Atoi(v)
		return err == nil && ctr.State == metadata.StateExited && ctr.ExitCode == n
	}
	return false
}

func anyMatch(vals []string, fn func(string) bool) bool {
	for _, v := range vals {
		if fn(v) {
			return true
		}
	}
	return false
}
