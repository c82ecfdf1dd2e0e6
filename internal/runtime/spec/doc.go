// Package spec builds OCI runtime-spec documents the way Docker does.
//
// Everything here is pure except the readers named for it: ResolveUser reads
// the container's /etc/passwd and /etc/group (resolved inside the rootfs, so
// symlinks cannot reach the host), and ProbeHost reads the host facts
// (capability bounding set, RLIMIT_NOFILE ceiling, cgroup version) that
// Generate takes as plain values in Options.Host.
//
// Docker's default seccomp and AppArmor profiles are out of scope: Generate
// sets neither, so containers run without a syscall filter.
package spec
