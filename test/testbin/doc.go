// Package testbin is the shared harness of the test packages that drive the
// built strata binary (test/integration, test/crash, test/containers,
// test/build, test/run, test/registry).
//
// Find and FindFresh locate or build the binary once per package, in
// TestMain; Main is a whole TestMain that also makes a busybox root
// filesystem tarball with BusyboxTar. Run and Capture run the binary and
// collect what it printed and its exit code. WaitFor, LiveProcesses and
// MountsUnder serve the checks that a test left no process or mount
// behind; SyncBuffer, FreePort, WriteFile, Lines and the Want* assertions
// are small helpers the packages share.
package testbin
