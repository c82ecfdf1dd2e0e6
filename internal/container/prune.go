package container

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/metadata"
)

// PruneFilter is `container prune --filter`: until=<time> and
// label/label!=<key>[=<value>]. Values of one key are ORed, keys ANDed,
// as in Docker.
type PruneFilter struct {
	until  []time.Time
	labels []labelFilter
}

type labelFilter struct {
	key, value string
	hasValue   bool
	negate     bool
}

// ParsePruneFilter reads "key=value" filter arguments; durations in until
// count back from now.
func ParsePruneFilter(args []string, now time.Time) (PruneFilter, error) {
	var f PruneFilter
	for _, a := range args {
		key, val, ok := strings.Cut(a, "=")
		if !ok {
			return f, errdefs.Newf(errdefs.ErrInvalidArgument, "bad format of filter (expected name=value)")
		}
		switch key = strings.ToLower(strings.TrimSpace(key)); key {
		case "until":
			t, err := imagestore.ParseTime(val, now)
			if err != nil {
				return f, err
			}
			f.until = append(f.until, t)
		case "label", "label!":
			k, v, has := strings.Cut(val, "=")
			f.labels = append(f.labels, labelFilter{key: k, value: v, hasValue: has, negate: key == "label!"})
		default:
			return f, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter '%s'", key)
		}
	}
	return f, nil
}

// Match reports whether a container passes the filter.
func (f PruneFilter) Match(c metadata.Container, cfg Config) bool {
	if len(f.until) > 0 {
		hit := false
		for _, t := range f.until {
			hit = hit || c.Created.Before(t)
		}
		if !hit {
			return false
		}
	}
	for _, l := range f.labels {
		v, ok := cfg.Labels[l.key]
		if hit := ok && (!l.hasValue || v == l.value); hit == l.negate {
			return false
		}
	}
	return true
}

// PruneReport is what Prune removed: full IDs, newest first, and the bytes
// their writable layers held on disk.
type PruneReport struct {
	Deleted   []string
	Reclaimed int64
}

// Prune removes every container that is not running (created, exited,
// dead) and passes the filter, as `docker container prune` does. Other
// failures do not stop it: they are returned together at the end.
func (m *Manager) Prune(ctx context.Context, f PruneFilter) (PruneReport, error) {
	var rep PruneReport
	list, err := m.List(ctx)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, c := range list {
		if running(c.State) || c.State == metadata.StateRemoving {
			continue
		}
		cfg, err := decodeConfig(c.Config)
		if err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", c.ID, err))
			continue
		}
		if !f.Match(c, cfg) {
			continue
		}
		var size int64
		if u, err := m.Snapshotter.Usage(ctx, cfg.Snapshot); err == nil {
			size = u.Size
		}
		if err := m.Remove(ctx, c.ID, RemoveOptions{}); err != nil {
			// Removed or started by another process meanwhile: skipped, as
			// Docker's daemon does.
			if !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) {
				errs = append(errs, err)
			}
			continue
		}
		rep.Deleted = append(rep.Deleted, c.ID)
		rep.Reclaimed += size
	}
	return rep, errors.Join(errs...)
}
