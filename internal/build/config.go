package build

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
)

// The config-only instructions. Each returns its history text (after
// "#(nop)  ") and the change; the texts follow Docker's classic builder.

type change = func(*image.Config) error

func envChange(c *instructions.EnvCommand) (string, change, error) {
	var parts []string
	for _, kv := range c.Env {
		parts = append(parts, kv.Key+"="+kv.Value)
	}
	return "ENV " + strings.Join(parts, " "), func(cfg *image.Config) error {
		for _, kv := range c.Env {
			cfg.Config.Env = setEnv(cfg.Config.Env, kv.Key, kv.Value)
		}
		return nil
	}, nil
}

func labelChange(c *instructions.LabelCommand) (string, change, error) {
	var parts []string
	for _, kv := range c.Labels {
		parts = append(parts, kv.Key+"="+kv.Value)
	}
	return "LABEL " + strings.Join(parts, " "), func(cfg *image.Config) error {
		if cfg.Config.Labels == nil {
			cfg.Config.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			cfg.Config.Labels[kv.Key] = kv.Value
		}
		return nil
	}, nil
}

func exposeChange(c *instructions.ExposeCommand) (string, change, error) {
	var ports []string
	for _, p := range c.Ports {
		for _, one := range strings.Fields(p) {
			port, err := normalizePort(one)
			if err != nil {
				return "", nil, err
			}
			ports = append(ports, port)
		}
	}
	sort.Strings(ports)
	return "EXPOSE " + strings.Join(ports, " "), func(cfg *image.Config) error {
		if cfg.Config.ExposedPorts == nil {
			cfg.Config.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			cfg.Config.ExposedPorts[p] = struct{}{}
		}
		return nil
	}, nil
}

// normalizePort turns "80", "80/TCP" or "7000-7002/udp" into "80/tcp"...
// A range expands to one entry per port, as Docker does.
func normalizePort(s string) (string, error) {
	num, proto, _ := strings.Cut(s, "/")
	proto = strings.ToLower(proto)
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return "", errdefs.Newf(errdefs.ErrInvalidArgument, "invalid protocol %q in EXPOSE %s", proto, s)
	}
	lo, hi, isRange := strings.Cut(num, "-")
	var a, b int
	if _, err := fmt.Sscanf(lo, "%d", &a); err != nil || a < 1 || a > 65535 || fmt.Sprint(a) != lo {
		return "", errdefs.Newf(errdefs.ErrInvalidArgument, "invalid port %q in EXPOSE", s)
	}
	if !isRange {
		return fmt.Sprintf("%d/%s", a, proto), nil
	}
	if _, err := fmt.Sscanf(hi, "%d", &b); err != nil || b < a || b > 65535 {
		return "", errdefs.Newf(errdefs.ErrInvalidArgument, "invalid port range %q in EXPOSE", s)
	}
	var out []string
	for p := a; p <= b; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return strings.Join(out, " "), nil
}

func volumeChange(c *instructions.VolumeCommand) (string, change, error) {
	for _, v := range c.Volumes {
		if strings.TrimSpace(v) == "" {
			return "", nil, errdefs.Newf(errdefs.ErrInvalidArgument, "VOLUME specified can not be an empty string")
		}
	}
	return "VOLUME [" + strings.Join(c.Volumes, " ") + "]", func(cfg *image.Config) error {
		if cfg.Config.Volumes == nil {
			cfg.Config.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			cfg.Config.Volumes[v] = struct{}{}
		}
		return nil
	}, nil
}

// commandLine is an instruction's command: exec form as is, shell form
// prefixed with the shell.
func commandLine(st *state, c instructions.ShellDependantCmdLine) []string {
	if c.PrependShell {
		return append(append([]string{}, st.shell()...), strings.Join(c.CmdLine, " "))
	}
	return append([]string{}, c.CmdLine...)
}

func cmdChange(st *state, c *instructions.CmdCommand) (string, change, error) {
	cmd := commandLine(st, c.ShellDependantCmdLine)
	return "CMD " + jsonArray(cmd), func(cfg *image.Config) error {
		cfg.Config.Cmd = cmd
		cfg.Config.ArgsEscaped = false
		return nil
	}, nil
}

func entrypointChange(st *state, c *instructions.EntrypointCommand, cmdSet bool) (string, change, error) {
	ep := commandLine(st, c.ShellDependantCmdLine)
	return "ENTRYPOINT " + jsonArray(ep), func(cfg *image.Config) error {
		cfg.Config.Entrypoint = ep
		// As Docker: an ENTRYPOINT drops the base image's CMD, unless this
		// stage set a CMD itself.
		if !cmdSet {
			cfg.Config.Cmd = nil
		}
		return nil
	}, nil
}

func shellChange(c *instructions.ShellCommand) (string, change, error) {
	sh := append([]string{}, c.Shell...)
	return "SHELL " + jsonArray(sh), func(cfg *image.Config) error {
		cfg.Config.Shell = sh
		return nil
	}, nil
}

func healthChange(c *instructions.HealthCheckCommand) (string, change, error) {
	h := c.Health
	hc := &image.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
		StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	text := "HEALTHCHECK NONE"
	if len(h.Test) > 0 && h.Test[0] != "NONE" {
		text = "HEALTHCHECK " + jsonArray(h.Test)
	}
	return text, func(cfg *image.Config) error {
		cfg.Config.Healthcheck = hc
		return nil
	}, nil
}

func jsonArray(s []string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// workdirPath resolves WORKDIR p against the current working directory.
func workdirPath(cur, p string) string {
	if !path.IsAbs(p) {
		if cur == "" {
			cur = "/"
		}
		p = path.Join(cur, p)
	}
	return path.Clean(p)
}

// setEnv sets key in env, in place if present, else at the end.
func setEnv(env []string, key, val string) []string {
	for i, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			out := append([]string{}, env...)
			out[i] = key + "=" + val
			return out
		}
	}
	return append(append([]string{}, env...), key+"="+val)
}
