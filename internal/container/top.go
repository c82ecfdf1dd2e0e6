package container

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/metadata"
)

// TopResult is `top`'s table: the titles ps printed and one row per
// process of the container, each with as many columns as titles (the last
// one holds the rest of the line, the command with its spaces).
type TopResult struct {
	Titles    []string
	Processes [][]string
}

// psPidArg finds "key=PID..." in ps options: only pid may be renamed, or
// the PID column could not be found (Docker's rule).
var psPidArg = regexp.MustCompile(`\s+(\S*)=\s*(PID\S*)`)

// Top runs the host's ps with psArgs (default "-ef") and keeps the lines
// of the container's processes, as Docker's daemon does.
func (m *Manager) Top(ctx context.Context, ref, psArgs string) (TopResult, error) {
	if psArgs == "" {
		psArgs = "-ef"
	}
	for _, g := range psPidArg.FindAllStringSubmatch(psArgs, -1) {
		if g[1] != "pid" {
			return TopResult{}, errdefs.Newf(errdefs.ErrInvalidArgument, "specifying \"%s=%s\" is not allowed", g[1], g[2])
		}
	}
	c, err := m.Get(ctx, ref)
	if err != nil {
		return TopResult{}, err
	}
	switch c.State {
	case metadata.StateRunning, metadata.StatePaused:
	case metadata.StateRestarting:
		return TopResult{}, errdefs.Newf(errdefs.ErrConflict, "container %s is restarting, wait until the container is running", c.ID)
	default:
		return TopResult{}, errdefs.Newf(errdefs.ErrConflict, "container %s is not running", c.ID)
	}
	if m.Runtime == nil {
		return TopResult{}, errdefs.Newf(errdefs.ErrUnavailable, "no OCI runtime found: install runc or crun")
	}
	pids, err := m.Runtime.Ps(ctx, c.ID)
	if err != nil {
		return TopResult{}, err
	}
	args := strings.Fields(psArgs)
	out, err := runPS(ctx, append(args, "-q", joinPids(pids)))
	if err != nil {
		// Some options (f) do not go with -q: filter ps's full list.
		out, err = runPS(ctx, args)
	}
	if err != nil {
		return TopResult{}, err
	}
	return parsePS(out, pids)
}

func runPS(ctx context.Context, args []string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, "ps", args...).Output()
	if err == nil {
		return out, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if line, _, _ := bytes.Cut(ee.Stderr, []byte("\n")); len(line) > 0 {
			err = errors.New(string(line))
		}
	}
	return nil, errdefs.Newf(errdefs.ErrUnavailable, "ps: %v", err)
}

func joinPids(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

// parsePS keeps the lines of ps output whose PID is one of pids, and the
// thread lines ("-" in the PID column, with -L or m) that follow them.
func parsePS(out []byte, pids []int) (TopResult, error) {
	lines := strings.Split(string(out), "\n")
	res := TopResult{Titles: strings.Fields(lines[0]), Processes: [][]string{}}
	col := -1
	for i, t := range res.Titles {
		if t == "PID" {
			col = i
			break
		}
	}
	if col < 0 {
		return TopResult{}, errdefs.Newf(errdefs.ErrInvalidArgument, "couldn't find PID field in ps output")
	}
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	inside := false // the last process line was the container's
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) <= col {
			continue
		}
		if fields[col] == "-" {
			if inside {
				res.Processes = append(res.Processes, topRow(fields, len(res.Titles)))
			}
			continue
		}
		pid, err := strconv.Atoi(fields[col])
		if err != nil {
			return TopResult{}, errdefs.Newf(errdefs.ErrInvalidArgument, "unexpected pid '%s' in ps output", fields[col])
		}
		inside = want[pid]
		if inside {
			res.Processes = append(res.Processes, topRow(fields, len(res.Titles)))
		}
	}
	return res, nil
}

// topRow fits fields to n columns: the last column takes the rest.
func topRow(fields []string, n int) []string {
	row := make([]string, n)
	if len(fields) < n {
		copy(row, fields)
		return row
	}
	copy(row, fields[:n-1])
	row[n-1] = strings.Join(fields[n-1:], " ")
	return row
}
