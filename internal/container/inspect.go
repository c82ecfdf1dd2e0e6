package container

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/runtime/spec"
	"github.com/strata-dev/strata/internal/snapshot"
)

// InspectView is `container inspect`'s JSON, in Docker's shape and field
// order (moby api/types ContainerJSON).
type InspectView struct {
	ID              string `json:"Id"`
	Created         string
	Path            string
	Args            []string
	State           StateView
	Image           string
	ResolvConfPath  string
	HostnamePath    string
	HostsPath       string
	LogPath         string
	Name            string
	RestartCount    int
	Driver          string
	Platform        string
	MountLabel      string
	ProcessLabel    string
	AppArmorProfile string
	ExecIDs         []string
	HostConfig      HostConfigView
	GraphDriver     GraphDriverView
	SizeRw          *int64 `json:",omitempty"`
	SizeRootFs      *int64 `json:",omitempty"`
	Mounts          []MountView
	Config          ConfigView
	NetworkSettings NetworkSettingsView
}

// StateView is inspect's State.
type StateView struct {
	Status     string
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  string
	FinishedAt string
}

// HostConfigView is inspect's HostConfig: what strata supports, plus
// Docker's fields at their defaults so templates written for Docker work.
type HostConfigView struct {
	Binds             []string
	ContainerIDFile   string
	LogConfig         LogConfigView
	NetworkMode       string
	PortBindings      map[string][]PortBinding
	RestartPolicy     RestartPolicy
	AutoRemove        bool
	VolumeDriver      string
	VolumesFrom       []string
	ConsoleSize       [2]uint
	CapAdd            []string
	CapDrop           []string
	CgroupnsMode      string
	DNS               []string `json:"Dns"`
	DNSOptions        []string `json:"DnsOptions"`
	DNSSearch         []string `json:"DnsSearch"`
	ExtraHosts        []string
	GroupAdd          []string
	IpcMode           string
	Cgroup            string
	Links             []string
	OomScoreAdj       int
	PidMode           string
	Privileged        bool
	PublishAllPorts   bool
	ReadonlyRootfs    bool
	SecurityOpt       []string
	UTSMode           string
	UsernsMode        string
	ShmSize           int64
	Runtime           string
	Isolation         string
	CPUShares         int64 `json:"CpuShares"`
	Memory            int64
	NanoCpus          int64
	CgroupParent      string
	BlkioWeight       uint16
	CPUPeriod         int64 `json:"CpuPeriod"`
	CPUQuota          int64 `json:"CpuQuota"`
	CpusetCpus        string
	CpusetMems        string
	Devices           []string
	MemoryReservation int64
	MemorySwap        int64
	MemorySwappiness  *int64
	OomKillDisable    *bool
	PidsLimit         *int64
	Ulimits           []string
}

// LogConfigView is HostConfig.LogConfig.
type LogConfigView struct {
	Type   string
	Config map[string]string
}

// PortBinding is one host side of a published port.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// GraphDriverView names the storage driver and its directories.
type GraphDriverView struct {
	Data map[string]string
	Name string
}

// MountView is one entry of inspect's Mounts.
type MountView struct {
	Type        string
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation string
}

// ConfigView is inspect's Config: the container's own configuration.
type ConfigView struct {
	Hostname     string
	Domainname   string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          []string
	Image        string
	Volumes      map[string]struct{}
	WorkingDir   string
	Entrypoint   []string
	OnBuild      []string
	Labels       map[string]string
	StopSignal   string `json:",omitempty"`
	StopTimeout  *int   `json:",omitempty"`
}

// NetworkSettingsView is inspect's NetworkSettings.
type NetworkSettingsView struct {
	Bridge                 string
	SandboxID              string
	SandboxKey             string
	Ports                  map[string][]PortBinding
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	SecondaryIPAddresses   []string
	SecondaryIPv6Addresses []string
	EndpointID             string
	Gateway                string
	GlobalIPv6Address      string
	GlobalIPv6PrefixLen    int
	IPAddress              string
	IPPrefixLen            int
	IPv6Gateway            string
	MacAddress             string
	Networks               map[string]EndpointView
}

