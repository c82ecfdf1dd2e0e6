package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/build"
	"github.com/strata-dev/strata/internal/buildctx"
	"github.com/strata-dev/strata/internal/engine"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/fetch"
	"github.com/strata-dev/strata/internal/format"
	"github.com/strata-dev/strata/internal/progress"
	"github.com/strata-dev/strata/internal/reference"
)

type buildFlags struct {
	file, target, network, platform, iidfile, progress string
	tags, buildArgs, labels, secrets                   []string
	noCache, pull, quiet, allowPrivate, explain        bool
}

func (c *cli) buildCommand() *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | URL | -",
		Short: "Build an image from a Dockerfile",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runBuild(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "Name of the Dockerfile (default: \"PATH/Dockerfile\"; \"-\" reads it from stdin)")
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "Name and optionally a tag (format: \"name:tag\")")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "Set build-time variables (NAME=VALUE, or NAME to take it from the environment)")
	fl.StringVar(&f.target, "target", "", "Set the target build stage to build")
	fl.BoolVar(&f.noCache, "no-cache", false, "Do not use cache when building the image")
	fl.BoolVar(&f.pull, "pull", false, "Always attempt to pull a newer version of the base images")
	fl.StringArrayVar(&f.labels, "label", nil, "Set metadata for an image")
	fl.StringVar(&f.network, "network", "default", "Networking mode for the RUN instructions: default (bridge), host or none")
	fl.StringVar(&f.platform, "platform", "", "Set the target platform (only the host's is supported)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	fl.StringVar(&f.iidfile, "iidfile", "", "Write the image ID to the file")
	fl.StringVar(&f.progress, "progress", "auto", "Set type of progress output (auto, plain, tty, quiet)")
	fl.StringArrayVar(&f.secrets, "secret", nil, "Secret to expose to the build (format: \"id=mysecret[,src=/local/secret]\" or \"id=x,env=VAR\")")
	fl.BoolVar(&f.allowPrivate, "allow-private-network", false, "Let ADD download from loopback, link-local and private addresses")
	fl.BoolVar(&f.explain, "explain-cache", false, "For every step that misses the cache, say which input changed")
	return cmd
}

// builder opens the store and its builder.
func (c *cli) builder() (*engine.Engine, *build.Builder, error) {
	e, err := c.engine()
	if err != nil {
		return nil, nil, err
	}
	b, err := e.Builder()
	return e, b, err
}

func (c *cli) runBuild(cmd *cobra.Command, ctxArg string, f buildFlags) error {
	o, err := buildOptions(f)
	if err != nil {
		return usageError{err: err, cmd: cmd.CommandPath()}
	}
	e, b, err := c.builder()
	if err != nil {
		return err
	}
	src, err := c.buildSource(cmd, ctxArg, f.file, filepath.Join(e.BuildDir(), "tmp"), f.allowPrivate)
	if err != nil {
		return err
	}
	defer src.cleanup()
	o.Dockerfile, o.DockerfileName = src.dockerfile, src.name
	if src.dir != "" {
		if o.Context, err = buildctx.Open(src.dir, src.dockerfilePath, filepath.Join(e.BuildDir(), "hashes")); err != nil {
			return err
		}
	}
	mode := f.progress
	if f.quiet {
		mode = "quiet"
	}
	width := 0
	fd := int(os.Stderr.Fd())
	ws, werr := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if werr == nil {
		width = int(ws.Col)
	}
	d, err := progress.New(c.stderr, mode, werr == nil && c.stderr == os.Stderr, width)
	if err != nil {
		return usageError{err: err, cmd: cmd.CommandPath()}
	}
	o.Display = d
	res, err := b.Build(cmd.Context(), o)
	d.Close()
	if err != nil {
		return err
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte(res.ImageID.String()), 0o644); err != nil {
			return err
		}
	}
	if f.quiet {
		fmt.Fprintln(c.stdout, res.ImageID)
	}
	return nil
}

