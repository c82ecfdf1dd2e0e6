package image

import (
	"errors"
	"maps"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/strata-dev/strata/internal/errdefs"
)

// changeCommands are the Dockerfile instructions `import` and `commit`
// accept in --change, as Docker's BuildFromConfig does.
var changeCommands = map[string]bool{
	"cmd": true, "entrypoint": true, "healthcheck": true, "env": true,
	"expose": true, "label": true, "onbuild": true, "stopsignal": true,
	"user": true, "volume": true, "workdir": true,
}

// defaultShell prefixes shell-form CMD and ENTRYPOINT when the config has no
// SHELL.
var defaultShell = []string{"/bin/sh", "-c"}

// ApplyChanges applies Dockerfile instructions (`docker commit -c` and
// `docker import -c`) to cfg in order, as Docker does: CMD, ENTRYPOINT,
// HEALTHCHECK, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME and
// WORKDIR. The changes are joined into one Dockerfile, so a change may hold
// several lines. ENV, LABEL, USER, VOLUME, WORKDIR and STOPSIGNAL expand
// variables from the config's environment as it stands before each
// instruction; ENTRYPOINT clears CMD unless an earlier change set it. On
// error cfg is left unchanged and the error is ErrInvalidArgument.
func ApplyChanges(cfg *ContainerConfig, changes []string) error {
	if len(changes) == 0 {
		return nil
	}
	res, err := parser.Parse(strings.NewReader(strings.Join(changes, "\n")))
	if err != nil {
		return errdefs.Classed(errdefs.ErrInvalidArgument, err)
	}
	cmds := make([]instructions.Command, 0, len(res.AST.Children))
	for _, n := range res.AST.Children {
		if !changeCommands[strings.ToLower(n.Value)] {
			return errdefs.Newf(errdefs.ErrInvalidArgument, "%s is not a valid change command", n.Value)
		}
		c, err := instructions.ParseCommand(n)
		if err != nil {
			return errdefs.Classed(errdefs.ErrInvalidArgument, err)
		}
		cmds = append(cmds, c)
	}
	a := changeApplier{cfg: cloneContainerConfig(cfg), lex: shell.NewLex(res.EscapeToken)}
	for _, c := range cmds {
		if err := a.apply(c); err != nil {
			return errdefs.Classed(errdefs.ErrInvalidArgument, err)
		}
	}
	*cfg = *a.cfg
	return nil
}

// changeApplier carries the state of one ApplyChanges call.
type changeApplier struct {
	cfg    *ContainerConfig
	lex    *shell.Lex
	cmdSet bool // a CMD with arguments was applied, so ENTRYPOINT keeps it
}

func (a *changeApplier) apply(c instructions.Command) error {
	env := shell.EnvsFromSlice(a.cfg.Env)
	if ex, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		err := ex.Expand(func(word string) (string, error) {
			s, _, err := a.lex.ProcessWord(word, env)
			return s, err
		})
		if err != nil {
			return err
		}
	}
	switch c := c.(type) {
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			a.setEnv(kv.Key, kv.Value)
		}
	case *instructions.LabelCommand:
		if a.cfg.Labels == nil {
			a.cfg.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			a.cfg.Labels[kv.Key] = kv.Value
		}
	case *instructions.CmdCommand:
		a.cfg.Cmd = a.commandLine(c.ShellDependantCmdLine)
		a.cfg.ArgsEscaped = false
		if len(c.CmdLine) != 0 {
			a.cmdSet = true
		}
	case *instructions.EntrypointCommand:
		a.cfg.Entrypoint = a.commandLine(c.ShellDependantCmdLine)
		a.cfg.ArgsEscaped = false
		if !a.cmdSet {
			a.cfg.Cmd = nil
		}
	case *instructions.HealthCheckCommand:
		h := c.Health
		a.cfg.Healthcheck = &HealthConfig{
			Test: slices.Clone(h.Test), Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries,
		}
	case *instructions.ExposeCommand:
		return a.expose(c.Ports, env)
	case *instructions.OnbuildCommand:
		a.cfg.OnBuild = append(a.cfg.OnBuild, c.Expression)
	case *instructions.StopSignalCommand:
		if _, err := ParseSignal(c.Signal); err != nil {
			return err
		}
		a.cfg.StopSignal = c.Signal
	case *instructions.UserCommand:
		a.cfg.User = c.User
	case *instructions.VolumeCommand:
		return a.volume(c.Volumes)
	case *instructions.WorkdirCommand:
		if c.Path == "" {
			return errors.New("cannot normalize nothing")
		}
		a.cfg.WorkingDir = resolveWorkdir(a.cfg.WorkingDir, c.Path)
	default:
		return errdefs.Newf(errdefs.ErrInvalidArgument, "%s is not a valid change command", c.Name())
	}
	return nil
}

