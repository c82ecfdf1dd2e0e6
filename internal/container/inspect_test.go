package container

import (
	"bytes"
	"encoding/json"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/snapshot"
)

const inspectID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func inspectFixture() (metadata.Container, Config) {
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	c := metadata.Container{
		ID: inspectID, Name: "web", ImageID: digest.Digest("sha256:" + strings.Repeat("a", 64)), ImageRef: "busybox",
		Created: created, State: metadata.StateRunning, Pid: 4242, StartedAt: created.Add(time.Second), Restarts: 2,
	}
	cfg := Config{
		Image: "busybox", Args: []string{"/bin/sh", "-c", "sleep 1000"}, Cmd: []string{"/bin/sh", "-c", "sleep 1000"},
		Env: []string{"PATH=/bin"}, WorkingDir: "/srv", Hostname: "0123456789ab", Labels: map[string]string{"a": "b"},
		StopTime: 10, Exposed: map[string]struct{}{"80/tcp": {}, "53/udp": {}},
		Volumes: map[string]struct{}{"/data": {}},
		Binds: []Bind{
			{Source: "/host/etc", Destination: "/etc/app", ReadOnly: true},
			{Source: "cache", Destination: "/cache", Volume: true},
			{Destination: "/scratch", Volume: true},
		},
		Ports:   []network.PortMapping{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}, {HostIP: "127.0.0.1", ContainerPort: 53, Proto: "udp"}},
		Network: network.ModeBridge, ExtraHosts: []string{"db:10.0.0.9"}, Restart: RestartPolicy{Name: "on-failure", MaximumRetryCount: 3},
		Memory: 64 << 20, CPUs: 1.5, PidsLimit: 50, Runtime: "/usr/sbin/runc", Driver: "overlay", Snapshot: "container-x",
	}
	return c, cfg
}

func TestBuildInspectRunning(t *testing.T) {
	c, cfg := inspectFixture()
	att := &network.Attachment{Mode: network.ModeBridge, NetNSPath: "/run/netns/x", IP: net.ParseIP("10.88.0.5"),
		IPPrefixLen: 16, Gateway: net.ParseIP("10.88.0.1"), MacAddress: "aa:bb:cc:dd:ee:ff",
		Ports: []network.PortMapping{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}, {HostIP: "127.0.0.1", HostPort: 40001, ContainerPort: 53, Proto: "udp"}}}
	size := int64(4096)
	v := BuildInspect(c, cfg, InspectEnv{Dir: "/root/containers/" + inspectID, Attachment: att, SizeRw: &size,
		VolumePath: func(n string) string { return "/vol/" + n + "/_data" }, CgroupnsMode: "host"})

	if v.ID != inspectID || v.Name != "/web" || v.Image != c.ImageID.String() || v.RestartCount != 2 {
		t.Fatalf("identity: %+v", v)
	}
	if v.Created != "2024-05-06T06:08:09.123456789Z" || v.State.FinishedAt != "0001-01-01T00:00:00Z" {
		t.Fatalf("times: created %s finished %s", v.Created, v.State.FinishedAt)
	}
	if v.Path != "/bin/sh" || !reflect.DeepEqual(v.Args, []string{"-c", "sleep 1000"}) {
		t.Fatalf("path %q args %q", v.Path, v.Args)
	}
	if !v.State.Running || v.State.Paused || v.State.Status != "running" || v.State.Pid != 4242 {
		t.Fatalf("state %+v", v.State)
	}
	if v.LogPath != "/root/containers/"+inspectID+"/container.log" || v.HostsPath != "/root/containers/"+inspectID+"/hosts" {
		t.Fatalf("paths %s %s", v.LogPath, v.HostsPath)
	}
	h := v.HostConfig
	if h.Memory != 64<<20 || h.MemorySwap != 128<<20 || h.NanoCpus != 1_500_000_000 || h.PidsLimit == nil || *h.PidsLimit != 50 {
		t.Fatalf("resources %+v", h)
	}
	if h.Runtime != "runc" || h.RestartPolicy != (RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}) {
		t.Fatalf("runtime %q policy %+v", h.Runtime, h.RestartPolicy)
	}
	if want := []string{"/host/etc:/etc/app:ro", "cache:/cache"}; !reflect.DeepEqual(h.Binds, want) {
		t.Fatalf("binds %q", h.Binds)
	}
	wantBindings := map[string][]PortBinding{"80/tcp": {{HostPort: "8080"}}, "53/udp": {{HostIP: "127.0.0.1"}}}
	if !reflect.DeepEqual(h.PortBindings, wantBindings) {
		t.Fatalf("port bindings %+v", h.PortBindings)
	}
	// Live ports: every exposed port, with the bindings of the running
	// network (random host ports resolved).
	wantPorts := map[string][]PortBinding{"80/tcp": {{HostIP: "0.0.0.0", HostPort: "8080"}}, "53/udp": {{HostIP: "127.0.0.1", HostPort: "40001"}}}
	if n := v.NetworkSettings; !reflect.DeepEqual(n.Ports, wantPorts) || n.IPAddress != "10.88.0.5" ||
		n.Gateway != "10.88.0.1" || n.IPPrefixLen != 16 || n.Networks["bridge"].IPAddress != "10.88.0.5" {
		t.Fatalf("network %+v", n)
	}
	wantMounts := []MountView{
		{Type: "volume", Name: "cache", Source: "/vol/cache/_data", Destination: "/cache", Driver: "local", Mode: "z", RW: true},
		{Type: "volume", Name: anonVolumeName(inspectID, "/data"), Source: "/vol/" + anonVolumeName(inspectID, "/data") + "/_data", Destination: "/data", Driver: "local", RW: true},
		{Type: "bind", Source: "/host/etc", Destination: "/etc/app", Mode: "ro", RW: false, Propagation: "rprivate"},
		{Type: "volume", Name: anonVolumeName(inspectID, "/scratch"), Source: "/vol/" + anonVolumeName(inspectID, "/scratch") + "/_data", Destination: "/scratch", Driver: "local", RW: true},
	}
	if !reflect.DeepEqual(v.Mounts, wantMounts) {
		t.Fatalf("mounts:\n%+v\nwant\n%+v", v.Mounts, wantMounts)
	}
	cv := v.Config
	if cv.Image != "busybox" || cv.WorkingDir != "/srv" || cv.Labels["a"] != "b" || cv.StopTimeout != nil ||
		!reflect.DeepEqual(cv.Volumes, map[string]struct{}{"/data": {}, "/scratch": {}}) {
		t.Fatalf("config %+v", cv)
	}
	if *v.SizeRw != 4096 || v.SizeRootFs != nil {
		t.Fatal("sizes")
	}
}

