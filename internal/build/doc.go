// Package build runs Dockerfile builds: it plans the stages the target
// needs as a graph and runs independent stages in parallel, executes each
// instruction with Docker's semantics (RUN in a runc container on a
// snapshot of the layers so far, COPY and ADD from the context read in
// place), and keeps a layer cache in the metadata database.
//
// A step's cache key is computed before it runs, from the key of the step
// before it, the instruction as expanded, the build args RUN sees, and for
// COPY and ADD the checksum of their sources (from buildctx's hash cache,
// so an unchanged file is not read again). Each cache entry keeps the image
// state the step produced (config and layers) and pins its blobs, so the
// cache outlives `rmi`. Entries also keep their inputs, which is how
// --explain-cache names what changed when a step misses.
package build
