package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/progress"
	"github.com/strata-dev/strata/internal/runtime/oci"
	"github.com/strata-dev/strata/internal/runtime/spec"
)

// run executes RUN: the command runs in a container on a snapshot of the
// state, and what it changes becomes the step's layer.
func (s *stageRun) run(ctx context.Context, c *instructions.RunCommand) error {
	args, err := runArgs(s.st, c)
	if err != nil {
		return err
	}
	keyArgs, envArgs := s.buildArgs()
	in := inputs{Step: runStepText(c), Args: keyArgs}
	mounts := instructions.GetMounts(c)
	netMode := instructions.GetNetwork(c)
	if netMode == "" || netMode == "default" {
		netMode = s.o.Network
	}
	return s.exec(ctx, c.String(), in, func(ctx context.Context, st *state, v *progress.Vertex) (*imagestore.Layer, error) {
		env := append(append([]string{}, envArgs...), st.Config.Config.Env...)
		layer, err := s.b.fsStep(ctx, st, true, func(rootfs string) error {
			return s.b.runIn(ctx, rootfs, runSpec{args: args, env: env, cwd: st.Config.Config.WorkingDir,
				user: st.Config.Config.User, network: netMode, mounts: mounts, stage: s}, v)
		})
		if err != nil {
			return nil, err
		}
		st.addHistory(runHistory(args, keyArgs), layer, now())
		return layer, nil
	})
}

// buildArgs returns the build args of the stage twice: for the cache key
// and history (without the proxy args), and as environment for RUN.
func (s *stageRun) buildArgs() (map[string]string, []string) {
	key := map[string]string{}
	var env []string
	for _, kv := range s.args {
		k, val, _ := strings.Cut(kv, "=")
		key[k] = val
	}
	for k := range proxyArgs {
		if v, ok := s.p.buildArgs[k]; ok {
			if _, declared := key[k]; !declared {
				env = append(env, k+"="+v)
			}
		}
	}
	for _, k := range sortedKeys(key, nil) {
		env = append(env, k+"="+key[k])
	}
	return key, env
}

// runStepText is the instruction as the cache key sees it: the line with
// its flags, and the bodies of its heredocs.
func runStepText(c *instructions.RunCommand) string {
	text := c.String()
	for _, f := range c.Files {
		text += "\n" + f.Data + f.Name
	}
	return text
}

// runArgs is the command RUN executes. A shell-form command with heredocs
// runs as one shell script holding them, which the shell reads as usual.
func runArgs(st *state, c *instructions.RunCommand) ([]string, error) {
	if len(c.Files) == 0 {
		return commandLine(st, c.ShellDependantCmdLine), nil
	}
	if !c.PrependShell {
		return nil, errdefs.Newf(errdefs.ErrUnsupported, "heredocs in exec-form RUN are not supported")
	}
	script := strings.Join(c.CmdLine, " ")
	if len(c.Files) == 1 && isHeredocOnly(script) {
		// RUN <<EOF: the heredoc is the script.
		return append(append([]string{}, st.shell()...), c.Files[0].Data), nil
	}
	for _, f := range c.Files {
		script += "\n" + f.Data + f.Name
	}
	return append(append([]string{}, st.shell()...), script), nil
}

// isHeredocOnly reports whether a RUN command line is just a heredoc
// marker such as <<EOF, <<-EOF or <<"EOF".
func isHeredocOnly(line string) bool {
	h, err := parser.ParseHeredoc(strings.TrimSpace(line))
	return err == nil && h != nil && strings.HasPrefix(strings.TrimSpace(line), "<<")
}

// runHistory is RUN's created_by, as Docker's classic builder writes it:
// "|2 A=1 B=2 /bin/sh -c cmd" when build args are set.
func runHistory(args []string, buildArgs map[string]string) string {
	text := strings.Join(args, " ")
	if len(buildArgs) == 0 {
		return text
	}
	keys := sortedKeys(buildArgs, nil)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+buildArgs[k])
	}
	return fmt.Sprintf("|%d %s %s", len(parts), strings.Join(parts, " "), text)
}

// runSpec is one RUN's process and mounts.
type runSpec struct {
	args, env []string
	cwd, user string
	network   string
	mounts    []*instructions.Mount
	stage     *stageRun
}

