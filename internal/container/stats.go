package container

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/network"
)

// Sample is one reading of a container's counters (from its cgroup and
// /proc), the raw material of `stats`. A container that does not run gives
// zeros, with the host's CPU time still read.
type Sample struct {
	Read         time.Time
	CPU          uint64 // CPU time used by the container, ns
	System       uint64 // CPU time of the whole host, ns (/proc/stat)
	OnlineCPUs   int
	Memory       uint64 // memory charged to the container, page cache included
	InactiveFile uint64 // the part of Memory the kernel may drop at once
	MemoryLimit  uint64 // the container's limit, or the host's memory when lower
	NetRx, NetTx uint64 // bytes, all interfaces but lo
	BlockRead    uint64
	BlockWrite   uint64
	Pids         uint64
}

// Usage is what `stats` shows of a container between two samples.
type Usage struct {
	CPUPercent  float64
	Memory      uint64 // without the inactive page cache, as Docker's CLI counts it
	MemoryLimit uint64
	MemPercent  float64
	NetRx       uint64
	NetTx       uint64
	BlockRead   uint64
	BlockWrite  uint64
	Pids        uint64
}

// ComputeUsage turns two samples of a container into Docker's figures: CPU
// is the container's share of the host's CPU time between them, times the
// number of CPUs (100% is one CPU busy); memory leaves out the inactive
// file cache.
func ComputeUsage(prev, cur Sample) Usage {
	u := Usage{Memory: cur.Memory, MemoryLimit: cur.MemoryLimit, NetRx: cur.NetRx, NetTx: cur.NetTx,
		BlockRead: cur.BlockRead, BlockWrite: cur.BlockWrite, Pids: cur.Pids}
	if cur.InactiveFile < cur.Memory {
		u.Memory = cur.Memory - cur.InactiveFile
	}
	if cur.MemoryLimit != 0 {
		u.MemPercent = float64(u.Memory) / float64(cur.MemoryLimit) * 100
	}
	cpuDelta := float64(cur.CPU) - float64(prev.CPU)
	sysDelta := float64(cur.System) - float64(prev.System)
	if cpuDelta > 0 && sysDelta > 0 {
		u.CPUPercent = cpuDelta / sysDelta * float64(cur.OnlineCPUs) * 100
	}
	return u
}

// StatsReader reads containers' counters. Make one per `stats` command
// (NewStatsReader) and sample with it as often as needed, from one
// goroutine at a time.
type StatsReader struct {
	containers string // <root>/containers
	proc       string // /proc
	cgroups    cgroupMounts
	memTotal   uint64
	paths      map[string]string // container ID -> cgroupsPath
}

// NewStatsReader finds the host's cgroup hierarchies and memory size.
func (m *Manager) NewStatsReader() (*StatsReader, error) {
	return newStatsReader(m.Dir, "/proc")
}

func newStatsReader(containers, proc string) (*StatsReader, error) {
	mi, err := os.ReadFile(filepath.Join(proc, "self", "mountinfo"))
	if err != nil {
		return nil, err
	}
	r := &StatsReader{containers: containers, proc: proc, cgroups: parseMountinfo(mi), paths: map[string]string{}}
	if b, err := os.ReadFile(filepath.Join(proc, "meminfo")); err == nil {
		r.memTotal = parseMemTotal(b)
	}
	return r, nil
}

