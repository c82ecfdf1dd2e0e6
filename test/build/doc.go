// Package build tests `strata build` end to end, the way a user drives it:
// each test runs the strata binary ($STRATA_BIN, else one built from the
// module) as root with a private --root under t.TempDir(), on a busybox
// image imported from the host's /bin/busybox, writes a Dockerfile and a
// build context, builds, and checks what Docker would give: the files in
// the image (through `strata run --rm`), its config (`strata inspect`), its
// history, the plain progress output (which steps were CACHED, what a RUN
// printed, why a step missed the cache), exit codes and error messages.
//
// Every test ends by checking that its builds left nothing behind: no
// mount under its directory, no process of its root (runc, a RUN step), no
// step work directory, no temporary context, no container and no runtime
// state. Tests skip when not run as root, or when runc (or crun) or
// /bin/busybox is missing; a few also need go, git, xz or zstd and skip
// without them. The timing test (parallel stages) and the SIGKILL test run
// alone; the others run in parallel, one root each.
package build
