package spec

import (
	"path"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/strata-dev/strata/internal/errdefs"
)

// DefaultShmSize is the size of /dev/shm unless Options.ShmSize says
// otherwise (64 MiB, as Docker).
const DefaultShmSize = 64 << 20

// defaultMounts are Docker's (moby oci.DefaultLinuxSpec) with /dev/shm sized.
func defaultMounts(shmSize int64) []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(shmSize, 10)}},
	}
}

// BindMount is a `-v source:dest[:ro]` bind mount with Docker's options:
// recursive, private propagation.
func BindMount(source, dest string, readOnly bool) specs.Mount {
	opts := []string{"rbind"}
	if readOnly {
		opts = append(opts, "ro")
	}
	return specs.Mount{Destination: dest, Type: "bind", Source: source, Options: append(opts, "rprivate")}
}

// TmpfsMount is a `--tmpfs dest[:opts]` mount; opts ("size=64m,mode=1777")
// follow Docker's defaults noexec, nosuid, nodev.
func TmpfsMount(dest, opts string) specs.Mount {
	o := []string{"noexec", "nosuid", "nodev", "rprivate"}
	if opts != "" {
		o = append(o, strings.Split(opts, ",")...)
	}
	return specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: o}
}

// checkContainerPath accepts an absolute path without ".." elements and
// returns it cleaned; what names the path for the error ("working
// directory", "mount destination").
func checkContainerPath(what, p string) (string, error) {
	if !path.IsAbs(p) {
		return "", errdefs.Newf(errdefs.ErrInvalidArgument, "invalid %s %q: it needs to be an absolute path", what, p)
	}
	if slices.Contains(strings.Split(p, "/"), "..") {
		return "", errdefs.Newf(errdefs.ErrInvalidArgument, "invalid %s %q: \"..\" is not allowed", what, p)
	}
	return path.Clean(p), nil
}

// buildMounts merges the defaults with the user's mounts as moby's
// withMounts: a user mount replaces the default at the same destination, a
// user /dev drops every default under /dev, user mounts follow the defaults
// sorted parents first, a read-only rootfs makes the other defaults
// read-only, and privileged containers get writable /sys and cgroups.
func buildMounts(o Options) ([]specs.Mount, error) {
	user := make([]specs.Mount, len(o.Mounts))
	taken := make(map[string]bool, len(o.Mounts))
	for i, m := range o.Mounts {
		dest, err := checkContainerPath("mount destination", m.Destination)
		if err != nil {
			return nil, err
		}
		m.Destination = dest
		m.Options = slices.Clone(m.Options)
		user[i] = m
		taken[dest] = true
	}
	slices.SortStableFunc(user, func(a, b specs.Mount) int {
		return depth(a.Destination) - depth(b.Destination)
	})
	shm := o.ShmSize
	if shm <= 0 {
		shm = DefaultShmSize
	}
	var out []specs.Mount
	for _, m := range defaultMounts(shm) {
		if taken[m.Destination] || (taken["/dev"] && strings.HasPrefix(m.Destination, "/dev/")) {
			continue
		}
		switch {
		case o.Privileged && (m.Destination == "/sys" || m.Type == "cgroup"):
			m.Options = slices.DeleteFunc(m.Options, func(s string) bool { return s == "ro" })
		case o.ReadOnly && !readOnlyExempt(m.Destination) && !slices.Contains(m.Options, "ro"):
			m.Options = append(m.Options, "ro")
		}
		out = append(out, m)
	}
	return append(out, user...), nil
}

// readOnlyExempt are the defaults that stay writable with --read-only.
func readOnlyExempt(dest string) bool {
	switch dest {
	case "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue":
		return true
	}
	return false
}

func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}
