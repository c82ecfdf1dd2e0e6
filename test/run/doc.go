// Package run tests containers end to end, the way a user drives them: each
// test runs the strata binary ($STRATA_BIN, else one built from the module)
// as root with a private --root under t.TempDir(), on a busybox image made
// from the host's /bin/busybox, and checks what Docker would do: exit codes,
// output, files in the container and on the host, network reachability.
//
// Every test ends with `rm -f -v` of its containers and then checks that
// nothing outlives it: no mount under its directory, no monitor process for
// its root, no network namespace file, no runtime state and no cgroup of
// its containers. Tests skip when not run as root, when runc (or crun) or
// /bin/busybox is missing; TestSeedDebianVim also needs debootstrap and the
// Debian mirror. Tests that use the bridge run one at a time (every root
// shares the strata0 bridge and subnet).
package run
