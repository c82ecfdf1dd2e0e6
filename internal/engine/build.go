package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-dev/strata/internal/build"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/reference"
	"github.com/strata-dev/strata/internal/transfer"
)

// Builder returns the Dockerfile builder, opening what containers need:
// RUN steps are containers.
func (e *Engine) Builder() (*build.Builder, error) {
	m, err := e.Containers()
	if err != nil {
		return nil, err
	}
	return &build.Builder{
		Images: e.Images, Meta: e.Meta, Snapshotter: m.Snapshotter, Driver: m.Driver,
		Unpacker: m.Unpacker, Network: m.Network, Runtime: m.Runtime,
		Dir: e.BuildDir(), Limits: e.Limits, Pull: e.pullBase,
	}, nil
}

// pullBase pulls a build's base image for the host's platform.
func (e *Engine) pullBase(ctx context.Context, name string, w io.Writer) error {
	ref, err := reference.Parse(name)
	if err != nil {
		return err
	}
	client, cfg, err := e.Remote()
	if err != nil {
		return err
	}
	repo, err := client.Repository(ctx, ref, "pull")
	if err != nil {
		return err
	}
	p := &transfer.Puller{Images: e.Images, Platform: image.HostPlatform(), Parallel: cfg.MaxDownloads, Progress: func(ev transfer.Event) {
		if strings.HasSuffix(ev.Status, "complete") || ev.Status == "Already exists" {
			fmt.Fprintf(w, "%s: %s\n", ev.ID, ev.Status)
		}
	}}
	res, err := p.Pull(ctx, repo, ref)
	if err == nil {
		fmt.Fprintf(w, "Digest: %s\n", res.Digest)
	}
	return err
}

// PruneUnpacked removes the unpacked layers no image or build cache entry
// needs any more. A root where nothing was ever unpacked is left alone.
func (e *Engine) PruneUnpacked(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(e.Root, driverFile)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	b, err := e.Builder()
	if err != nil {
		return err
	}
	_, _, err = b.PruneSnapshots(ctx)
	return err
}

// BuildDir holds the build's hash caches, cache mounts and work dirs.
func (e *Engine) BuildDir() string { return filepath.Join(e.Root, "build") }