// buildOptions turns the flags into build options (without the context).
func buildOptions(f buildFlags) (build.Options, error) {
	o := build.Options{Target: f.target, NoCache: f.noCache, Pull: f.pull, Platform: f.platform,
		AllowPrivate: f.allowPrivate, ExplainCache: f.explain, BuildArgs: map[string]string{},
		Labels: map[string]string{}, Secrets: map[string]build.Secret{}}
	switch f.network {
	case "default", "bridge", "":
		o.Network = "bridge"
	case "host", "none":
		o.Network = f.network
	default:
		return o, fmt.Errorf("invalid --network %q: use default, bridge, host or none", f.network)
	}
	for _, t := range f.tags {
		ref, err := reference.Parse(t)
		if err != nil {
			return o, fmt.Errorf("invalid tag %q: %w", t, err)
		}
		if ref.Digest != "" {
			return o, fmt.Errorf("invalid tag %q: a tag cannot hold a digest", t)
		}
		o.Tags = append(o.Tags, ref)
	}
	for _, a := range f.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			if v, set := os.LookupEnv(k); set {
				o.BuildArgs[k] = v
			}
			continue
		}
		o.BuildArgs[k] = v
	}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		o.Labels[k] = v
	}
	for _, s := range f.secrets {
		id, sec, err := parseSecret(s)
		if err != nil {
			return o, err
		}
		o.Secrets[id] = sec
	}
	return o, nil
}

// parseSecret reads "id=x,src=path", "id=x,env=VAR" or "id=x" (then the
// variable x if set, else the file x).
func parseSecret(s string) (string, build.Secret, error) {
	var id string
	var sec build.Secret
	for _, field := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(field, "=")
		switch strings.ToLower(k) {
		case "id":
			id = v
		case "src", "source":
			sec.File = v
		case "env":
			sec.Env = v
		case "type":
			if v != "file" && v != "env" {
				return "", sec, fmt.Errorf("invalid --secret %q: type must be file or env", s)
			}
		default:
			return "", sec, fmt.Errorf("invalid --secret %q: unknown key %q", s, k)
		}
	}
	if id == "" {
		return "", sec, fmt.Errorf("invalid --secret %q: id is required", s)
	}
	if sec.File == "" && sec.Env == "" {
		if _, ok := os.LookupEnv(id); ok {
			sec.Env = id
		} else {
			sec.File = id
		}
	}
	return id, sec, nil
}

// buildSource is where the context and the Dockerfile come from.
type buildSource struct {
	dir            string // "" for no context
	dockerfile     []byte
	dockerfilePath string
	name           string
	cleanup        func()
}

// buildSource resolves the context argument and -f.
func (c *cli) buildSource(cmd *cobra.Command, arg, file, tmp string, allowPrivate bool) (buildSource, error) {
	src := buildSource{cleanup: func() {}}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return src, err
	}
	switch {
	case arg == "-":
		if file == "-" {
			return src, usageError{err: errors.New("invalid argument: can't use stdin for both build context and dockerfile"), cmd: cmd.CommandPath()}
		}
		br := bufio.NewReaderSize(c.stdin, 1<<20)
		head, _ := br.Peek(1024)
		if isArchive(head) {
			dir, cleanup, err := buildctx.FromTar(br, tmp)
			if err != nil {
				return src, err
			}
			src.dir, src.cleanup = dir, cleanup
		} else {
			b, err := io.ReadAll(io.LimitReader(br, 16<<20))
			if err != nil {
				return src, err
			}
			src.dockerfile, src.name = b, "Dockerfile"
			return src, nil
		}
	case buildctx.IsGitURL(arg):
		dir, cleanup, err := buildctx.FromGit(cmd.Context(), arg, tmp)
		if err != nil {
			return src, err
		}
		src.dir, src.cleanup = dir, cleanup
	case fetch.IsURL(arg):
		done, err := c.urlSource(cmd, &src, arg, tmp, allowPrivate)
		if err != nil || done {
			return src, err
		}
	default:
		fi, err := os.Stat(arg)
		if err != nil {
			return src, errdefs.Newf(errdefs.ErrNotFound, "unable to prepare context: path %q not found", arg)
		}
		if !fi.IsDir() {
			return src, errdefs.Newf(errdefs.ErrInvalidArgument, "unable to prepare context: context must be a directory: %s", arg)
		}
		src.dir = arg
	}
	return src, c.readDockerfile(&src, file)
}