// runIn runs the command in a container whose root is rootfs, its output
// going to v.
func (b *Builder) runIn(ctx context.Context, rootfs string, r runSpec, v *progress.Vertex) error {
	id, err := stepKey()
	if err != nil {
		return err
	}
	bundle := filepath.Join(b.workDir(), id+".bundle")
	if err := os.Mkdir(bundle, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(bundle)
	user, err := spec.ResolveUser(rootfs, r.user)
	if err != nil {
		return err
	}
	cwd := r.cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := mkdirInRoot(rootfs, cwd); err != nil {
		return err
	}
	extra, cleanup, err := b.runMounts(ctx, r, bundle, rootfs)
	defer cleanup()
	if err != nil {
		return err
	}
	netns, teardown, err := b.runNetwork(ctx, id, r.network, bundle)
	defer teardown()
	if err != nil {
		return err
	}
	binds := extra.mounts
	for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
		binds = append(binds, spec.BindMount(filepath.Join(bundle, f), "/etc/"+f, false))
	}
	stubs, err := findStubs(rootfs, mountTargets(binds))
	if err != nil {
		return err
	}
	defer stubs.remove()
	host, err := spec.ProbeHost()
	if err != nil {
		return err
	}
	sp, err := spec.Generate(spec.Options{ID: id, Hostname: "buildkitsandbox", RootfsPath: rootfs, Args: r.args,
		Env: append(r.env, extra.env...), Cwd: cwd, User: user, Mounts: binds, NetNSPath: netns, Host: host})
	if err != nil {
		return err
	}
	if err := writeSpec(bundle, sp); err != nil {
		return err
	}
	return b.runContainer(ctx, id, bundle, r.args, v)
}

// runNetwork sets up the step's network: a bridge attachment, the host's
// network or none. It returns the namespace to join and the undo.
func (b *Builder) runNetwork(ctx context.Context, id, mode, bundle string) (string, func(), error) {
	nop := func() {}
	switch mode {
	case "", network.ModeBridge:
		att, err := b.Network.Setup(ctx, network.Config{ID: id, Mode: network.ModeBridge})
		if err != nil {
			return "", nop, fmt.Errorf("network: %w", err)
		}
		undo := func() { _ = b.Network.Teardown(context.WithoutCancel(ctx), id) }
		err = network.WriteEtcFiles(bundle, network.EtcFiles{Hostname: "buildkitsandbox", IP: att.IP, Mode: network.ModeBridge, Gateway: att.Gateway})
		return att.NetNSPath, undo, err
	case network.ModeHost:
		host, _ := os.Hostname()
		return spec.HostNetwork, nop, network.WriteEtcFiles(bundle, network.EtcFiles{Hostname: host, Mode: network.ModeHost})
	case network.ModeNone:
		return "", nop, network.WriteEtcFiles(bundle, network.EtcFiles{Hostname: "buildkitsandbox", Mode: network.ModeNone})
	}
	return "", nop, errdefs.Newf(errdefs.ErrInvalidArgument, "network mode %q is not supported: use default, host or none", mode)
}

// runContainer runs the bundle, its stdout and stderr both going to v
// through one pipe (so their lines keep their order), stdin empty. The
// process is created detached and waited for as a child of this process
// (a subreaper): `runc run` would copy stdout and stderr separately.
func (b *Builder) runContainer(ctx context.Context, id, bundle string, args []string, v *progress.Vertex) error {
	if err := oci.SetSubreaper(); err != nil {
		return err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(v, pr)
		pr.Close()
		close(copied)
	}()
	defer func() { _ = b.Runtime.Delete(context.WithoutCancel(ctx), id, true) }()
	pidFile := filepath.Join(bundle, "init.pid")
	err = b.Runtime.Create(ctx, id, bundle, oci.CreateOpts{PidFile: pidFile, Stdout: pw, Stderr: pw})
	pw.Close()
	code := -1
	if err == nil {
		code, err = b.startAndWait(ctx, id, pidFile)
	}
	<-copied
	if err != nil {
		return err
	}
	if code != 0 {
		msg := fmt.Sprintf("process %q did not complete successfully: exit code: %d", strings.Join(args, " "), code)
		if tail := v.Tail(); len(tail) > 0 {
			msg += "\noutput (last lines):\n  " + strings.Join(tail, "\n  ")
		}
		return errdefs.Newf(errdefs.ErrUnavailable, "%s", msg)
	}
	return nil
}

// startAndWait starts the created container and waits for its init; a
// cancelled build kills it.
func (b *Builder) startAndWait(ctx context.Context, id, pidFile string) (int, error) {
	pid, err := oci.ReadPidFile(pidFile)
	if err != nil {
		return -1, err
	}
	type exit struct {
		code int
		err  error
	}
	done := make(chan exit, 1)
	go func() {
		c, err := oci.Wait(pid)
		done <- exit{c, err}
	}()
	if err := b.Runtime.Start(ctx, id); err != nil {
		_ = b.Runtime.Kill(context.WithoutCancel(ctx), id, unix.SIGKILL, true)
		<-done
		return -1, err
	}
	select {
	case e := <-done:
		return e.code, e.err
	case <-ctx.Done():
		_ = b.Runtime.Kill(context.WithoutCancel(ctx), id, unix.SIGKILL, true)
		<-done
		return -1, ctx.Err()
	}
}

// mountTargets lists the container paths something is mounted on: the
// runtime's defaults and binds.
func mountTargets(binds []specs.Mount) []string {
	out := []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"}
	for _, m := range binds {
		out = append(out, m.Destination)
	}
	sort.Strings(out)
	return out
}
