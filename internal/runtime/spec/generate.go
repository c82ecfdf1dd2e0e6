package spec

import (
	"maps"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/strata-dev/strata/internal/errdefs"
)

// DefaultPath is the PATH a container gets unless its env sets one.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// DefaultNofile is the RLIMIT_NOFILE (soft and hard) of a container.
const DefaultNofile = 1048576

// MinMemory is the smallest memory limit accepted (Docker's 6 MiB).
const MinMemory = 6 << 20

// cfsPeriod is the CFS period (µs) used for --cpus; maxCPUs bounds --cpus
// so the quota cannot overflow.
const (
	cfsPeriod = 100000
	maxCPUs   = 1 << 16
)

// HostNetwork as Options.NetNSPath shares the host's network namespace.
const HostNetwork = "host"

// Options describe one container, after image config and command line have
// been merged by the caller (ResolveCommand, MergeEnv, ResolveUser).
type Options struct {
	ID string
	// Hostname defaults to the first 12 characters of ID (with HostNetwork
	// Docker passes the host's name). Domainname is set through the
	// kernel.domainname sysctl, as Docker does.
	Hostname, Domainname string
	// RootfsPath is the root filesystem, absolute or relative to the bundle.
	RootfsPath string
	ReadOnly   bool
	// Args is the command (ResolveCommand). Env is the container's own env
	// (MergeEnv of the image's and -e values); PATH, HOSTNAME, TERM (with
	// Tty) and HOME (User.Home) are defaults it may override, and a bare
	// "KEY" unsets one.
	Args, Env []string
	// Cwd is the working directory, "/" when empty; it must be absolute.
	Cwd  string
	User User
	Tty  bool
	// Mounts are binds, volumes and tmpfs (see BindMount, TmpfsMount),
	// placed after the defaults; one at a default's destination replaces it.
	Mounts []specs.Mount
	// Memory is the limit in bytes (0: none). MemorySwap is memory plus
	// swap: 0 means twice Memory, -1 unlimited, as `docker run`.
	Memory, MemorySwap int64
	// CPUs becomes a CFS quota over a 100 ms period.
	CPUs float64
	// PidsLimit: 0 no setting, negative unlimited.
	PidsLimit int64
	// ShmSize is the /dev/shm size in bytes (0: DefaultShmSize).
	ShmSize int64
	// CgroupsPath defaults to "/strata/<ID>".
	CgroupsPath string
	// NetNSPath is a network namespace to join (set up by strata's network
	// code), "" for a new empty one, or HostNetwork.
	NetNSPath  string
	Privileged bool
	// CapAdd and CapDrop take names with or without CAP_, any case, or ALL.
	CapAdd, CapDrop []string
	// Sysctl is applied over the defaults Docker sets in a private network
	// namespace (ping_group_range, ip_unprivileged_port_start).
	Sysctl map[string]string
	// Rlimits replace the default of the same type (--ulimit).
	Rlimits []specs.POSIXRlimit
	// Devices are added to the container and, unless privileged, allowed in
	// its device cgroup. A privileged container should get HostDevices().
	Devices     []specs.LinuxDevice
	Annotations map[string]string
	// StopSignal, if set, is checked and recorded as StopSignalAnnotation.
	StopSignal string
	// Host holds the machine's facts (ProbeHost); the zero value suits an
	// unrestricted root on cgroup v1.
	Host Host
}

