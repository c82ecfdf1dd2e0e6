package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/buildctx"
	"github.com/strata-dev/strata/internal/dockerfile"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/progress"
	"github.com/strata-dev/strata/internal/reference"
	"github.com/strata-dev/strata/internal/runtime/oci"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/unpack"
)

// Builder runs builds. The engine makes one per process; builds in other
// processes share its stores, cache included.
type Builder struct {
	Images      *imagestore.Store
	Meta        *metadata.DB
	Snapshotter snapshot.Snapshotter
	Driver      string
	Unpacker    *unpack.Unpacker
	Network     *network.Manager
	Runtime     *oci.Runtime // nil when no OCI runtime is installed
	Dir         string       // <root>/build: hash caches, cache mounts, work dirs
	Limits      archive.Limits
	// Pull fetches a base image from its registry, reporting to w; nil
	// means base images must already be in the store.
	Pull func(ctx context.Context, name string, w io.Writer) error
}

// Secret is the source of a --secret: a file or an environment variable.
type Secret struct {
	File string
	Env  string
}

// Options are one build's settings, after the CLI parsed its flags.
type Options struct {
	Context        *buildctx.Context // nil: an empty context
	Dockerfile     []byte
	DockerfileName string // as shown in messages
	Tags           []reference.Reference
	BuildArgs      map[string]string
	Target         string
	NoCache        bool
	Pull           bool
	Labels         map[string]string
	Network        string // bridge (default), host or none
	Platform       string // "" or the host's
	Secrets        map[string]Secret
	AllowPrivate   bool // ADD may download from private addresses
	ExplainCache   bool
	Display        *progress.Display
}

// Result is a finished build.
type Result struct {
	ImageID digest.Digest
}

// Build runs a build and records the image with its tags. On failure
// nothing is tagged and no partial image exists; the steps that completed
// stay in the cache.
func (b *Builder) Build(ctx context.Context, o Options) (Result, error) {
	if b.Runtime == nil {
		return Result{}, errdefs.Newf(errdefs.ErrUnavailable, "build needs an OCI runtime (runc or crun) to run RUN steps; none is installed")
	}
	if err := checkPlatform(o.Platform); err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(b.workDir(), 0o700); err != nil {
		return Result{}, err
	}
	b.cleanStale(ctx)
	f, err := b.load(o)
	if err != nil {
		return Result{}, err
	}
	p, err := newPlan(f, o)
	if err != nil {
		return Result{}, err
	}
	st, err := b.runPlan(ctx, p, o)
	if err != nil {
		return Result{}, err
	}
	id, err := b.export(ctx, st, o)
	if err != nil {
		return Result{}, err
	}
	if o.Context != nil {
		_ = o.Context.Save()
	}
	if unused := p.unusedArgs(); len(unused) > 0 {
		o.Display.Notice(fmt.Sprintf("[Warning] One or more build-args %v were not consumed", unused))
	}
	return Result{ImageID: id}, nil
}

// load parses the Dockerfile under a progress vertex.
func (b *Builder) load(o Options) (*dockerfile.File, error) {
	v := o.Display.Vertex("[internal] load build definition from " + filepath.Base(o.DockerfileName))
	f, err := dockerfile.Parse(o.DockerfileName, o.Dockerfile)
	v.Done(err)
	if err != nil {
		return nil, err
	}
	if f.Syntax != "" {
		o.Display.Notice(fmt.Sprintf("# syntax=%s ignored: strata builds with its own Dockerfile frontend", f.Syntax))
	}
	for _, w := range f.Warnings {
		o.Display.Notice("[Warning] " + w)
	}
	return f, nil
}

// runPlan runs the stages the target needs, each in its own goroutine
// once the stages it reads from are done, and returns the target's state.
func (b *Builder) runPlan(ctx context.Context, p *plan, o Options) (*state, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &cache{meta: b.Meta, noCache: o.NoCache}
	for _, i := range p.order {
		go func(i int) {
			r := p.results[i]
			r.st, r.err = b.runStage(ctx, p, i, c, o)
			if r.err != nil {
				cancel()
			}
			close(r.done)
		}(i)
	}
	// Report the first error in file order that is not a consequence of
	// another stage's failure.
	var first error
	for _, i := range p.order {
		r := p.results[i]
		<-r.done
		if r.err != nil && (first == nil || errors.Is(first, context.Canceled)) {
			first = r.err
		}
	}
	if first != nil {
		return nil, first
	}
	return p.results[p.target].st, nil
}

// export records the target's state as the image, with --label applied,
// and tags it.
func (b *Builder) export(ctx context.Context, st *state, o Options) (digest.Digest, error) {
	v := o.Display.Vertex("exporting to image")
	id, err := b.commit(ctx, st, o, v)
	v.Done(err)
	return id, err
}

func (b *Builder) commit(ctx context.Context, st *state, o Options, v *progress.Vertex) (digest.Digest, error) {
	final := st.clone()
	if len(o.Labels) > 0 {
		if final.Config.Config.Labels == nil {
			final.Config.Config.Labels = map[string]string{}
		}
		for k, val := range o.Labels {
			final.Config.Config.Labels[k] = val
		}
	}
	raw, id, err := final.Config.Marshal()
	if err != nil {
		return "", err
	}
	release, err := b.Images.Lease()
	if err != nil {
		return "", err
	}
	defer release()
	if _, _, err := b.Images.Commit(ctx, imagestore.NewImage{Config: raw, Layers: final.Layers}, o.Tags, nil); err != nil {
		return "", err
	}
	v.Status("writing image " + id.String() + " done")
	for _, t := range o.Tags {
		v.Status("naming to " + t.String() + " done")
	}
	return id, nil
}

// workDir holds the mount points of steps in progress.
func (b *Builder) workDir() string { return filepath.Join(b.Dir, "work") }

// checkPlatform accepts only the host's platform for now.
func checkPlatform(p string) error {
	if p == "" {
		return nil
	}
	host := hostPlatform()
	osArch := strings.Join(strings.Split(host, "/")[:2], "/")
	for _, one := range strings.Split(p, ",") {
		if one = strings.TrimSpace(one); one != host && one != osArch {
			return errdefs.Newf(errdefs.ErrUnsupported, "platform %q is not supported: strata builds for the host's platform (%s) only", one, host)
		}
	}
	return nil
}

// now is the time history entries get.
func now() time.Time { return time.Now().UTC() }
