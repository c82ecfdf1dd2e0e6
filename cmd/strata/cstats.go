package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/format"
	"github.com/strata-dev/strata/internal/metadata"
)

// statsRow is one line of `stats`; fields are Docker's --format names, in
// the order Docker's {{json .}} prints them.
type statsRow struct {
	BlockIO   string
	CPUPerc   string
	Container string
	ID        string
	MemPerc   string
	MemUsage  string
	Name      string
	NetIO     string
	PIDs      string
}

var statsHeaders = map[string]string{
	"BlockIO": "BLOCK I/O", "CPUPerc": "CPU %", "Container": "CONTAINER", "ID": "CONTAINER ID", "MemPerc": "MEM %",
	"MemUsage": "MEM USAGE / LIMIT", "Name": "NAME", "NetIO": "NET I/O", "PIDs": "PIDS",
}

const statsTable = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

// statsInterval is the time between two samples, and between redraws.
const statsInterval = time.Second

type statsOptions struct {
	all, noStream, noTrunc bool
	format                 string
}

func (c *cli) statsCommand() *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runStats(cmd, args, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVar(&o.noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Do not truncate output")
	f.StringVar(&o.format, "format", "", "Format output using a custom template")
	return cmd
}

// statsTarget is one container shown: label is its CONTAINER column (the
// name given, or the short ID when listing all); err a lookup failure.
type statsTarget struct {
	label string
	ctr   metadata.Container
	err   error
}

func (c *cli) runStats(cmd *cobra.Command, names []string, o statsOptions) error {
	if _, err := format.NewWriter(&bytes.Buffer{}, o.format, statsTable, statsHeaders); err != nil {
		return err
	}
	mgr, err := c.containers()
	if err != nil {
		return err
	}
	reader, err := mgr.NewStatsReader()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	targets := func() ([]statsTarget, error) { return statsTargets(ctx, mgr, names, o.all) }
	list, err := targets()
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range list {
		if t.err != nil {
			errs = append(errs, t.err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// A first sample, so the first frame can show CPU use over an interval.
	prev := sampleAll(reader, list)
	for {
		if !sleepCtx(ctx, statsInterval) {
			return nil
		}
		if list, err = targets(); err != nil {
			return err
		}
		cur := sampleAll(reader, list)
		frame, err := statsFrame(list, prev, cur, o)
		if err != nil {
			return err
		}
		if !o.noStream {
			frame = redraw(frame)
		}
		if _, err := c.stdout.Write(frame); err != nil {
			return err
		}
		if o.noStream {
			return nil
		}
		prev = cur
	}
}

// statsTargets lists the containers to show: the named ones (a missing one
// carries its error), or all running ones (all with -a).
func statsTargets(ctx context.Context, mgr *container.Manager, names []string, all bool) ([]statsTarget, error) {
	if len(names) > 0 {
		out := make([]statsTarget, len(names))
		for i, n := range names {
			ctr, err := mgr.Get(ctx, n)
			out[i] = statsTarget{label: n, ctr: ctr, err: err}
		}
		return out, nil
	}
	list, err := mgr.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []statsTarget
	for _, ctr := range list {
		if all || container.IsRunning(ctr) {
			out = append(out, statsTarget{label: ctr.ID[:12], ctr: ctr})
		}
	}
	return out, nil
}

// sampleAll reads every target's counters, keyed by container ID; a
// container that cannot be read is left out (its row shows "--").
func sampleAll(r *container.StatsReader, list []statsTarget) map[string]container.Sample {
	out := map[string]container.Sample{}
	for _, t := range list {
		if t.err != nil {
			continue
		}
		if s, err := r.Sample(t.ctr); err == nil {
			out[t.ctr.ID] = s
		}
	}
	return out
}

// statsFrame renders one table (or one line per container) of usage
// between the prev and cur samples.
func statsFrame(list []statsTarget, prev, cur map[string]container.Sample, o statsOptions) ([]byte, error) {
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, o.format, statsTable, statsHeaders)
	if err != nil {
		return nil, err
	}
	for _, t := range list {
		s, ok := cur[t.ctr.ID]
		if t.err != nil || !ok {
			if err := w.Write(invalidStatsRow(t.label)); err != nil {
				return nil, err
			}
			continue
		}
		p, ok := prev[t.ctr.ID]
		if !ok {
			p = s // new since the last frame: no CPU interval yet
		}
		if err := w.Write(statsRowOf(t, container.ComputeUsage(p, s), o.noTrunc)); err != nil {
			return nil, err
		}
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// statsRowOf formats usage as Docker's CLI does: memory in binary units
// with four digits, network and disk in decimal units with three.
func statsRowOf(t statsTarget, u container.Usage, noTrunc bool) statsRow {
	id := t.ctr.ID
	if !noTrunc && len(id) > 12 {
		id = id[:12]
	}
	name := t.ctr.Name
	if name == "" {
		name = "--"
	}
	return statsRow{
		Container: t.label, ID: id, Name: name,
		CPUPerc:  percent(u.CPUPercent),
		MemUsage: format.BytesSize(clampInt64(u.Memory)) + " / " + format.BytesSize(clampInt64(u.MemoryLimit)),
		MemPerc:  percent(u.MemPercent),
		NetIO:    format.HumanSize(clampInt64(u.NetRx)) + " / " + format.HumanSize(clampInt64(u.NetTx)),
		BlockIO:  format.HumanSize(clampInt64(u.BlockRead)) + " / " + format.HumanSize(clampInt64(u.BlockWrite)),
		PIDs:     strconv.FormatUint(u.Pids, 10),
	}
}

func invalidStatsRow(label string) statsRow {
	return statsRow{Container: label, Name: "--", CPUPerc: "--", MemUsage: "-- / --", MemPerc: "--", NetIO: "--",
		BlockIO: "--", PIDs: "--"}
}

func percent(v float64) string {
	return strconv.FormatFloat(v, 'f', 2, 64) + "%"
}

func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// redraw wraps a frame in the escapes Docker's CLI uses to repaint it in
// place: cursor home, each line erased to its end, the rest of the screen
// cleared.
func redraw(frame []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\033[H")
	text := strings.TrimSuffix(string(frame), "\n")
	if text != "" {
		for _, line := range strings.Split(text, "\n") {
			b.WriteString(line)
			b.WriteString("\033[K\n")
		}
	}
	b.WriteString("\033[J")
	return b.Bytes()
}

// sleepCtx waits d; false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