// Generate builds the container's runtime spec with Docker's defaults (moby
// oci.DefaultLinuxSpec and daemon.createSpec): capabilities, masked and
// read-only /proc and /sys paths, mounts, device cgroup rules, namespaces,
// RLIMIT_NOFILE, resources, environment. No seccomp or AppArmor profile is
// set.
func Generate(o Options) (*specs.Spec, error) {
	if o.RootfsPath == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "container %q: no rootfs path", o.ID)
	}
	if len(o.Args) == 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "no command specified")
	}
	cwd := o.Cwd
	if cwd == "" {
		cwd = "/"
	}
	cwd, err := checkContainerPath("working directory", cwd)
	if err != nil {
		return nil, err
	}
	caps, err := capabilities(o.CapAdd, o.CapDrop, o.Privileged, o.Host.Capabilities)
	if err != nil {
		return nil, err
	}
	mounts, err := buildMounts(o)
	if err != nil {
		return nil, err
	}
	resources, err := buildResources(o)
	if err != nil {
		return nil, err
	}
	annotations, err := buildAnnotations(o)
	if err != nil {
		return nil, err
	}
	hostname := o.Hostname
	if hostname == "" {
		hostname = shortID(o.ID)
	}
	oomScoreAdj := 0
	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: o.RootfsPath, Readonly: o.ReadOnly},
		Hostname: hostname,
		Process: &specs.Process{
			Terminal: o.Tty,
			User: specs.User{
				UID:            o.User.UID,
				GID:            o.User.GID,
				AdditionalGids: o.User.AdditionalGids,
			},
			Args: append([]string(nil), o.Args...),
			Env:  buildEnv(o, hostname),
			Cwd:  cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: caps,
				Permitted: caps,
			},
			Rlimits:     buildRlimits(o),
			OOMScoreAdj: &oomScoreAdj,
		},
		Mounts:      mounts,
		Annotations: annotations,
		Linux: &specs.Linux{
			Namespaces:  namespaces(o),
			Resources:   resources,
			CgroupsPath: cgroupsPath(o),
			Sysctl:      buildSysctl(o),
			Devices:     append([]specs.LinuxDevice{}, o.Devices...),
		},
	}
	if !o.Privileged {
		s.Linux.MaskedPaths = DefaultMaskedPaths()
		s.Linux.ReadonlyPaths = DefaultReadonlyPaths()
	}
	return s, nil
}

// DefaultMaskedPaths are hidden from unprivileged containers. Docker also
// masks each CPU's /sys/devices/system/cpu/cpuN/thermal_throttle where that
// exists; strata does not probe for them.
func DefaultMaskedPaths() []string {
	return []string{
		"/proc/acpi",
		"/proc/asound",
		"/proc/interrupts",
		"/proc/kcore",
		"/proc/keys",
		"/proc/latency_stats",
		"/proc/sched_debug",
		"/proc/scsi",
		"/proc/timer_list",
		"/proc/timer_stats",
		"/sys/devices/virtual/powercap",
		"/sys/firmware",
	}
}

// DefaultReadonlyPaths are read-only in unprivileged containers.
func DefaultReadonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func cgroupsPath(o Options) string {
	if o.CgroupsPath != "" {
		return o.CgroupsPath
	}
	return "/strata/" + o.ID
}

// namespaces are Docker's: mount, network (unless host), uts, pid, ipc, and
// cgroup on a v2 host. The time namespace Docker adds on new kernels is left
// out: runc before 1.2 rejects it.
func namespaces(o Options) []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	if o.NetNSPath != HostNetwork {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: o.NetNSPath})
	}
	ns = append(ns,
		specs.LinuxNamespace{Type: specs.UTSNamespace},
		specs.LinuxNamespace{Type: specs.PIDNamespace},
		specs.LinuxNamespace{Type: specs.IPCNamespace},
	)
	if o.Host.CgroupV2 {
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	return ns
}

// buildEnv puts the defaults under o.Env as moby's CreateDaemonEnvironment,
// then adds HOME when still unset (runc would set it from the rootfs's
// passwd; strata knows it already).
func buildEnv(o Options, hostname string) []string {
	defaults := []string{"PATH=" + DefaultPath, "HOSTNAME=" + hostname}
	if o.Tty {
		defaults = append(defaults, "TERM=xterm")
	}
	env := replaceOrAppendEnv(defaults, o.Env)
	for _, e := range env {
		if envKey(e) == "HOME" {
			return env
		}
	}
	home := o.User.Home
	if home == "" {
		home = "/"
	}
	return append(env, "HOME="+home)
}

