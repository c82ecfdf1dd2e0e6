// Package registry holds integration tests of distribution: they drive the
// built strata binary (pull, push, login, logout, search, images --digests,
// registry serve, registry gc) and third-party clients (skopeo, crane) and
// registries (the CNCF distribution registry, versitygw for S3) over
// loopback. A test whose tool is missing skips with the reason.
package registry
