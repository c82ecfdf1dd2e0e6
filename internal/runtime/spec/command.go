package spec

import (
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
)

// ResolveCommand returns the argv a container runs, by Docker's rules
// (moby daemon/commit.go merge, daemon/create.go mergeAndVerifyConfig):
//
//   - args given after the image replace the image's Cmd;
//   - entrypoint, when not nil, replaces the image's Entrypoint; a non-empty
//     one also drops the image's Cmd, so only args follow it;
//   - an entrypoint of [""] (what `docker run --entrypoint ""` sends) clears
//     the Entrypoint and, like any explicit entrypoint, drops the image's Cmd;
//     an empty non-nil list (the API's "Entrypoint": []) clears the
//     Entrypoint but keeps the image's Cmd when no args are given;
//   - the result is Entrypoint followed by Cmd.
//
// Shell-form values are already stored as ["/bin/sh", "-c", "..."] in the
// config, so they need no special case. Nothing to run is an
// ErrInvalidArgument "no command specified". The result is a fresh slice.
func ResolveCommand(cfg image.ContainerConfig, entrypoint *[]string, args []string) ([]string, error) {
	cmd := args
	var ep []string
	if entrypoint != nil {
		ep = *entrypoint
	}
	if len(ep) == 0 {
		if len(cmd) == 0 {
			cmd = cfg.Cmd
		}
		if entrypoint == nil {
			ep = cfg.Entrypoint
		}
	}
	if len(ep) == 1 && ep[0] == "" {
		ep = nil
	}
	if len(ep) == 0 && len(cmd) == 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "no command specified")
	}
	out := make([]string, 0, len(ep)+len(cmd))
	out = append(out, ep...)
	return append(out, cmd...), nil
}

// MergeEnv merges `docker run -e` values over an image's Env the way Docker
// does at create time: the user's entries come first, in order, followed by
// the image's entries whose key the user did not set.
func MergeEnv(imageEnv, userEnv []string) []string {
	if len(userEnv) == 0 {
		return append([]string(nil), imageEnv...)
	}
	out := append([]string(nil), userEnv...)
	seen := make(map[string]bool, len(userEnv))
	for _, e := range userEnv {
		seen[envKey(e)] = true
	}
	for _, e := range imageEnv {
		if !seen[envKey(e)] {
			out = append(out, e)
		}
	}
	return out
}

// replaceOrAppendEnv overlays overrides on defaults by key, as moby's
// ReplaceOrAppendEnvValues: "K=V" replaces or appends, a bare "K" unsets.
func replaceOrAppendEnv(defaults, overrides []string) []string {
	env := append([]string(nil), defaults...)
	index := make(map[string]int, len(env))
	for i, e := range env {
		index[envKey(e)] = i
	}
	removed := false
	for _, e := range overrides {
		key, _, hasValue := strings.Cut(e, "=")
		i, exists := index[key]
		switch {
		case !hasValue:
			if exists && env[i] != "" {
				env[i] = ""
				removed = true
			}
		case exists:
			env[i] = e
		default:
			index[key] = len(env)
			env = append(env, e)
		}
	}
	if !removed {
		return env
	}
	kept := env[:0]
	for _, e := range env {
		if e != "" {
			kept = append(kept, e)
		}
	}
	return kept
}

func envKey(e string) string {
	k, _, _ := strings.Cut(e, "=")
	return k
}
