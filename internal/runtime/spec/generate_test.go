package spec

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/strata-dev/strata/internal/errdefs"
)

func baseOptions() Options {
	return Options{
		ID:         "0123456789abcdef0123",
		RootfsPath: "/var/lib/strata/containers/x/rootfs",
		Args:       []string{"/bin/sh", "-c", "echo hi"},
		User:       User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 10}, Home: "/home/app"},
	}
}

func mustGenerate(t *testing.T, o Options) *specs.Spec {
	t.Helper()
	s, err := Generate(o)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	// Every spec must survive the trip through config.json.
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back specs.Spec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return s
}

func mountAt(s *specs.Spec, dest string) (specs.Mount, bool) {
	for _, m := range s.Mounts {
		if m.Destination == dest {
			return m, true
		}
	}
	return specs.Mount{}, false
}

func TestGenerateDefaults(t *testing.T) {
	t.Parallel()
	s := mustGenerate(t, baseOptions())

	wantCaps := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
		"CAP_KILL", "CAP_AUDIT_WRITE"}
	c := s.Process.Capabilities
	for name, set := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted} {
		if !slices.Equal(set, wantCaps) {
			t.Errorf("%s caps = %v", name, set)
		}
	}
	if len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
		t.Errorf("inheritable/ambient caps set: %+v", c)
	}

	wantMasked := []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
		"/sys/devices/virtual/powercap", "/proc/interrupts"}
	if !sameSet(s.Linux.MaskedPaths, wantMasked) {
		t.Errorf("masked paths = %v", s.Linux.MaskedPaths)
	}
	if !sameSet(s.Linux.ReadonlyPaths, []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
		t.Errorf("readonly paths = %v", s.Linux.ReadonlyPaths)
	}

	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination+" "+m.Type)
	}
	wantMounts := []string{"/proc proc", "/dev tmpfs", "/dev/pts devpts", "/sys sysfs", "/sys/fs/cgroup cgroup",
		"/dev/mqueue mqueue", "/dev/shm tmpfs"}
	if !slices.Equal(dests, wantMounts) {
		t.Errorf("mounts = %v", dests)
	}
	if m, _ := mountAt(s, "/dev/shm"); !slices.Contains(m.Options, "size=67108864") {
		t.Errorf("/dev/shm options = %v", m.Options)
	}
	for _, ro := range []string{"/sys", "/sys/fs/cgroup"} {
		if m, _ := mountAt(s, ro); !slices.Contains(m.Options, "ro") {
			t.Errorf("%s not read-only: %v", ro, m.Options)
		}
	}

	var nsTypes []specs.LinuxNamespaceType
	for _, ns := range s.Linux.Namespaces {
		nsTypes = append(nsTypes, ns.Type)
		if ns.Path != "" {
			t.Errorf("namespace %s joins %s", ns.Type, ns.Path)
		}
	}
	if !slices.Equal(nsTypes, []specs.LinuxNamespaceType{"mount", "network", "uts", "pid", "ipc"}) {
		t.Errorf("namespaces = %v", nsTypes)
	}

	if got := s.Process.Rlimits; len(got) != 1 || got[0] != (specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 1048576, Soft: 1048576}) {
		t.Errorf("rlimits = %+v", got)
	}
	if s.Process.NoNewPrivileges || s.Process.OOMScoreAdj == nil || *s.Process.OOMScoreAdj != 0 {
		t.Errorf("noNewPrivileges %v, oomScoreAdj %v", s.Process.NoNewPrivileges, s.Process.OOMScoreAdj)
	}
	if s.Process.Cwd != "/" || s.Process.Terminal {
		t.Errorf("cwd %q, terminal %v", s.Process.Cwd, s.Process.Terminal)
	}
	if s.Hostname != "0123456789ab" || s.Linux.CgroupsPath != "/strata/0123456789abcdef0123" {
		t.Errorf("hostname %q, cgroups path %q", s.Hostname, s.Linux.CgroupsPath)
	}
	if s.Root.Path != "/var/lib/strata/containers/x/rootfs" || s.Root.Readonly {
		t.Errorf("root = %+v", s.Root)
	}
	if s.Version != specs.Version {
		t.Errorf("version %q", s.Version)
	}
	if s.Linux.Seccomp != nil || s.Process.ApparmorProfile != "" {
		t.Error("a seccomp or AppArmor profile was set")
	}
	if s.Linux.Sysctl["net.ipv4.ping_group_range"] != "0 2147483647" || s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "0" {
		t.Errorf("sysctl = %v", s.Linux.Sysctl)
	}

	rules := s.Linux.Resources.Devices
	if len(rules) != 8 || rules[0].Allow || rules[0].Access != "rwm" || rules[0].Type != "" {
		t.Fatalf("device rules = %+v", rules)
	}
	var allowed []string
	for _, r := range rules[1:] {
		allowed = append(allowed, ruleString(r))
	}
	want := []string{"allow c 1:5", "allow c 1:3", "allow c 1:9", "allow c 1:8", "allow c 5:0", "allow c 5:1", "deny c 10:229"}
	if !slices.Equal(allowed, want) {
		t.Errorf("device rules = %v", allowed)
	}
	if s.Linux.Resources.Memory != nil || s.Linux.Resources.CPU != nil || s.Linux.Resources.Pids != nil {
		t.Errorf("limits set by default: %+v", s.Linux.Resources)
	}
}