// setEnv replaces key's entry in Env, or appends one.
func (a *changeApplier) setEnv(key, value string) {
	entry := key + "=" + value
	for i, e := range a.cfg.Env {
		if k, _, _ := strings.Cut(e, "="); shell.EqualEnvKeys(k, key) {
			a.cfg.Env[i] = entry
			return
		}
	}
	a.cfg.Env = append(a.cfg.Env, entry)
}

// commandLine turns a CMD or ENTRYPOINT into argv: exec form as written,
// shell form behind the config's SHELL or /bin/sh -c.
func (a *changeApplier) commandLine(c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell || c.CmdLine == nil {
		return c.CmdLine
	}
	sh := []string(a.cfg.Shell)
	if len(sh) == 0 {
		sh = defaultShell
	}
	return append(slices.Clone(sh), c.CmdLine...)
}

func (a *changeApplier) volume(vols []string) error {
	if a.cfg.Volumes == nil {
		a.cfg.Volumes = map[string]struct{}{}
	}
	for _, v := range vols {
		if v == "" {
			return errors.New("VOLUME specified can not be an empty string")
		}
		a.cfg.Volumes[v] = struct{}{}
	}
	return nil
}

// expose adds ports after splitting each word on expansion, the one
// instruction where a variable may become several words.
func (a *changeApplier) expose(words []string, env shell.EnvGetter) error {
	var ports []string
	for _, w := range words {
		ps, err := a.lex.ProcessWords(w, env)
		if err != nil {
			return err
		}
		ports = append(ports, ps...)
	}
	add := map[string]struct{}{}
	for _, p := range ports {
		if err := exposedPorts(p, add); err != nil {
			return err
		}
	}
	if a.cfg.ExposedPorts == nil {
		a.cfg.ExposedPorts = map[string]struct{}{}
	}
	maps.Copy(a.cfg.ExposedPorts, add)
	return nil
}

// maxExposeRange bounds how many ports one EXPOSE word may name.
const maxExposeRange = 65536

// exposedPorts adds the "port/proto" keys named by one EXPOSE word, written
// [[ip:]hostport:]port[-end][/proto], to out, as Docker's port parser does.
func exposedPorts(raw string, out map[string]struct{}) error {
	parts := strings.Split(raw, ":")
	spec := parts[len(parts)-1]
	if len(parts) >= 3 {
		ip := strings.Join(parts[:len(parts)-2], ":")
		ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
		if ip != "" {
			if _, err := netip.ParseAddr(ip); err != nil {
				return errdefs.Newf(errdefs.ErrInvalidArgument, "invalid IP address: %s", ip)
			}
		}
	}
	port, proto, _ := strings.Cut(spec, "/")
	if port == "" {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "no port specified: %s<empty>", raw)
	}
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "invalid proto: %s", proto)
	}
	start, end, err := portRange(port)
	if err != nil {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "invalid containerPort: %s", port)
	}
	for p := start; p <= end; p++ {
		out[strconv.Itoa(p)+"/"+proto] = struct{}{}
	}
	return nil
}

// portRange reads "80" or "8000-8010"; ports are 0 to 65535.
func portRange(s string) (int, int, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	start, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if !isRange || lo == hi {
		return int(start), int(start), nil
	}
	end, err := strconv.ParseUint(hi, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if end < start || end-start >= maxExposeRange {
		return 0, 0, errors.New("invalid port range")
	}
	return int(start), int(end), nil
}

// resolveWorkdir makes a WORKDIR absolute against the current one, with
// Linux path rules whatever the host.
func resolveWorkdir(current, requested string) string {
	if path.IsAbs(requested) {
		return path.Clean(requested)
	}
	return path.Join("/", current, requested)
}

// cloneContainerConfig deep-copies c so a failed ApplyChanges leaves it alone.
func cloneContainerConfig(c *ContainerConfig) *ContainerConfig {
	out := *c
	out.ExposedPorts = maps.Clone(c.ExposedPorts)
	out.Env = slices.Clone(c.Env)
	out.Cmd = slices.Clone(c.Cmd)
	out.Volumes = maps.Clone(c.Volumes)
	out.Entrypoint = slices.Clone(c.Entrypoint)
	out.OnBuild = slices.Clone(c.OnBuild)
	out.Labels = maps.Clone(c.Labels)
	out.Shell = slices.Clone(c.Shell)
	if c.Healthcheck != nil {
		h := *c.Healthcheck
		h.Test = slices.Clone(h.Test)
		out.Healthcheck = &h
	}
	if c.StopTimeout != nil {
		t := *c.StopTimeout
		out.StopTimeout = &t
	}
	return &out
}
