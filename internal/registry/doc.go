// Package registry is strata's registry server: an OCI distribution-spec
// v1.1 registry (Docker Registry HTTP API v2 compatible) over a
// storage.Driver, with htpasswd and bearer-token auth, the referrers API,
// Docker's /v1/search, Prometheus metrics and online garbage collection.
//
// # Storage layout
//
// Everything lives in the Driver; a Server keeps nothing a request depends
// on, so several Servers on one backend act as one registry (push to one,
// pull from another, start an upload on one and finish it on another).
//
//	blobs/
//	├── sha256/<hex>                 blob bytes, named by digest (the same path as
//	└── sha512/<hex>                 strata's local content store: they may share it)
//	repositories/<name>/             <name> may have several components (library/busybox)
//	├── _layers/<alg>/<hex>/link             the repository may read this blob; holds the digest
//	├── _manifests/
//	│   ├── revisions/<alg>/<hex>/link       a manifest of the repository: "<digest>\n<media type>\n";
//	│   │                                    its bytes are the blob blobs/<alg>/<hex>
//	│   └── tags/<tag>/current/link          the digest the tag points at
//	└── _referrers/<alg>/<hex>/<digest>      descriptor JSON of manifest <digest>, whose subject
//	                                         is <alg>:<hex>
//	uploads/<uuid>/                  one upload session (uuid: random version 4 UUID)
//	├── startedat                    RFC 3339 start time; sessions expire after UploadExpiry
//	├── state                        JSON: the repository the session is bound to (an upload
//	│                                URL is unknown in any other), digest algorithm, size and
//	│                                hash state after the last chunk, start time, and the
//	│                                target digest while completing onto an existing blob
//	└── data                         bytes received so far: the driver's pending content
//	                                 (Writer without Commit) until completion commits it and
//	                                 moves it to blobs/<alg>/<hex>
//	_gc/candidates/<alg>/<hex>       empty marker: a DELETE unlinked this blob; GC looks at it
//
// Repository names never have components starting with "_", so a
// directory under repositories/ is a repository exactly when it has a child
// starting with "_".
//
// Writes are ordered so a crash never leaves a link to missing bytes: blob,
// then layer link; manifest bytes, revision link, referrers entry, then
// tags. Upload chunks are appended through Driver.Writer and the state
// (with the hash state, so completion need not reread the data) is written
// after each chunk; if they disagree after a crash, completion rehashes the
// data from storage. A chunk cut short keeps what arrived, and the session
// reports that offset, so the client can resume.
//
// # HTTP
//
// Every distribution-spec endpoint (end-1 to end-14, referrers, tags with
// ?tag= on manifest PUT), plus GET/POST /v2/token (bearer tokens; see
// token.go), GET /v1/search (Docker's search, from the catalog) and GET
// /metrics (Prometheus text, unauthenticated). Errors use one table
// (errors.go). Config.Addr is for the caller, which opens the listener
// handed to Serve.
//
// # Garbage collection
//
// Server.GC marks from every revision of every repository and sweeps only
// blobs the registry knows of (linked, or marked by a DELETE), never blobs it
// never linked, so a blobs/ directory shared with the local content store is
// safe. A grace period (Config.GCGracePeriod) protects fresh blobs and
// fresh links, and blobs named by uploads being completed, so a push racing
// the collector keeps its blobs.
package registry