func TestBuildInspectStopped(t *testing.T) {
	c, cfg := inspectFixture()
	c.State, c.Pid, c.ExitCode, c.FinishedAt = metadata.StateExited, 0, 137, c.Created.Add(time.Minute)
	cfg.Args, cfg.Binds, cfg.Volumes, cfg.Ports, cfg.PidsLimit, cfg.Memory, cfg.Restart = []string{"sh"}, nil, nil, nil, 0, 0, RestartPolicy{}
	cfg.StopTime, cfg.Runtime = 3, ""
	v := BuildInspect(c, cfg, InspectEnv{Dir: "/d"})
	if v.State.Running || v.State.Status != "exited" || v.State.ExitCode != 137 {
		t.Fatalf("state %+v", v.State)
	}
	if v.Path != "sh" || v.Args == nil || len(v.Args) != 0 {
		t.Fatalf("path %q args %#v", v.Path, v.Args)
	}
	if len(v.NetworkSettings.Ports) != 0 || v.NetworkSettings.IPAddress != "" {
		t.Fatalf("a stopped container has live network settings: %+v", v.NetworkSettings)
	}
	if _, ok := v.NetworkSettings.Networks["bridge"]; !ok {
		t.Fatal("no bridge entry")
	}
	h := v.HostConfig
	if h.PidsLimit != nil || h.MemorySwap != 0 || h.RestartPolicy.Name != "no" || h.Runtime != "runc" || h.Binds != nil {
		t.Fatalf("host config %+v", h)
	}
	if v.Config.StopTimeout == nil || *v.Config.StopTimeout != 3 || v.Config.Volumes != nil {
		t.Fatalf("config %+v", v.Config)
	}

	// The JSON has Docker's shape: nulls and empty objects where Docker
	// prints them, no SizeRw without --size.
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Id":"` + inspectID + `"`, `"Mounts":[]`, `"PortBindings":{}`, `"ExecIDs":null`,
		`"Labels":{"a":"b"}`, `"Entrypoint":null`, `"Dns":[]`, `"CpuShares":0`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	if bytes.Contains(b, []byte("SizeRw")) {
		t.Error("SizeRw without --size")
	}
	// Top-level keys in Docker's order.
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(b))
	_, _ = dec.Token() // {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath", "HostnamePath", "HostsPath",
		"LogPath", "Name", "RestartCount", "Driver", "Platform", "MountLabel", "ProcessLabel", "AppArmorProfile",
		"ExecIDs", "HostConfig", "GraphDriver", "Mounts", "Config", "NetworkSettings"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys %q", keys)
	}
}

func TestBuildInspectHostNetwork(t *testing.T) {
	c, cfg := inspectFixture()
	cfg.Network = network.ModeHost
	v := BuildInspect(c, cfg, InspectEnv{Dir: "/d"})
	if _, ok := v.NetworkSettings.Networks["host"]; !ok || len(v.NetworkSettings.Networks) != 1 {
		t.Fatalf("networks %+v", v.NetworkSettings.Networks)
	}
	if v.HostConfig.NetworkMode != "host" || len(v.NetworkSettings.Ports) != 0 {
		t.Fatalf("host mode: %+v", v.NetworkSettings)
	}
}

func TestGraphData(t *testing.T) {
	overlay := []snapshot.Mount{{Type: "overlay", Source: "overlay", Options: []string{"index=off",
		"lowerdir=/s/1/fs:/s/0/fs", "workdir=/s/2/work", "upperdir=/s/2/fs"}}}
	got := graphData(overlay, "/c/rootfs")
	want := map[string]string{"LowerDir": "/s/1/fs:/s/0/fs", "UpperDir": "/s/2/fs", "WorkDir": "/s/2/work", "MergedDir": "/c/rootfs"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("overlay: %v", got)
	}
	bind := []snapshot.Mount{{Type: "bind", Source: "/s/3/fs", Options: []string{"rbind", "rw"}}}
	if got := graphData(bind, "/c/rootfs"); got["UpperDir"] != "/s/3/fs" || got["LowerDir"] != "" {
		t.Fatalf("bind: %v", got)
	}
	if graphData(nil, "/x") != nil {
		t.Fatal("no mounts gave data")
	}
}
