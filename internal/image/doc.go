// Package image is strata's model of container images: OCI image manifests,
// indexes and configs, Docker schema2 manifests and manifest lists, Docker's
// superset of the config, chain IDs, platform matching, the `--change`
// instructions of `import` and `commit`, and the Docker-shaped view printed by
// `image inspect`.
//
// Everything here is a pure function of bytes and values: no disk, no network.
//
// An image ID is the digest of its config blob's exact bytes, so configs are
// never re-serialised once read: ParseConfig is for reading, and Marshal is
// used only when strata creates a new config.
package image