// EndpointView is one entry of NetworkSettings.Networks.
type EndpointView struct {
	IPAMConfig          map[string]string
	Links               []string
	Aliases             []string
	MacAddress          string
	DriverOpts          map[string]string
	NetworkID           string
	EndpointID          string
	Gateway             string
	IPAddress           string
	IPPrefixLen         int
	IPv6Gateway         string
	GlobalIPv6Address   string
	GlobalIPv6PrefixLen int
	DNSNames            []string
}

// InspectEnv is what inspect knows besides the container's record: where
// its files are and what its running instance looks like.
type InspectEnv struct {
	Dir          string              // <root>/containers/<id>
	Attachment   *network.Attachment // the live network; nil when not running
	Graph        map[string]string   // GraphDriver.Data (nil: none)
	VolumePath   func(name string) string
	SizeRw       *int64
	SizeRootFs   *int64
	CgroupnsMode string // "host" or "private"
}

// Inspect returns the inspect view of a container. With size it also
// measures its writable layer (SizeRw) and that plus its image (SizeRootFs).
func (m *Manager) Inspect(ctx context.Context, ref string, size bool) (InspectView, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return InspectView{}, err
	}
	cfg, err := decodeConfig(c.Config)
	if err != nil {
		return InspectView{}, err
	}
	env := InspectEnv{Dir: m.dir(c.ID), CgroupnsMode: cgroupnsMode(),
		VolumePath: func(name string) string { p, _ := m.VolumePath(name); return p }}
	if running(c.State) && cfg.Network != network.ModeHost && m.Network != nil {
		if att, err := m.Network.Attachment(c.ID); err == nil {
			env.Attachment = &att
		}
	}
	if mounts, err := m.Snapshotter.Mounts(ctx, cfg.Snapshot); err == nil && cfg.Driver != "vfs" {
		env.Graph = graphData(mounts, filepath.Join(env.Dir, "rootfs"))
	}
	if size {
		own, virtual, err := m.Size(ctx, c)
		if err != nil {
			return InspectView{}, fmt.Errorf("size of container %s: %w", c.ID, err)
		}
		env.SizeRw, env.SizeRootFs = &own, &virtual
	}
	return BuildInspect(c, cfg, env), nil
}

// BuildInspect assembles the inspect view from a record, its configuration
// and its environment. It does no I/O.
func BuildInspect(c metadata.Container, cfg Config, env InspectEnv) InspectView {
	v := InspectView{
		ID: c.ID, Created: timestamp(c.Created), Args: []string{}, State: stateView(c),
		Image: c.ImageID.String(), ResolvConfPath: filepath.Join(env.Dir, "resolv.conf"),
		HostnamePath: filepath.Join(env.Dir, "hostname"), HostsPath: filepath.Join(env.Dir, "hosts"),
		LogPath: filepath.Join(env.Dir, "container.log"), Name: "/" + c.Name, RestartCount: c.Restarts,
		Driver: cfg.Driver, Platform: "linux", HostConfig: hostConfigView(cfg, env),
		GraphDriver: GraphDriverView{Name: cfg.Driver, Data: env.Graph}, SizeRw: env.SizeRw, SizeRootFs: env.SizeRootFs,
		Mounts: mountViews(c.ID, cfg, env), Config: configView(cfg), NetworkSettings: networkView(c, cfg, env),
	}
	if len(cfg.Args) > 0 {
		v.Path, v.Args = cfg.Args[0], append([]string{}, cfg.Args[1:]...)
	}
	return v
}

