// Package testbin serves the test packages that drive the built strata
// binary (test/integration, test/crash, test/containers): Find locates or
// builds the binary once per package, in TestMain, and Run and Capture run
// it and collect what it printed and its exit code.
package testbin
