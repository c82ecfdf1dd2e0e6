package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/runtime/oci"
	"github.com/strata-dev/strata/internal/runtime/spec"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/unpack"
)

// Manager runs containers. One is built per strata process by the engine;
// all state is in the database and under Dir, so processes cooperate.
type Manager struct {
	Meta        *metadata.DB
	Images      *imagestore.Store
	Snapshotter snapshot.Snapshotter
	Driver      string
	Unpacker    *unpack.Unpacker
	Network     *network.Manager
	Runtime     *oci.Runtime // nil when no OCI runtime is installed
	Dir         string       // <root>/containers
	VolumeDir   string       // <root>/volumes
	StrataRoot  string       // passed to the monitor as --root
	Exe         string       // the strata binary the monitor runs as
}

// CreateOptions are the settings of `create` and `run` after flag parsing.
type CreateOptions struct {
	Name       string
	Image      string
	Entrypoint *[]string // --entrypoint (nil: the image's)
	Args       []string  // after the image name
	Env        []string  // -e and --env-file, KEY=VALUE or KEY
	WorkingDir string
	User       *string // -u (nil: the image's)
	Hostname   string
	Tty        bool
	OpenStdin  bool
	Labels     map[string]string
	Ports      []network.PortMapping
	PublishAll bool
	Binds      []Bind
	Network    string
	ExtraHosts []string
	ReadOnly   bool
	AutoRemove bool
	Restart    RestartPolicy
	Memory     int64
	CPUs       float64
	PidsLimit  int64
	StopSignal string
	StopTime   *int
}

// Create records a container and prepares its writable layer on the
// image's layers (unpacked once, shared by every container and image that
// uses them).
func (m *Manager) Create(ctx context.Context, o CreateOptions) (metadata.Container, error) {
	img, err := m.Images.Resolve(ctx, o.Image)
	if err != nil {
		return metadata.Container{}, err
	}
	raw, err := m.Images.Content.ReadAll(img.ID, 4<<20)
	if err != nil {
		return metadata.Container{}, err
	}
	icfg, err := image.ParseConfig(raw)
	if err != nil {
		return metadata.Container{}, err
	}
	cfg, err := buildConfig(o, icfg)
	if err != nil {
		return metadata.Container{}, err
	}
	if m.Runtime != nil {
		cfg.Runtime = m.Runtime.Binary
	}
	var layers []unpack.Layer
	for _, l := range img.Layers() {
		layers = append(layers, unpack.Layer{Blob: l.Digest, DiffID: l.DiffID})
	}
	if cfg.ImageChain, err = m.Unpacker.Unpack(ctx, layers); err != nil {
		return metadata.Container{}, fmt.Errorf("unpack image %s: %w", o.Image, err)
	}
	if cfg.InitLayer, err = m.initLayer(ctx, cfg.ImageChain); err != nil {
		return metadata.Container{}, fmt.Errorf("init layer: %w", err)
	}
	id := newID()
	name := o.Name
	if name == "" {
		name = randomName()
	} else if !validName(name) {
		return metadata.Container{}, errdefs.Newf(errdefs.ErrInvalidArgument, "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = id[:12]
	}
	cfg.Driver, cfg.Snapshot = m.Driver, "container-"+id
	rawCfg, _ := json.Marshal(cfg)
	c := metadata.Container{ID: id, Name: name, ImageID: img.ID, ImageRef: o.Image, Created: time.Now().UTC(),
		Config: rawCfg, State: metadata.StateCreated}
	if err := os.MkdirAll(filepath.Join(m.Dir, id, "rootfs"), 0o710); err != nil {
		return metadata.Container{}, err
	}
	if err := m.Meta.CreateContainer(ctx, c); err != nil {
		os.RemoveAll(filepath.Join(m.Dir, id))
		return metadata.Container{}, err
	}
	if _, err := m.Snapshotter.Prepare(ctx, cfg.Snapshot, cfg.InitLayer); err != nil {
		_ = m.Meta.DeleteContainer(ctx, id)
		os.RemoveAll(filepath.Join(m.Dir, id))
		return metadata.Container{}, fmt.Errorf("prepare container layer: %w", err)
	}
	return c, nil
}

// buildConfig merges the image's config and the command line, checking
// every path the image or user gives.
func buildConfig(o CreateOptions, icfg *image.Config) (Config, error) {
	ic := icfg.Config
	args, err := spec.ResolveCommand(ic, o.Entrypoint, o.Args)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{
		Image: o.Image, Args: args, Env: spec.MergeEnv(ic.Env, o.Env), WorkingDir: ic.WorkingDir,
		User: ic.User, Hostname: o.Hostname, Tty: o.Tty, OpenStdin: o.OpenStdin, Labels: map[string]string{},
		StopSignal: ic.StopSignal, StopTime: 10, Exposed: map[string]struct{}{}, Volumes: map[string]struct{}{},
		Binds: o.Binds, Ports: o.Ports, Network: o.Network, ExtraHosts: o.ExtraHosts, ReadOnly: o.ReadOnly,
		AutoRemove: o.AutoRemove, Restart: o.Restart, Memory: o.Memory, CPUs: o.CPUs, PidsLimit: o.PidsLimit,
		Healthcheck: ic.Healthcheck,
	}
	cfg.Entrypoint, cfg.Cmd = splitCommand(ic, o)
	if o.WorkingDir != "" {
		cfg.WorkingDir = o.WorkingDir
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = "/"
	}
	if err := checkPath("working directory", cfg.WorkingDir); err != nil {
		return Config{}, err
	}
	if o.User != nil {
		cfg.User = *o.User
	}
	if o.StopSignal != "" {
		cfg.StopSignal = o.StopSignal
	}
	if o.StopTime != nil {
		cfg.StopTime = *o.StopTime
	}
	if cfg.Network == "" {
		cfg.Network = network.ModeBridge
	}
	for k, v := range ic.Labels {
		cfg.Labels[k] = v
	}
	for k, v := range o.Labels {
		cfg.Labels[k] = v
	}
	for p := range ic.ExposedPorts {
		cfg.Exposed[p] = struct{}{}
	}
	for _, p := range o.Ports {
		cfg.Exposed[fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)] = struct{}{}
	}
	if o.PublishAll {
		cfg.Ports = append(cfg.Ports, network.PublishAll(cfg.Exposed)...)
	}
	for v := range ic.Volumes {
		if err := checkPath("volume", v); err != nil {
			return Config{}, err
		}
		cfg.Volumes[path.Clean(v)] = struct{}{}
	}
	for _, b := range o.Binds {
		if err := checkPath("mount destination", b.Destination); err != nil {
			return Config{}, err
		}
	}
	return cfg, nil
}

