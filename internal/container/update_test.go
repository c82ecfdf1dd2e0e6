package container

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/strata-dev/strata/internal/errdefs"
)

func valuePtr[T any](v T) *T { return &v }

func TestUpdateOptionsCheckAndApply(t *testing.T) {
	cfg := Config{Memory: 64 << 20, CPUs: 1, PidsLimit: 10, Restart: RestartPolicy{Name: "no"}}
	if err := (UpdateOptions{}).check(cfg); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("empty update: %v", err)
	}
	if err := (UpdateOptions{Memory: valuePtr(int64(1 << 20))}).check(cfg); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("1 MiB accepted: %v", err)
	}
	if err := (UpdateOptions{CPUs: valuePtr(0.001)}).check(cfg); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("0.001 CPUs accepted: %v", err)
	}
	rm := cfg
	rm.AutoRemove = true
	if err := (UpdateOptions{Restart: &RestartPolicy{Name: "always"}}).check(rm); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("restart policy on --rm container: %v", err)
	}
	if err := (UpdateOptions{Restart: &RestartPolicy{Name: "no"}}).check(rm); err != nil {
		t.Fatalf("restart=no on --rm container: %v", err)
	}

	o := UpdateOptions{Memory: valuePtr(int64(128 << 20)), PidsLimit: valuePtr(int64(-1)), Restart: &RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}}
	if err := o.check(cfg); err != nil {
		t.Fatal(err)
	}
	got := o.apply(cfg)
	want := Config{Memory: 128 << 20, CPUs: 1, PidsLimit: 0, Restart: RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("apply: %+v", got)
	}
	if cfg.Memory != 64<<20 {
		t.Fatal("apply changed its input")
	}
}

func TestUpdateResources(t *testing.T) {
	r := updateResources(UpdateOptions{Memory: valuePtr(int64(64 << 20)), CPUs: valuePtr(1.5), PidsLimit: valuePtr(int64(0))}, true)
	if *r.Memory.Limit != 64<<20 || *r.Memory.Swap != 128<<20 {
		t.Fatalf("memory %+v", r.Memory)
	}
	if *r.CPU.Period != 100000 || *r.CPU.Quota != 150000 {
		t.Fatalf("cpu %d/%d", *r.CPU.Quota, *r.CPU.Period)
	}
	if *r.Pids.Limit != -1 {
		t.Fatalf("pids %d", *r.Pids.Limit)
	}
	r = updateResources(UpdateOptions{Memory: valuePtr(int64(64 << 20))}, false)
	if r.Memory.Swap != nil || r.CPU != nil || r.Pids != nil {
		t.Fatalf("unasked settings: %+v", r)
	}
}

func TestMergeResourcesKeepsOldCopy(t *testing.T) {
	oldLimit, oldQuota := int64(10<<20), int64(50000)
	dst := specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &oldLimit}, CPU: &specs.LinuxCPU{Quota: &oldQuota, Shares: valuePtr(uint64(512))},
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
	before := dst
	mergeResources(&dst, updateResources(UpdateOptions{Memory: valuePtr(int64(20 << 20)), CPUs: valuePtr(2.0)}, true))
	if *dst.Memory.Limit != 20<<20 || *dst.CPU.Quota != 200000 || *dst.CPU.Shares != 512 || len(dst.Devices) != 1 {
		t.Fatalf("merged %+v %+v", dst.Memory, dst.CPU)
	}
	if *before.Memory.Limit != 10<<20 || *before.CPU.Quota != 50000 {
		t.Fatal("merge wrote through the old resources")
	}
}

func TestBundleRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	s := &specs.Spec{Version: specs.Version, Hostname: "h", Linux: &specs.Linux{CgroupsPath: "/strata/x",
		Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: valuePtr(int64(5))}}}}
	if err := writeBundle(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := readBundle(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := os.Stat(path + ".update"); !os.IsNotExist(err) {
		t.Fatal("temporary file left behind")
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readBundle(path); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Fatal("corrupt bundle read")
	}
}
