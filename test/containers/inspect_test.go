package containers

import (
	"encoding/json"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// inspectJSON is the part of `container inspect` the tests read.
type inspectJSON struct {
	ID    string `json:"Id"`
	Name  string
	Path  string
	Args  []string
	Image string
	State struct {
		Status     string
		Running    bool
		Pid        int
		ExitCode   int
		StartedAt  string
		FinishedAt string
	}
	HostConfig struct {
		Memory        int64
		NanoCpus      int64
		PidsLimit     *int64
		RestartPolicy struct {
			Name              string
			MaximumRetryCount int
		}
		PortBindings map[string][]struct{ HostPort string }
	}
	GraphDriver struct {
		Name string
		Data map[string]string
	}
	SizeRw     *int64
	SizeRootFs *int64
	Config     struct {
		Env    []string
		Labels map[string]string
		Image  string
	}
	NetworkSettings struct {
		IPAddress string
		Ports     map[string][]struct {
			HostIP   string `json:"HostIp"`
			HostPort string
		}
	}
}

func (s *sandbox) inspect(args ...string) []inspectJSON {
	s.t.Helper()
	out := s.ok(append([]string{"container", "inspect"}, args...)...)
	var v []inspectJSON
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		s.t.Fatalf("inspect output is not a JSON array: %v\n%s", err, out)
	}
	return v
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestInspect(t *testing.T) {
	s := newSandbox(t)
	port := strconv.Itoa(freePort(t))
	id := s.start("--name", "web", "-p", port+":80", "-m", "64m", "--restart", "on-failure:2",
		"-l", "tier=front", "-e", "FOO=bar", "busybox", "sleep", "1000")
	imageID := strings.TrimSpace(s.ok("image", "inspect", "-f", "{{.Id}}", "busybox"))

	v := s.inspect("web")
	if len(v) != 1 {
		t.Fatalf("%d objects", len(v))
	}
	c := v[0]
	if c.ID != id || c.Name != "/web" || c.Image != imageID || c.Config.Image != "busybox" {
		t.Fatalf("identity: %+v", c)
	}
	if c.Path != "sleep" || len(c.Args) != 1 || c.Args[0] != "1000" {
		t.Fatalf("path %q args %q", c.Path, c.Args)
	}
	if !c.State.Running || c.State.Status != "running" || c.State.Pid <= 0 || c.State.FinishedAt != "0001-01-01T00:00:00Z" {
		t.Fatalf("state %+v", c.State)
	}
	if comm, err := os.ReadFile("/proc/" + strconv.Itoa(c.State.Pid) + "/comm"); err != nil || strings.TrimSpace(string(comm)) != "sleep" {
		t.Fatalf("State.Pid %d is not the container's sleep: %q %v", c.State.Pid, comm, err)
	}
	h := c.HostConfig
	if h.Memory != 64<<20 || h.RestartPolicy.Name != "on-failure" || h.RestartPolicy.MaximumRetryCount != 2 {
		t.Fatalf("host config %+v", h)
	}
	if b := h.PortBindings["80/tcp"]; len(b) != 1 || b[0].HostPort != port {
		t.Fatalf("port bindings %+v", h.PortBindings)
	}
	if p := c.NetworkSettings.Ports["80/tcp"]; len(p) != 1 || p[0].HostPort != port || p[0].HostIP != "0.0.0.0" {
		t.Fatalf("live ports %+v", c.NetworkSettings.Ports)
	}
	if net.ParseIP(c.NetworkSettings.IPAddress) == nil {
		t.Fatalf("IP address %q", c.NetworkSettings.IPAddress)
	}
	if c.Config.Labels["tier"] != "front" || !contains(c.Config.Env, "FOO=bar") {
		t.Fatalf("config %+v", c.Config)
	}
	if upper := c.GraphDriver.Data["UpperDir"]; c.GraphDriver.Name == "overlay" && upper == "" {
		t.Fatalf("graph driver %+v", c.GraphDriver)
	}
	if c.SizeRw != nil {
		t.Fatal("SizeRw without --size")
	}

	// Templates see the JSON shape; -s adds the sizes.
	s.ok("exec", "web", "sh", "-c", "head -c 50000 /bin/busybox > /blob")
	out := s.ok("container", "inspect", "-s", "--format", "{{.Name}} {{.State.Status}} {{.HostConfig.Memory}} {{.SizeRw}} {{.SizeRootFs}}", id[:12])
	f := strings.Fields(out)
	if len(f) != 5 || f[0] != "/web" || f[1] != "running" || f[2] != "67108864" {
		t.Fatalf("format output %q", out)
	}
	rw, _ := strconv.ParseInt(f[3], 10, 64)
	rootfs, _ := strconv.ParseInt(f[4], 10, 64)
	if rw < 50000 || rootfs <= rw {
		t.Fatalf("SizeRw %d SizeRootFs %d", rw, rootfs)
	}

	// A missing container: the others are still printed, exit 1.
	r := s.run("container", "inspect", "web", "nope")
	if r.Code != 1 || !strings.Contains(r.Stderr, "No such container: nope") || strings.Count(r.Stdout, `"Id"`) != 1 {
		t.Fatalf("inspect with a missing container: %s", r)
	}

	s.ok("stop", "-t", "0", "web")
	c = s.inspect("web")[0]
	if c.State.Running || c.State.Status != "exited" || c.State.Pid != 0 || c.State.ExitCode != 137 ||
		c.State.FinishedAt == "0001-01-01T00:00:00Z" || len(c.NetworkSettings.Ports) != 0 {
		t.Fatalf("stopped: %+v %+v", c.State, c.NetworkSettings)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