// urlSource downloads a URL context: a (compressed) tar becomes the
// context, anything else is the Dockerfile (then done: no context).
func (c *cli) urlSource(cmd *cobra.Command, src *buildSource, url, tmp string, allowPrivate bool) (bool, error) {
	r, err := fetch.Download(cmd.Context(), url, tmp, fetch.Options{AllowPrivate: allowPrivate})
	if err != nil {
		return false, err
	}
	defer os.Remove(r.Path)
	f, err := os.Open(r.Path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	head, _ := br.Peek(1024)
	if !isArchive(head) {
		src.dockerfile, err = io.ReadAll(io.LimitReader(br, 16<<20))
		src.name = "Dockerfile"
		return true, err
	}
	dir, cleanup, err := buildctx.FromTar(br, tmp)
	if err != nil {
		return false, err
	}
	src.dir, src.cleanup = dir, cleanup
	return false, nil
}

// readDockerfile reads -f (a path, "-" for stdin) or the context's
// Dockerfile.
func (c *cli) readDockerfile(src *buildSource, file string) error {
	var err error
	switch {
	case file == "-":
		src.dockerfile, err = io.ReadAll(io.LimitReader(c.stdin, 16<<20))
		src.name = "Dockerfile"
		return err
	case file == "":
		file = filepath.Join(src.dir, "Dockerfile")
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			if _, lerr := os.Stat(filepath.Join(src.dir, "dockerfile")); lerr == nil {
				file = filepath.Join(src.dir, "dockerfile")
			}
		}
	case !filepath.IsAbs(file) && src.dir != "" && !fileExists(file):
		// Relative to the context when not relative to the working dir.
		file = filepath.Join(src.dir, file)
	}
	src.dockerfile, err = os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return errdefs.Newf(errdefs.ErrNotFound, "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat %s: no such file or directory", file)
	}
	src.dockerfilePath, src.name = file, filepath.Base(file)
	return err
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// isArchive reports whether head starts a (compressed) tar stream.
func isArchive(head []byte) bool {
	if archive.DetectCompression(head) != archive.Uncompressed {
		return true
	}
	return archive.LooksLikeTar(head) && !bytes.HasPrefix(bytes.TrimSpace(head), []byte("FROM"))
}

func (c *cli) builderPruneCommand() *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove build cache",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := build.PruneOptions{All: all}
			for _, f := range filters {
				k, v, _ := strings.Cut(f, "=")
				if k != "until" {
					return usageError{err: fmt.Errorf("invalid filter %q: only until=DURATION is supported", f), cmd: cmd.CommandPath()}
				}
				d, err := time.ParseDuration(v)
				if err != nil {
					return usageError{err: fmt.Errorf("invalid filter %q: %w", f, err), cmd: cmd.CommandPath()}
				}
				o.Until = d
			}
			_, b, err := c.builder()
			if err != nil {
				return err
			}
			warning := "WARNING! This will remove all dangling build cache."
			if all {
				warning = "WARNING! This will remove all build cache."
			}
			if !force && !c.confirm(warning) {
				return nil
			}
			rep, err := b.Prune(cmd.Context(), o)
			if rep.Entries > 0 {
				fmt.Fprintf(c.stdout, "Deleted build cache objects: %d\n", rep.Entries)
			}
			if rep.Snapshots > 0 {
				fmt.Fprintf(c.stdout, "Deleted unpacked layers: %d\n", rep.Snapshots)
			}
			fmt.Fprintf(c.stdout, "Total reclaimed space: %s\n", format.HumanSizePrecise(rep.Reclaimed))
			return err
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all build cache, not just the entries holding layers no image uses")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values (e.g. \"until=24h\")")
	return cmd
}
