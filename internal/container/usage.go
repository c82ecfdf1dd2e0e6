package container

import (
	"context"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// DiskUsageReport is what `system df` reports for containers and volumes.
type DiskUsageReport struct {
	Containers, RunningContainers int
	ContainerBytes, StoppedBytes  int64 // own layers; of stopped containers
	ActiveImages                  map[digest.Digest]bool
	Volumes, ActiveVolumes        int
	VolumeBytes, UnusedBytes      int64
}

// DiskUsage adds up the containers' own layers and the volumes.
func (m *Manager) DiskUsage(ctx context.Context) (DiskUsageReport, error) {
	u := DiskUsageReport{ActiveImages: map[digest.Digest]bool{}}
	list, err := m.List(ctx)
	if err != nil {
		return u, err
	}
	used := map[string]bool{}
	for _, c := range list {
		u.Containers++
		u.ActiveImages[c.ImageID] = true
		cfg, err := decodeConfig(c.Config)
		if err != nil {
			return u, err
		}
		size, err := m.Snapshotter.Usage(ctx, cfg.Snapshot)
		if err == nil {
			u.ContainerBytes += size.Size
		}
		if running(c.State) {
			u.RunningContainers++
		} else if err == nil {
			u.StoppedBytes += size.Size
		}
		for _, v := range volumeNames(c.ID, cfg) {
			used[v] = true
		}
	}
	entries, err := os.ReadDir(m.VolumeDir)
	if err != nil && !os.IsNotExist(err) {
		return u, err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		size := dirSize(filepath.Join(m.VolumeDir, e.Name()))
		u.Volumes++
		u.VolumeBytes += size
		if used[e.Name()] {
			u.ActiveVolumes++
		} else {
			u.UnusedBytes += size
		}
	}
	return u, nil
}

// volumeNames lists the named and anonymous volumes a container uses.
func volumeNames(id string, cfg Config) []string {
	var out []string
	for _, b := range cfg.Binds {
		switch {
		case b.Volume && b.Source == "":
			out = append(out, anonVolumeName(id, b.Destination))
		case b.Volume:
			out = append(out, b.Source)
		}
	}
	for v := range cfg.Volumes {
		out = append(out, anonVolumeName(id, v))
	}
	return out
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