// Sample reads the counters of c now.
func (r *StatsReader) Sample(c metadata.Container) (Sample, error) {
	s := Sample{Read: time.Now()}
	b, err := r.read(filepath.Join(r.proc, "stat"))
	if err != nil {
		return s, err
	}
	s.System, s.OnlineCPUs, _ = parseProcStat(b)
	if c.State != metadata.StateRunning && c.State != metadata.StatePaused {
		return s, nil
	}
	cg := r.cgroupsPath(c.ID)
	if err := r.cpu(cg, &s); err != nil {
		return s, err
	}
	if err := r.memory(cg, &s); err != nil {
		return s, err
	}
	if err := r.blkio(cg, &s); err != nil {
		return s, err
	}
	if dir, _, ok := r.cgroups.dir("pids", cg); ok {
		if b, err := r.read(filepath.Join(dir, "pids.current")); err != nil {
			return s, err
		} else if n, ok := parseCounter(b); ok {
			s.Pids = n
		}
	}
	cfg, _ := decodeConfig(c.Config)
	if cfg.Network != network.ModeHost && c.Pid > 0 {
		b, err := r.read(filepath.Join(r.proc, strconv.Itoa(c.Pid), "net", "dev"))
		if err != nil {
			return s, err
		}
		s.NetRx, s.NetTx = parseNetDev(b)
	}
	return s, nil
}

func (r *StatsReader) cpu(cg string, s *Sample) error {
	dir, v2, ok := r.cgroups.dir("cpuacct", cg)
	if !ok {
		return nil
	}
	if v2 {
		b, err := r.read(filepath.Join(dir, "cpu.stat"))
		s.CPU = parseKeyed(b)["usage_usec"] * 1000
		return err
	}
	b, err := r.read(filepath.Join(dir, "cpuacct.usage"))
	s.CPU, _ = parseCounter(b)
	return err
}

func (r *StatsReader) memory(cg string, s *Sample) error {
	dir, v2, ok := r.cgroups.dir("memory", cg)
	if !ok {
		return nil
	}
	usage, limit := "memory.usage_in_bytes", "memory.limit_in_bytes"
	if v2 {
		usage, limit = "memory.current", "memory.max"
	}
	b, err := r.read(filepath.Join(dir, usage))
	if err != nil {
		return err
	}
	s.Memory, _ = parseCounter(b)
	if b, err = r.read(filepath.Join(dir, limit)); err != nil {
		return err
	}
	s.MemoryLimit, _ = parseCounter(b)
	if r.memTotal > 0 && s.MemoryLimit > r.memTotal {
		s.MemoryLimit = r.memTotal // unlimited: the host's memory, as Docker shows
	}
	b, err = r.read(filepath.Join(dir, "memory.stat"))
	stat := parseKeyed(b)
	// v1 counts the whole subtree in total_*, v2 in the plain names.
	if v, ok := stat["total_inactive_file"]; ok {
		s.InactiveFile = v
	} else {
		s.InactiveFile = stat["inactive_file"]
	}
	return err
}

func (r *StatsReader) blkio(cg string, s *Sample) error {
	dir, v2, ok := r.cgroups.dir("blkio", cg)
	if !ok {
		return nil
	}
	if v2 {
		b, err := r.read(filepath.Join(dir, "io.stat"))
		s.BlockRead, s.BlockWrite = parseIOStat(b)
		return err
	}
	// The CFQ scheduler's counters, else the throttle layer's (which see
	// every device), as containerd's cgroups library does.
	for _, name := range []string{"blkio.io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive"} {
		b, err := r.read(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		var n int
		if s.BlockRead, s.BlockWrite, n = parseBlkio(b); n > 0 {
			return nil
		}
	}
	return nil
}

// read reads a small kernel file; a missing one (the container just
// stopped, or the kernel lacks the counter) reads as empty.
func (r *StatsReader) read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := readSmall(f)
	if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) {
		return nil, nil // a cgroup removed while reading
	}
	return b, err
}

// cgroupsPath is the container's cgroup as its runtime bundle names it
// (linux.cgroupsPath), by default /strata/<id>.
func (r *StatsReader) cgroupsPath(id string) string {
	if p, ok := r.paths[id]; ok {
		return p
	}
	p := "/strata/" + id
	if b, err := os.ReadFile(filepath.Join(r.containers, id, "config.json")); err == nil {
		var s struct {
			Linux struct {
				CgroupsPath string `json:"cgroupsPath"`
			} `json:"linux"`
		}
		if json.Unmarshal(b, &s) == nil && s.Linux.CgroupsPath != "" {
			p = s.Linux.CgroupsPath
		}
	}
	r.paths[id] = p
	return p
}
