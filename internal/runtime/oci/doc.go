// Package oci drives an OCI runtime binary (runc or crun) through its
// command line: a thin, typed wrapper whose errors carry the runtime's own
// message, classified with errdefs (ErrNotFound for an unknown container,
// ErrConflict for a container in the wrong state, ErrUnavailable when the
// runtime failed).
//
// A container's life: write config.json (runtime/spec) into a bundle,
// Create it with stdio files or a ConsoleSocket, Start it, Wait for its
// init (the caller must be a subreaper, SetSubreaper, since the runtime
// process that forked the init exits), then Delete it.
package oci
