package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/runtime/oci"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/snapshot/overlay"
	"github.com/strata-dev/strata/internal/snapshot/vfs"
	"github.com/strata-dev/strata/internal/unpack"
)

// Storage drivers.
const (
	DriverOverlay = "overlay"
	DriverVFS     = "vfs"
)

// driverFile records the driver a root was first used with: snapshots of
// one driver cannot be read by the other.
const driverFile = "storage-driver"

// StorageDriver returns the root's driver: the recorded one, else the one
// asked for, else overlay where it works, else vfs. It does not record.
func (e *Engine) StorageDriver() (string, error) {
	b, err := os.ReadFile(filepath.Join(e.Root, driverFile))
	recorded := strings.TrimSpace(string(b))
	switch {
	case err == nil && recorded != "":
		if e.opts.Driver != "" && e.opts.Driver != recorded {
			return "", errdefs.Newf(errdefs.ErrConflict, "root %s uses the %s storage driver; it cannot be opened with %s", e.Root, recorded, e.opts.Driver)
		}
		return recorded, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return "", err
	}
	switch e.opts.Driver {
	case DriverOverlay, DriverVFS:
		return e.opts.Driver, nil
	case "":
	default:
		return "", errdefs.Newf(errdefs.ErrInvalidArgument, "unknown storage driver %q: use overlay or vfs", e.opts.Driver)
	}
	if overlay.Supported(filepath.Join(e.Root, "snapshots", DriverOverlay)) == nil {
		return DriverOverlay, nil
	}
	return DriverVFS, nil
}

// recordDriver writes the driver file once, atomically.
func (e *Engine) recordDriver(driver string) error {
	path := filepath.Join(e.Root, driverFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp := path + ".tmp-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, []byte(driver+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Containers opens what running containers needs, on first use: image
// commands never pay for it.
func (e *Engine) Containers() (*container.Manager, error) {
	if e.containers != nil {
		return e.containers, nil
	}
	driver, err := e.StorageDriver()
	if err != nil {
		return nil, err
	}
	if err := e.recordDriver(driver); err != nil {
		return nil, err
	}
	snapRoot := filepath.Join(e.Root, "snapshots", driver)
	var sn snapshot.Snapshotter
	if driver == DriverOverlay {
		sn, err = overlay.New(snapRoot, e.Meta.SQL())
	} else {
		sn, err = vfs.New(snapRoot, e.Meta.SQL())
	}
	if err != nil {
		return nil, fmt.Errorf("open %s snapshots: %w", driver, err)
	}
	rt, err := oci.Find(e.opts.Runtime)
	if err != nil && e.opts.Runtime != "" {
		return nil, err
	}
	if rt != nil {
		rt.StateRoot = filepath.Join(e.Root, "runtime")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	// Work a killed process left half done: snapshots being created or
	// removed, layers being extracted. Each is locked while in progress,
	// so this never touches another process's live work.
	if cl, ok := sn.(snapshot.Cleaner); ok {
		_ = cl.Cleanup(context.Background())
	}
	e.containers = &container.Manager{
		Meta: e.Meta, Images: e.Images, Snapshotter: sn, Driver: driver,
		Unpacker: &unpack.Unpacker{Content: e.Content, Snapshotter: sn, Driver: driver,
			LockDir: filepath.Join(e.Root, "locks", "unpack"), Limits: e.Limits},
		Network: &network.Manager{StateDir: filepath.Join(e.Root, "network")},
		Runtime: rt, Dir: filepath.Join(e.Root, "containers"), VolumeDir: filepath.Join(e.Root, "volumes"),
		StrataRoot: e.Root, Exe: exe,
	}
	_ = e.containers.Unpacker.Cleanup(context.Background())
	return e.containers, nil
}
