package container

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/runtime/spec"
	"github.com/strata-dev/strata/internal/snapshot"
)

// runEnv is what a container's runs share: a mounted rootfs, a network and
// a bundle.
type runEnv struct {
	bundle string
	att    network.Attachment
}

// prepareRun mounts the container's layer, sets up its network and files,
// and writes the OCI bundle.
func (m *Manager) prepareRun(ctx context.Context, c metadata.Container, cfg Config) (*runEnv, error) {
	dir := m.dir(c.ID)
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o710); err != nil {
		return nil, err
	}
	mounts, err := m.Snapshotter.Mounts(ctx, cfg.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("container layer: %w", err)
	}
	_ = snapshot.Unmount(rootfs)
	if err := snapshot.MountAll(mounts, rootfs); err != nil {
		return nil, fmt.Errorf("mount container layer: %w", err)
	}
	env := &runEnv{bundle: dir}
	netns := spec.HostNetwork
	if cfg.Network != network.ModeHost {
		env.att, err = m.Network.Setup(ctx, network.Config{ID: c.ID, Mode: cfg.Network, Hostname: cfg.Hostname, Ports: cfg.Ports})
		if err != nil {
			return nil, fmt.Errorf("network: %w", err)
		}
		netns = env.att.NetNSPath
	} else {
		env.att = network.Attachment{Mode: network.ModeHost}
	}
	etc := network.EtcFiles{Hostname: cfg.Hostname, Domainname: cfg.Domainname, IP: env.att.IP, Mode: cfg.Network,
		ExtraHosts: cfg.ExtraHosts, Gateway: env.att.Gateway}
	if err := network.WriteEtcFiles(dir, etc); err != nil {
		return nil, err
	}
	user, err := spec.ResolveUser(rootfs, cfg.User)
	if err != nil {
		return nil, err
	}
	binds, err := m.volumeMounts(c, cfg, rootfs)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
		binds = append(binds, spec.BindMount(filepath.Join(dir, f), "/etc/"+f, cfg.ReadOnly))
	}
	host, err := spec.ProbeHost()
	if err != nil {
		return nil, err
	}
	hostname := cfg.Hostname
	if cfg.Network == network.ModeHost {
		hostname, _ = os.Hostname()
	}
	s, err := spec.Generate(spec.Options{
		ID: c.ID, Hostname: hostname, Domainname: cfg.Domainname, RootfsPath: "rootfs", ReadOnly: cfg.ReadOnly,
		Args: cfg.Args, Env: cfg.Env, Cwd: cfg.WorkingDir, User: user, Tty: cfg.Tty, Mounts: binds,
		Memory: cfg.Memory, CPUs: cfg.CPUs, PidsLimit: cfg.PidsLimit, NetNSPath: netns, StopSignal: cfg.StopSignal,
		Host: host,
	})
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		return nil, err
	}
	return env, nil
}

// volumeMounts turns -v binds, named volumes and the image's anonymous
// volumes into mounts. A new volume gets a copy of what the image has at
// its path, as Docker does.
func (m *Manager) volumeMounts(c metadata.Container, cfg Config, rootfs string) ([]specs.Mount, error) {
	var out []specs.Mount
	taken := map[string]bool{}
	for _, b := range cfg.Binds {
		src := b.Source
		if b.Volume && src == "" {
			src = anonVolumeName(c.ID, b.Destination)
		}
		if b.Volume {
			var err error
			if src, err = m.ensureVolume(src, rootfs, b.Destination); err != nil {
				return nil, err
			}
		} else if _, err := os.Stat(src); os.IsNotExist(err) {
			if err := os.MkdirAll(src, 0o755); err != nil { // Docker creates a missing bind source
				return nil, err
			}
		}
		out = append(out, spec.BindMount(src, b.Destination, b.ReadOnly))
		taken[filepath.Clean(b.Destination)] = true
	}
	var anon []string
	for v := range cfg.Volumes {
		if !taken[v] {
			anon = append(anon, v)
		}
	}
	sort.Strings(anon)
	for _, v := range anon {
		name := anonVolumeName(c.ID, v)
		src, err := m.ensureVolume(name, rootfs, v)
		if err != nil {
			return nil, err
		}
		out = append(out, spec.BindMount(src, v, false))
	}
	return out, nil
}

// anonVolumeName is stable per container and path, so restarts reuse it.
func anonVolumeName(id, dest string) string {
	return id[:32] + strings.ReplaceAll(filepath.Clean(dest), "/", "_")
}

// cleanupRun undoes prepareRun; safe to call several times and after a
// crash of the monitor.
func (m *Manager) cleanupRun(ctx context.Context, id string) {
	if m.Runtime != nil {
		_ = m.Runtime.Delete(ctx, id, true)
	}
	if m.Network != nil {
		_ = m.Network.Teardown(ctx, id)
	}
	_ = snapshot.Unmount(filepath.Join(m.dir(id), "rootfs"))
	os.Remove(m.sockPath(id))
	os.Remove(m.consolePath(id))
}