func ruleString(r specs.LinuxDeviceCgroup) string {
	verb := "deny"
	if r.Allow {
		verb = "allow"
	}
	return verb + " " + r.Type + " " + itoa(*r.Major) + ":" + itoa(*r.Minor)
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestGenerateUserAndEnv(t *testing.T) {
	t.Parallel()
	o := baseOptions()
	o.Env = []string{"FOO=bar", "PATH=/opt/bin"}
	o.Tty = true
	o.Cwd = "/srv/app/"
	s := mustGenerate(t, o)
	u := s.Process.User
	if u.UID != 1000 || u.GID != 1000 || !slices.Equal(u.AdditionalGids, []uint32{1000, 10}) {
		t.Errorf("user = %+v", u)
	}
	want := []string{"PATH=/opt/bin", "HOSTNAME=0123456789ab", "TERM=xterm", "FOO=bar", "HOME=/home/app"}
	if !slices.Equal(s.Process.Env, want) {
		t.Errorf("env = %q, want %q", s.Process.Env, want)
	}
	if s.Process.Cwd != "/srv/app" || !s.Process.Terminal {
		t.Errorf("cwd %q terminal %v", s.Process.Cwd, s.Process.Terminal)
	}

	o = baseOptions()
	o.Hostname = "web"
	o.Env = []string{"HOME=/data", "HOSTNAME"}
	o.User = User{}
	s = mustGenerate(t, o)
	want = []string{"PATH=" + DefaultPath, "HOME=/data"}
	if !slices.Equal(s.Process.Env, want) || s.Hostname != "web" {
		t.Errorf("env = %q (want %q), hostname %q", s.Process.Env, want, s.Hostname)
	}
	o.Env = nil
	if s = mustGenerate(t, o); !slices.Contains(s.Process.Env, "HOME=/") {
		t.Errorf("env without a home = %q", s.Process.Env)
	}
}

func TestGenerateResources(t *testing.T) {
	t.Parallel()
	o := baseOptions()
	o.Memory = 64 << 20
	o.CPUs = 1.5
	o.PidsLimit = 100
	s := mustGenerate(t, o)
	r := s.Linux.Resources
	if *r.Memory.Limit != 64<<20 || *r.Memory.Swap != 128<<20 {
		t.Errorf("memory = %d, swap %d", *r.Memory.Limit, *r.Memory.Swap)
	}
	if *r.CPU.Period != 100000 || *r.CPU.Quota != 150000 {
		t.Errorf("cpu period %d quota %d", *r.CPU.Period, *r.CPU.Quota)
	}
	if *r.Pids.Limit != 100 {
		t.Errorf("pids %d", *r.Pids.Limit)
	}

	o.MemorySwap = -1
	o.CPUs = 0.01
	o.PidsLimit = -5
	r = mustGenerate(t, o).Linux.Resources
	if r.Memory.Swap != nil || *r.CPU.Quota != 1000 || *r.Pids.Limit != -1 {
		t.Errorf("swap %v, quota %d, pids %d", r.Memory.Swap, *r.CPU.Quota, *r.Pids.Limit)
	}

	o = baseOptions()
	o.Memory = 32 << 20
	o.Host.NoSwapLimit = true
	if r = mustGenerate(t, o).Linux.Resources; *r.Memory.Limit != 32<<20 || r.Memory.Swap != nil {
		t.Errorf("no swap accounting: %+v", r.Memory)
	}

	bad := []func(*Options){
		func(o *Options) { o.Memory = 1 << 20 },
		func(o *Options) { o.Memory = -1 },
		func(o *Options) { o.MemorySwap = 1 << 30 },
		func(o *Options) { o.Memory, o.MemorySwap = 64<<20, 32<<20 },
		func(o *Options) { o.CPUs = -1 },
		func(o *Options) { o.CPUs = 0.001 },
		func(o *Options) { o.CPUs = 1e12 },
	}
	for i, mutate := range bad {
		o := baseOptions()
		mutate(&o)
		if _, err := Generate(o); !errdefs.IsInvalidArgument(err) {
			t.Errorf("bad resources #%d accepted: %v", i, err)
		}
	}
}

func TestGenerateMounts(t *testing.T) {
	t.Parallel()
	o := baseOptions()
	o.Mounts = []specs.Mount{
		BindMount("/host/data/sub", "/data/sub", false),
		BindMount("/host/data", "/data/", true),
		TmpfsMount("/dev/shm", "size=1g"),
	}
	o.ShmSize = 1 << 20
	s := mustGenerate(t, o)
	n := len(s.Mounts)
	if n != 9 {
		t.Fatalf("mounts = %+v", s.Mounts)
	}
	tail := s.Mounts[n-3:]
	if tail[0].Destination != "/data" || tail[1].Destination != "/data/sub" || tail[2].Destination != "/dev/shm" {
		t.Errorf("user mounts not sorted parents first: %+v", tail)
	}
	if !slices.Equal(tail[0].Options, []string{"rbind", "ro", "rprivate"}) || tail[0].Type != "bind" || tail[0].Source != "/host/data" {
		t.Errorf("read-only bind = %+v", tail[0])
	}
	if m, _ := mountAt(s, "/dev/shm"); m.Source != "tmpfs" || !slices.Contains(m.Options, "size=1g") {
		t.Errorf("user /dev/shm did not replace the default: %+v", m)
	}

	o.Mounts = []specs.Mount{BindMount("/host/dev", "/dev", false)}
	s = mustGenerate(t, o)
	for _, m := range s.Mounts {
		if strings.HasPrefix(m.Destination, "/dev/") || (m.Destination == "/dev" && m.Type != "bind") {
			t.Errorf("default %s kept under a user /dev", m.Destination)
		}
	}

	o = baseOptions()
	o.ReadOnly = true
	s = mustGenerate(t, o)
	if !s.Root.Readonly {
		t.Error("root not read-only")
	}
	for _, m := range s.Mounts {
		if ro := slices.Contains(m.Options, "ro"); ro == readOnlyExempt(m.Destination) {
			t.Errorf("read-only rootfs: %s ro=%v", m.Destination, ro)
		}
	}

	for _, dest := range []string{"data", "/data/../etc", "/..", ""} {
		o := baseOptions()
		o.Mounts = []specs.Mount{BindMount("/x", dest, false)}
		if _, err := Generate(o); !errdefs.IsInvalidArgument(err) {
			t.Errorf("mount destination %q accepted: %v", dest, err)
		}
	}
	for _, cwd := range []string{"srv", "/srv/../../etc", "./x"} {
		o := baseOptions()
		o.Cwd = cwd
		if _, err := Generate(o); !errdefs.IsInvalidArgument(err) {
			t.Errorf("working directory %q accepted: %v", cwd, err)
		}
	}
}

func TestGenerateCapabilities(t *testing.T) {
	t.Parallel()
	o := baseOptions()
	o.CapAdd = []string{"sys_admin", "CAP_NET_ADMIN", "chown"}
	o.CapDrop = []string{"MKNOD", "net_raw"}
	caps := mustGenerate(t, o).Process.Capabilities.Bounding
	if !slices.Contains(caps, "CAP_SYS_ADMIN") || !slices.Contains(caps, "CAP_NET_ADMIN") ||
		slices.Contains(caps, "CAP_MKNOD") || slices.Contains(caps, "CAP_NET_RAW") || len(caps) != 14 {
		t.Errorf("tweaked caps = %v", caps)
	}

	o.CapAdd, o.CapDrop = []string{"NET_ADMIN"}, []string{"ALL"}
	if caps := mustGenerate(t, o).Process.Capabilities.Bounding; !slices.Equal(caps, []string{"CAP_NET_ADMIN"}) {
		t.Errorf("drop ALL add NET_ADMIN = %v", caps)
	}

	o.CapAdd, o.CapDrop = []string{"ALL"}, []string{"SYS_ADMIN"}
	o.Host.Capabilities = []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_KILL"}
	if caps := mustGenerate(t, o).Process.Capabilities.Bounding; !slices.Equal(caps, []string{"CAP_CHOWN", "CAP_KILL"}) {
		t.Errorf("add ALL drop SYS_ADMIN = %v", caps)
	}

	o.CapAdd, o.CapDrop = []string{"SYS_TIME"}, nil
	if _, err := Generate(o); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "not available") {
		t.Errorf("unavailable capability: %v", err)
	}
	o.CapAdd = []string{"NOT_A_CAP"}
	if _, err := Generate(o); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `unknown capability: "CAP_NOT_A_CAP"`) {
		t.Errorf("unknown capability: %v", err)
	}
}

