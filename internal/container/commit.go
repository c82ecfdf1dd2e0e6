package container

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/reference"
	"github.com/strata-dev/strata/internal/snapshot"
)

// CommitOptions are commit's flags.
type CommitOptions struct {
	Message string
	Author  string
	Changes []string
	Pause   bool
	Tag     *reference.Reference
}

// Commit turns the container's layer into a new image on top of the
// container's image. The layer is read from the overlay upper directory, so
// its cost follows the size of the change, not of the image.
func (m *Manager) Commit(ctx context.Context, ref string, o CommitOptions) (metadata.Image, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return metadata.Image{}, err
	}
	cfg, err := decodeConfig(c.Config)
	if err != nil {
		return metadata.Image{}, err
	}
	if o.Pause && c.State == metadata.StateRunning {
		if err := m.Runtime.Pause(ctx, c.ID); err == nil {
			defer func() { _ = m.Runtime.Resume(ctx, c.ID) }()
		}
	}
	parent, err := m.Images.Meta.Get(ctx, c.ImageID)
	if err != nil {
		return metadata.Image{}, err
	}
	raw, err := m.Images.Content.ReadAll(parent.ID, 4<<20)
	if err != nil {
		return metadata.Image{}, err
	}
	icfg, err := image.ParseConfig(raw)
	if err != nil {
		return metadata.Image{}, err
	}
	release, err := m.Images.Lease()
	if err != nil {
		return metadata.Image{}, err
	}
	defer release()
	layer, err := m.diffLayer(ctx, cfg)
	if err != nil {
		return metadata.Image{}, err
	}
	ncfg, err := commitConfig(icfg, c, cfg, layer.DiffID, o)
	if err != nil {
		return metadata.Image{}, err
	}
	rawCfg, _, err := ncfg.Marshal()
	if err != nil {
		return metadata.Image{}, err
	}
	var layers []imagestore.Layer
	for _, l := range parent.Layers() {
		layers = append(layers, imagestore.Layer{Digest: l.Digest, Size: l.Size, MediaType: l.MediaType, DiffID: l.DiffID, DiffSize: l.DiffSize})
	}
	layers = append(layers, layer)
	var tags []reference.Reference
	if o.Tag != nil {
		tags = append(tags, *o.Tag)
	}
	img, _, err := m.Images.Commit(ctx, imagestore.NewImage{Config: rawCfg, Layers: layers, Parent: parent.ID}, tags, nil)
	return img, err
}

// diffLayer stores the container's changes as an uncompressed layer blob.
func (m *Manager) diffLayer(ctx context.Context, cfg Config) (imagestore.Layer, error) {
	w, err := m.Images.Content.Writer(imagestore.TempRef("commit"), "")
	if err != nil {
		return imagestore.Layer{}, err
	}
	defer w.Close()
	if err := m.writeDiff(ctx, cfg, w); err != nil {
		w.Abort()
		return imagestore.Layer{}, err
	}
	size, dg := w.Offset(), w.Digest()
	info, err := w.Commit(size, dg)
	if err != nil {
		return imagestore.Layer{}, err
	}
	return imagestore.Layer{Digest: info.Digest, Size: info.Size, MediaType: image.MediaTypeOCILayer, DiffID: info.Digest, DiffSize: info.Size}, nil
}

// writeDiff writes the container's layer as an OCI layer tar: from the
// overlay upper dir, or (vfs) by comparing with a view of the image.
func (m *Manager) writeDiff(ctx context.Context, cfg Config, w io.Writer) error {
	mounts, err := m.Snapshotter.Mounts(ctx, cfg.Snapshot)
	if err != nil {
		return err
	}
	upper, ok := snapshot.UpperDir(mounts)
	if !ok {
		return fmt.Errorf("container layer has no upper directory")
	}
	if m.Driver != "vfs" {
		return archive.Diff(w, upper)
	}
	return m.withImageView(ctx, cfg, func(lower string) error { return archive.DiffTrees(w, lower, upper) })
}

// withImageView mounts a read-only view of the layers below the
// container's own: its image and the init layer.
func (m *Manager) withImageView(ctx context.Context, cfg Config, fn func(dir string) error) error {
	parent := cfg.InitLayer
	if parent == "" {
		parent = cfg.ImageChain
	}
	get := func(key string) ([]snapshot.Mount, error) {
		if parent == "" {
			return nil, nil // an image without layers: an empty directory
		}
		return m.Snapshotter.View(ctx, key, parent)
	}
	return m.tempMount(ctx, ".view-", get, fn)
}

// commitConfig is the new image's config: the container's settings over
// its image's, the changes applied, one more layer and history entry.
func commitConfig(parent *image.Config, c metadata.Container, cfg Config, diffID digest.Digest, o CommitOptions) (*image.Config, error) {
	n := *parent
	now := time.Now().UTC()
	cc := parent.Config
	cc.Env, cc.WorkingDir, cc.User = cfg.Env, cfg.WorkingDir, cfg.User
	cc.Entrypoint, cc.Cmd = cfg.Entrypoint, cfg.Cmd
	cc.Tty, cc.OpenStdin = cfg.Tty, cfg.OpenStdin
	cc.Hostname = cfg.Hostname
	cc.ExposedPorts = cfg.Exposed
	cc.Labels = cfg.Labels
	if len(cc.ExposedPorts) == 0 {
		cc.ExposedPorts = nil
	}
	if len(cc.Labels) == 0 {
		cc.Labels = nil
	}
	if err := image.ApplyChanges(&cc, o.Changes); err != nil {
		return nil, err
	}
	n.Config = cc
	n.Created = &now
	n.Author = o.Author
	n.Comment = o.Message
	n.Container = c.ID
	n.RootFS.DiffIDs = append(append([]digest.Digest{}, parent.RootFS.DiffIDs...), diffID)
	n.History = append(append([]image.History{}, parent.History...), image.History{
		// Docker records the container's Cmd alone, without its Entrypoint.
		Created: &now, CreatedBy: strings.Join(cfg.Cmd, " "), Author: o.Author, Comment: o.Message,
	})
	return &n, nil
}
