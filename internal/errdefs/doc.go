// Package errdefs defines strata's error classes. Every package wraps one of
// these sentinels with %w so that callers test with errors.Is, and the CLI maps
// a class to an exit code (and, later, the registry to an HTTP status) in one
// place: ExitCode.
package errdefs
