// Package integration drives the built strata binary the way a user does:
// every test runs bin/strata (or $STRATA_BIN) with a private --root under
// t.TempDir() and checks its stdout, stderr and exit status against
// Docker's output. Fixtures (root filesystem tarballs, hand-made Docker
// archives, a busybox rootfs from Debian's busybox-static) are generated
// by the tests; tests needing an absent tool (skopeo, xz, bzip2, zstd,
// busybox) are skipped.
package integration
