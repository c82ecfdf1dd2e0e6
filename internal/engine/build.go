package engine

import (
	"path/filepath"

	"github.com/strata-dev/strata/internal/build"
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
		Dir: e.BuildDir(), Limits: e.Limits,
	}, nil
}

// BuildDir holds the build's hash caches, cache mounts and work dirs.
func (e *Engine) BuildDir() string { return filepath.Join(e.Root, "build") }