func TestGeneratePrivileged(t *testing.T) {
	t.Parallel()
	o := baseOptions()
	o.Privileged = true
	o.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}
	s := mustGenerate(t, o)
	if got := s.Process.Capabilities.Bounding; len(got) != len(knownCapabilities) {
		t.Errorf("privileged caps = %d, want all %d", len(got), len(knownCapabilities))
	}
	if s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil {
		t.Error("privileged container has masked or read-only paths")
	}
	for _, dest := range []string{"/sys", "/sys/fs/cgroup"} {
		if m, _ := mountAt(s, dest); slices.Contains(m.Options, "ro") {
			t.Errorf("privileged %s read-only", dest)
		}
	}
	if r := s.Linux.Resources.Devices; len(r) != 1 || !r[0].Allow || r[0].Access != "rwm" || r[0].Major != nil {
		t.Errorf("privileged device rules = %+v", r)
	}
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/fuse" {
		t.Errorf("devices = %+v", s.Linux.Devices)
	}

	o.Host.Capabilities = []string{"CAP_CHOWN", "CAP_KILL"}
	if got := mustGenerate(t, o).Process.Capabilities.Bounding; !slices.Equal(got, o.Host.Capabilities) {
		t.Errorf("privileged caps limited by host = %v", got)
	}

	o = baseOptions()
	o.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}
	rules := mustGenerate(t, o).Linux.Resources.Devices
	if last := rules[len(rules)-1]; ruleString(last) != "allow c 10:229" {
		t.Errorf("--device rule = %s", ruleString(last))
	}
}

