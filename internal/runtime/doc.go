// Package runtime groups strata's container execution pieces. It holds no
// code itself:
//
//   - runtime/spec turns an image config plus `docker run` options into an
//     OCI runtime-spec (config.json) with Docker's defaults: command and user
//     resolution, environment, capabilities, masked paths, mounts, resources.
//   - runtime/oci drives an OCI runtime binary (runc or crun) through its
//     command line, and offers the pieces a container monitor needs: console
//     sockets for terminals, and a child subreaper to wait for container init.
package runtime
