// Package reference parses and prints image references the way Docker does:
//
//	[registry[:port]/][namespace/]name[:tag][@digest]
//
// Names are normalized on parse ("busybox" becomes
// "docker.io/library/busybox") and shortened again for display ("familiar"
// form). The grammar itself is github.com/distribution/reference's; this
// package turns its interface-typed results into one comparable value type,
// Reference, and classes its errors as errdefs.ErrInvalidArgument.
package reference