func TestGenerateNamespacesAndHost(t *testing.T) {
	t.Parallel()
	o := baseOptions()
	o.NetNSPath = HostNetwork
	o.Host = Host{CgroupV2: true, NofileLimit: 20000}
	o.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NPROC", Hard: 10, Soft: 5}}
	o.Sysctl = map[string]string{"kernel.shmmax": "1"}
	o.Domainname = "example.org"
	s := mustGenerate(t, o)
	var types []specs.LinuxNamespaceType
	for _, ns := range s.Linux.Namespaces {
		types = append(types, ns.Type)
	}
	if !slices.Equal(types, []specs.LinuxNamespaceType{"mount", "uts", "pid", "ipc", "cgroup"}) {
		t.Errorf("namespaces = %v", types)
	}
	want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 20000, Soft: 20000}, {Type: "RLIMIT_NPROC", Hard: 10, Soft: 5}}
	if !slices.Equal(s.Process.Rlimits, want) {
		t.Errorf("rlimits = %+v", s.Process.Rlimits)
	}
	wantSysctl := map[string]string{"kernel.shmmax": "1", "kernel.domainname": "example.org"}
	if len(s.Linux.Sysctl) != len(wantSysctl) || s.Linux.Sysctl["kernel.shmmax"] != "1" || s.Linux.Sysctl["kernel.domainname"] != "example.org" {
		t.Errorf("host network sysctl = %v", s.Linux.Sysctl)
	}

	o = baseOptions()
	o.NetNSPath = "/var/run/netns/strata-x"
	o.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 4096, Soft: 1024}}
	s = mustGenerate(t, o)
	found := false
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			found = ns.Path == "/var/run/netns/strata-x"
		}
	}
	if !found {
		t.Errorf("network namespace path not joined: %+v", s.Linux.Namespaces)
	}
	if s.Process.Rlimits[0].Soft != 1024 || len(s.Process.Rlimits) != 1 {
		t.Errorf("--ulimit nofile did not replace the default: %+v", s.Process.Rlimits)
	}
}

func TestGenerateAnnotationsAndErrors(t *testing.T) {
	t.Parallel()
	o := baseOptions()
	o.StopSignal = "SIGQUIT"
	o.Annotations = map[string]string{"a": "b"}
	s := mustGenerate(t, o)
	if s.Annotations["a"] != "b" || s.Annotations[StopSignalAnnotation] != "SIGQUIT" {
		t.Errorf("annotations = %v", s.Annotations)
	}
	if o.Annotations[StopSignalAnnotation] != "" {
		t.Error("caller's annotations map modified")
	}
	bad := []func(*Options){
		func(o *Options) { o.StopSignal = "SIGNOPE" },
		func(o *Options) { o.Args = nil },
		func(o *Options) { o.RootfsPath = "" },
	}
	for i, mutate := range bad {
		o := baseOptions()
		mutate(&o)
		if _, err := Generate(o); !errdefs.IsInvalidArgument(err) {
			t.Errorf("bad options #%d accepted: %v", i, err)
		}
	}
}