func buildRlimits(o Options) []specs.POSIXRlimit {
	nofile := uint64(DefaultNofile)
	if o.Host.NofileLimit > 0 && o.Host.NofileLimit < nofile {
		nofile = o.Host.NofileLimit
	}
	out := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: nofile, Soft: nofile}}
	for _, r := range o.Rlimits {
		if r.Type == out[0].Type {
			out[0] = r
			continue
		}
		out = append(out, r)
	}
	return out
}

func buildSysctl(o Options) map[string]string {
	out := map[string]string{}
	if o.NetNSPath != HostNetwork {
		out["net.ipv4.ping_group_range"] = "0 2147483647"
		out["net.ipv4.ip_unprivileged_port_start"] = "0"
	}
	if o.Domainname != "" {
		out["kernel.domainname"] = o.Domainname
	}
	maps.Copy(out, o.Sysctl)
	return out
}

func buildAnnotations(o Options) (map[string]string, error) {
	if len(o.Annotations) == 0 && o.StopSignal == "" {
		return nil, nil
	}
	out := maps.Clone(o.Annotations)
	if out == nil {
		out = map[string]string{}
	}
	if o.StopSignal != "" {
		if _, err := ParseSignal(o.StopSignal); err != nil {
			return nil, err
		}
		out[StopSignalAnnotation] = o.StopSignal
	}
	return out, nil
}

// buildResources sets the device cgroup rules and the memory, CPU and pids
// limits, as moby's WithResources and WithDevices.
func buildResources(o Options) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{Devices: deviceRules(o)}
	mem, err := memoryLimits(o)
	if err != nil {
		return nil, err
	}
	r.Memory = mem
	if o.CPUs != 0 {
		if !(o.CPUs >= 0.01 && o.CPUs <= maxCPUs) {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid CPU count %v: the range is 0.01 to %d", o.CPUs, maxCPUs)
		}
		// Docker's NanoCPUs arithmetic, so quotas match to the microsecond.
		period := uint64(cfsPeriod)
		quota := int64(o.CPUs*1e9) * cfsPeriod / 1e9
		r.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
	}
	switch {
	case o.PidsLimit > 0:
		r.Pids = &specs.LinuxPids{Limit: &o.PidsLimit}
	case o.PidsLimit < 0:
		unlimited := int64(-1)
		r.Pids = &specs.LinuxPids{Limit: &unlimited}
	}
	return r, nil
}

func memoryLimits(o Options) (*specs.LinuxMemory, error) {
	if o.Memory < 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid memory limit %d: must be positive", o.Memory)
	}
	if o.Memory > 0 && o.Memory < MinMemory {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "minimum memory limit allowed is 6MB")
	}
	if o.Memory == 0 {
		if o.MemorySwap > 0 {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "you should always set the memory limit when using memoryswap limit")
		}
		return nil, nil
	}
	swap := o.MemorySwap
	if swap == 0 {
		swap = 2 * o.Memory
	}
	if swap > 0 && swap < o.Memory {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "minimum memoryswap limit should be larger than memory limit")
	}
	limit := o.Memory
	m := &specs.LinuxMemory{Limit: &limit}
	if swap > 0 && !o.Host.NoSwapLimit {
		m.Swap = &swap
	}
	return m, nil
}

// deviceRules are Docker's default device cgroup rules (deny all, allow
// null, zero, full, random, urandom, tty, console... and deny
// /dev/net/tun's 10:229), or allow-all for a privileged container.
func deviceRules(o Options) []specs.LinuxDeviceCgroup {
	if o.Privileged {
		return []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	rule := func(allow bool, major, minor int64) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: "c", Major: &major, Minor: &minor, Access: "rwm"}
	}
	rules := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		rule(true, 1, 5),     // /dev/zero
		rule(true, 1, 3),     // /dev/null
		rule(true, 1, 9),     // /dev/urandom
		rule(true, 1, 8),     // /dev/random
		rule(true, 5, 0),     // /dev/tty
		rule(true, 5, 1),     // /dev/console
		rule(false, 10, 229), // /dev/net/tun
	}
	for _, d := range o.Devices {
		major, minor := d.Major, d.Minor
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: &major, Minor: &minor, Access: "rwm"})
	}
	return rules
}