func splitCommand(ic image.ContainerConfig, o CreateOptions) (entrypoint, cmd []string) {
	entrypoint = ic.Entrypoint
	cmd = ic.Cmd
	if o.Entrypoint != nil {
		entrypoint = *o.Entrypoint
		if len(entrypoint) == 1 && entrypoint[0] == "" {
			entrypoint = nil
		}
		cmd = nil
	}
	if len(o.Args) > 0 {
		cmd = o.Args
	}
	return entrypoint, cmd
}

// checkPath refuses container paths that are relative or climb out of the
// rootfs: an image's WORKDIR or VOLUME must not point outside it.
func checkPath(what, p string) error {
	if !path.IsAbs(p) {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "%s %q is not an absolute path", what, p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return errdefs.Newf(errdefs.ErrInvalidArgument, "%s %q escapes the container's root filesystem", what, p)
		}
	}
	return nil
}

func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validName(n string) bool {
	for i, c := range n {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i > 0 {
			ok = ok || c == '_' || c == '.' || c == '-'
		}
		if !ok {
			return false
		}
	}
	return n != ""
}

// Get resolves a container by name, ID or ID prefix and reconciles its
// state with reality (a monitor killed with -9 leaves "running" behind).
func (m *Manager) Get(ctx context.Context, ref string) (metadata.Container, error) {
	c, err := m.Meta.FindContainer(ctx, ref)
	if err != nil {
		return c, err
	}
	return m.reconcile(ctx, c)
}

// List returns every container, reconciled.
func (m *Manager) List(ctx context.Context) ([]metadata.Container, error) {
	list, err := m.Meta.ListContainers(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i], err = m.reconcile(ctx, list[i]); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// ConfigOf decodes a container's stored configuration.
func ConfigOf(c metadata.Container) (Config, error) { return decodeConfig(c.Config) }

func (m *Manager) dir(id string) string { return filepath.Join(m.Dir, id) }