// timestamp prints a time as Docker does (RFC 3339, UTC, nanoseconds);
// the zero time is 0001-01-01T00:00:00Z.
func timestamp(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

func stateView(c metadata.Container) StateView {
	return StateView{
		Status: c.State, Running: running(c.State), Paused: c.State == metadata.StatePaused,
		Restarting: c.State == metadata.StateRestarting, Dead: c.State == metadata.StateDead,
		Pid: c.Pid, ExitCode: c.ExitCode, Error: c.Error,
		StartedAt: timestamp(c.StartedAt), FinishedAt: timestamp(c.FinishedAt),
	}
}

func hostConfigView(cfg Config, env InspectEnv) HostConfigView {
	h := HostConfigView{
		LogConfig: LogConfigView{Type: "json-file", Config: map[string]string{}}, NetworkMode: cfg.Network,
		PortBindings: map[string][]PortBinding{}, RestartPolicy: cfg.Restart, AutoRemove: cfg.AutoRemove,
		CgroupnsMode: env.CgroupnsMode, DNS: []string{}, DNSOptions: []string{}, DNSSearch: []string{},
		ExtraHosts: cfg.ExtraHosts, IpcMode: "private", ReadonlyRootfs: cfg.ReadOnly, ShmSize: spec.DefaultShmSize,
		Runtime: filepath.Base(cfg.Runtime), Memory: cfg.Memory, NanoCpus: int64(cfg.CPUs * 1e9),
		Devices: []string{}, Ulimits: []string{},
	}
	if cfg.Runtime == "" {
		h.Runtime = "runc"
	}
	if h.RestartPolicy.Name == "" {
		h.RestartPolicy.Name = "no"
	}
	if cfg.Memory > 0 {
		h.MemorySwap = 2 * cfg.Memory // what --memory alone gives, as in Docker
	}
	if cfg.PidsLimit != 0 {
		n := cfg.PidsLimit
		h.PidsLimit = &n
	}
	for _, b := range cfg.Binds {
		if b.Volume && b.Source == "" {
			continue // anonymous: listed in Config.Volumes, as Docker does
		}
		s := b.Source + ":" + b.Destination
		if b.ReadOnly {
			s += ":ro"
		}
		h.Binds = append(h.Binds, s)
	}
	for _, p := range cfg.Ports {
		key := portKey(p)
		h.PortBindings[key] = append(h.PortBindings[key], PortBinding{HostIP: p.HostIP, HostPort: hostPort(p)})
	}
	return h
}

func portKey(p network.PortMapping) string {
	return strconv.Itoa(int(p.ContainerPort)) + "/" + p.Proto
}

// hostPort is a binding's host side as Docker writes it: "" for a random
// port, "8000-8010" for a range.
func hostPort(p network.PortMapping) string {
	if p.HostPort == 0 {
		return ""
	}
	s := strconv.Itoa(int(p.HostPort))
	if p.HostPortEnd != 0 {
		s += "-" + strconv.Itoa(int(p.HostPortEnd))
	}
	return s
}

func mountViews(id string, cfg Config, env InspectEnv) []MountView {
	out := []MountView{}
	taken := map[string]bool{}
	volume := func(name, dest string, ro bool) MountView {
		src := ""
		if env.VolumePath != nil {
			src = env.VolumePath(name)
		}
		return MountView{Type: "volume", Name: name, Source: src, Destination: dest, Driver: "local", RW: !ro}
	}
	for _, b := range cfg.Binds {
		taken[filepath.Clean(b.Destination)] = true
		switch {
		case b.Volume && b.Source == "":
			out = append(out, volume(anonVolumeName(id, b.Destination), b.Destination, b.ReadOnly))
		case b.Volume:
			mv := volume(b.Source, b.Destination, b.ReadOnly)
			mv.Mode = "z"
			out = append(out, mv)
		default:
			mode := ""
			if b.ReadOnly {
				mode = "ro"
			}
			out = append(out, MountView{Type: "bind", Source: b.Source, Destination: b.Destination, Mode: mode,
				RW: !b.ReadOnly, Propagation: "rprivate"})
		}
	}
	for dest := range cfg.Volumes {
		if !taken[dest] {
			out = append(out, volume(anonVolumeName(id, dest), dest, false))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Destination < out[j].Destination })
	return out
}

func configView(cfg Config) ConfigView {
	v := ConfigView{
		Hostname: cfg.Hostname, Domainname: cfg.Domainname, User: cfg.User, Tty: cfg.Tty, OpenStdin: cfg.OpenStdin,
		Env: cfg.Env, Cmd: cfg.Cmd, Image: cfg.Image, WorkingDir: cfg.WorkingDir, Entrypoint: cfg.Entrypoint,
		Labels: map[string]string{}, StopSignal: cfg.StopSignal,
	}
	if len(cfg.Exposed) > 0 {
		v.ExposedPorts = cfg.Exposed
	}
	volumes := map[string]struct{}{}
	for dest := range cfg.Volumes {
		volumes[dest] = struct{}{}
	}
	for _, b := range cfg.Binds {
		if b.Volume && b.Source == "" {
			volumes[b.Destination] = struct{}{}
		}
	}
	if len(volumes) > 0 {
		v.Volumes = volumes
	}
	for k, val := range cfg.Labels {
		v.Labels[k] = val
	}
	if cfg.StopTime != 10 {
		t := cfg.StopTime
		v.StopTimeout = &t
	}
	return v
}

func networkView(c metadata.Container, cfg Config, env InspectEnv) NetworkSettingsView {
	n := NetworkSettingsView{Ports: map[string][]PortBinding{}}
	ep := EndpointView{}
	if att := env.Attachment; att != nil {
		n.SandboxKey = att.NetNSPath
		if att.IP != nil {
			n.IPAddress, n.IPPrefixLen = att.IP.String(), att.IPPrefixLen
		}
		if att.Gateway != nil {
			n.Gateway = att.Gateway.String()
		}
		n.MacAddress = att.MacAddress
		ep.IPAddress, ep.IPPrefixLen, ep.Gateway, ep.MacAddress = n.IPAddress, n.IPPrefixLen, n.Gateway, n.MacAddress
		if cfg.Network == network.ModeBridge || cfg.Network == "" {
			n.Ports = livePorts(cfg.Exposed, att.Ports)
		}
	}
	mode := cfg.Network
	if mode == "" {
		mode = network.ModeBridge
	}
	n.Networks = map[string]EndpointView{mode: ep}
	return n
}

// livePorts is NetworkSettings.Ports of a running container: every exposed
// port, with its host bindings or null.
func livePorts(exposed map[string]struct{}, published []network.PortMapping) map[string][]PortBinding {
	out := map[string][]PortBinding{}
	for p := range exposed {
		out[p] = nil
	}
	for _, p := range published {
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		key := portKey(p)
		out[key] = append(out[key], PortBinding{HostIP: ip, HostPort: hostPort(p)})
	}
	return out
}

// graphData is GraphDriver.Data of an overlay container layer: the
// overlay's directories and the container's mount point.
func graphData(mounts []snapshot.Mount, merged string) map[string]string {
	if len(mounts) != 1 {
		return nil
	}
	data := map[string]string{"MergedDir": merged}
	m := mounts[0]
	if m.Type != "overlay" {
		if upper, ok := snapshot.UpperDir(mounts); ok {
			data["UpperDir"] = upper
		}
		return data
	}
	keys := map[string]string{"lowerdir": "LowerDir", "upperdir": "UpperDir", "workdir": "WorkDir"}
	for _, o := range m.Options {
		k, v, ok := strings.Cut(o, "=")
		if name := keys[k]; ok && name != "" {
			data[name] = v
		}
	}
	return data
}

// cgroupnsMode is Docker's default: a private cgroup namespace on cgroup
// v2 hosts, the host's on v1.
func cgroupnsMode() string {
	var fs unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC {
		return "private"
	}
	return "host"
}
