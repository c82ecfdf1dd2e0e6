package spec

import (
	"slices"
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
)

// DefaultCapabilities are the capabilities Docker grants a container that
// is neither privileged nor tweaked with --cap-add/--cap-drop.
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN",
		"CAP_DAC_OVERRIDE",
		"CAP_FSETID",
		"CAP_FOWNER",
		"CAP_MKNOD",
		"CAP_NET_RAW",
		"CAP_SETGID",
		"CAP_SETUID",
		"CAP_SETFCAP",
		"CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT",
		"CAP_KILL",
		"CAP_AUDIT_WRITE",
	}
}

// knownCapabilities lists every capability by its kernel number
// (knownCapabilities[n] is capability n), up to CAP_CHECKPOINT_RESTORE.
var knownCapabilities = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

const allCapabilities = "ALL"

// capabilities computes the container's capability set like moby's
// caps.TweakCapabilities: all available ones when privileged, else the
// defaults minus drops plus adds, where "ALL" in adds means every available
// capability (minus drops) and "ALL" in drops means only the adds. available
// is what the host can grant (nil: every known capability).
func capabilities(adds, drops []string, privileged bool, available []string) ([]string, error) {
	if available == nil {
		available = knownCapabilities[:]
	}
	if privileged {
		return slices.Clone(available), nil
	}
	if len(adds) == 0 && len(drops) == 0 {
		return DefaultCapabilities(), nil
	}
	capDrop, err := normalizeCapabilities(drops, available)
	if err != nil {
		return nil, err
	}
	capAdd, err := normalizeCapabilities(adds, available)
	if err != nil {
		return nil, err
	}
	var out []string
	switch {
	case slices.Contains(capAdd, allCapabilities):
		for _, c := range available {
			if !slices.Contains(capDrop, c) {
				out = append(out, c)
			}
		}
		return out, nil
	case slices.Contains(capDrop, allCapabilities):
		out = capAdd
	default:
		for _, c := range DefaultCapabilities() {
			if !slices.Contains(capDrop, c) {
				out = append(out, c)
			}
		}
		out = append(out, capAdd...)
	}
	return dedupe(out), nil
}

// normalizeCapabilities upper-cases names, adds the CAP_ prefix and checks
// each is known and available; "ALL" passes through.
func normalizeCapabilities(names, available []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		c := strings.ToUpper(n)
		if c != allCapabilities && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if c != allCapabilities && !slices.Contains(knownCapabilities[:], c) {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "unknown capability: %q", c)
		}
		if c != allCapabilities && !slices.Contains(available, c) {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "capability not supported by your kernel or not available in the current environment: %q", c)
		}
		out = append(out, c)
	}
	return out, nil
}

func dedupe(list []string) []string {
	out := list[:0:0]
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
