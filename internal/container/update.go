package container

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/runtime/spec"
)

// UpdateOptions are `update`'s settings; nil ones stay as they are.
type UpdateOptions struct {
	Memory    *int64   // bytes, at least spec.MinMemory
	CPUs      *float64 // 0.01 and up
	PidsLimit *int64   // 0 or less: unlimited
	Restart   *RestartPolicy
}

// empty reports whether o changes nothing.
func (o UpdateOptions) empty() bool {
	return o.Memory == nil && o.CPUs == nil && o.PidsLimit == nil && o.Restart == nil
}

func (o UpdateOptions) check(cfg Config) error {
	if o.empty() {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "you must provide one or more flags when using this command")
	}
	if o.Memory != nil && *o.Memory < spec.MinMemory {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "Minimum memory limit allowed is 6MB")
	}
	if o.CPUs != nil && !(*o.CPUs >= 0.01 && *o.CPUs <= 1<<16) {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "invalid CPU count %v: the range is 0.01 to %d", *o.CPUs, 1<<16)
	}
	if o.Restart != nil && cfg.AutoRemove && o.Restart.Name != "no" && o.Restart.Name != "" {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "Restart policy cannot be updated because AutoRemove is enabled for the container")
	}
	return nil
}

// apply returns cfg with o's settings.
func (o UpdateOptions) apply(cfg Config) Config {
	if o.Memory != nil {
		cfg.Memory = *o.Memory
	}
	if o.CPUs != nil {
		cfg.CPUs = *o.CPUs
	}
	if o.PidsLimit != nil {
		cfg.PidsLimit = max(*o.PidsLimit, 0) // 0: no limit set at the next start
	}
	if o.Restart != nil {
		cfg.Restart = *o.Restart
		if cfg.Restart.Name == "" {
			cfg.Restart.Name = "no"
		}
	}
	return cfg
}

// Update changes a container's resource limits and restart policy. The
// new settings are stored, so they apply to every later start; those of a
// running container are also changed live through the OCI runtime (and in
// its bundle, which a restart by policy reuses). If the live change fails,
// the stored settings are put back.
func (m *Manager) Update(ctx context.Context, ref string, o UpdateOptions) (metadata.Container, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return c, err
	}
	var old Config
	c, err = m.Meta.UpdateContainer(ctx, c.ID, func(cur *metadata.Container) error {
		cfg, err := decodeConfig(cur.Config)
		if err != nil {
			return err
		}
		if err := o.check(cfg); err != nil {
			return err
		}
		old = cfg
		raw, err := json.Marshal(o.apply(cfg))
		cur.Config = raw
		return err
	})
	if err != nil || o.Memory == nil && o.CPUs == nil && o.PidsLimit == nil {
		return c, err
	}
	if !running(c.State) {
		return c, nil // the bundle is written afresh at the next start
	}
	if err := m.updateLive(ctx, c.ID, o, c.State != metadata.StateRestarting); err != nil {
		if now, gerr := m.Get(ctx, c.ID); gerr == nil && !running(now.State) {
			return now, nil // it stopped meanwhile: the stored settings are all that counts
		}
		_, _ = m.Meta.UpdateContainer(ctx, c.ID, func(cur *metadata.Container) error {
			cfg, err := decodeConfig(cur.Config)
			if err != nil {
				return err
			}
			cfg.Memory, cfg.CPUs, cfg.PidsLimit, cfg.Restart = old.Memory, old.CPUs, old.PidsLimit, old.Restart
			cur.Config, err = json.Marshal(cfg)
			return err
		})
		return c, fmt.Errorf("cannot update container %s: %w", c.ID, err)
	}
	return c, nil
}

// updateLive writes the new limits into the bundle of a container that has
// a monitor (which starts it again from that bundle when its restart
// policy says so) and, when its process exists (cgroup true), asks the
// runtime to apply them to its cgroup.
func (m *Manager) updateLive(ctx context.Context, id string, o UpdateOptions, cgroup bool) error {
	if m.Runtime == nil && cgroup {
		return errdefs.Newf(errdefs.ErrUnavailable, "no OCI runtime found: install runc or crun")
	}
	bundle := filepath.Join(m.dir(id), "config.json")
	s, err := readBundle(bundle)
	if err != nil {
		return err
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	res := updateResources(o, swapLimited(s.Linux.Resources))
	before := *s.Linux.Resources
	mergeResources(s.Linux.Resources, res)
	if err := writeBundle(bundle, s); err != nil || !cgroup {
		return err
	}
	if err := m.Runtime.Update(ctx, id, res); err != nil {
		*s.Linux.Resources = before
		_ = writeBundle(bundle, s)
		return err
	}
	return nil
}

// swapLimited reports whether the container's memory limit also limits
// swap (the host supports it): then a new limit keeps swap at twice memory,
// as --memory alone does at create.
func swapLimited(r *specs.LinuxResources) bool {
	if r.Memory != nil && r.Memory.Swap != nil {
		return true
	}
	h, err := spec.ProbeHost()
	return err == nil && !h.NoSwapLimit
}

// updateResources is the runtime's resource update for o: only what o sets.
func updateResources(o UpdateOptions, swap bool) specs.LinuxResources {
	var r specs.LinuxResources
	if o.Memory != nil {
		limit := *o.Memory
		r.Memory = &specs.LinuxMemory{Limit: &limit}
		if swap {
			s := 2 * limit
			r.Memory.Swap = &s
		}
	}
	if o.CPUs != nil {
		period := uint64(100000)
		quota := int64(*o.CPUs*1e9) * 100000 / 1e9 // Docker's NanoCPUs arithmetic, as spec.Generate
		r.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
	}
	if o.PidsLimit != nil {
		limit := *o.PidsLimit
		if limit <= 0 {
			limit = -1
		}
		r.Pids = &specs.LinuxPids{Limit: &limit}
	}
	return r
}

// mergeResources copies the settings of upd into dst. It replaces what it
// changes rather than writing through dst's pointers, so a shallow copy of
// dst taken before keeps the old values.
func mergeResources(dst *specs.LinuxResources, upd specs.LinuxResources) {
	if upd.Memory != nil {
		var mem specs.LinuxMemory
		if dst.Memory != nil {
			mem = *dst.Memory
		}
		mem.Limit, mem.Swap = upd.Memory.Limit, upd.Memory.Swap
		dst.Memory = &mem
	}
	if upd.CPU != nil {
		var cpu specs.LinuxCPU
		if dst.CPU != nil {
			cpu = *dst.CPU
		}
		cpu.Period, cpu.Quota = upd.CPU.Period, upd.CPU.Quota
		dst.CPU = &cpu
	}
	if upd.Pids != nil {
		dst.Pids = upd.Pids
	}
}

func readBundle(path string) (*specs.Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, errdefs.Newf(errdefs.ErrCorrupt, "runtime bundle %s: %v", path, err)
	}
	return &s, nil
}

// writeBundle replaces the bundle config atomically: the monitor may read
// it at any time to restart the container.
func writeBundle(path string, s *specs.Spec) error {
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	tmp := path + ".update"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// restartPolicy is the restart policy stored for a container now: `update
// --restart` changes it while the monitor runs. fallback is returned when
// the record cannot be read.
func (m *Manager) restartPolicy(ctx context.Context, id string, fallback RestartPolicy) RestartPolicy {
	c, err := m.Meta.GetContainer(ctx, id)
	if err != nil {
		return fallback
	}
	cfg, err := decodeConfig(c.Config)
	if err != nil {
		return fallback
	}
	return cfg.Restart
}
