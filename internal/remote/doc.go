// Package remote is strata's client for the OCI distribution API (and
// Docker's extensions to it): what pull, push, login, search and manifest
// use.
//
// One Client serves a whole process. It keeps, per registry host, an HTTP
// transport (TLS settings from a certs.d directory, insecure hosts), the
// scheme that works (https, or plain http for insecure hosts), the
// authentication challenge the host answered with, and a cache of bearer
// tokens per (host, scope). A Repository is a handle on one repository with
// the actions ("pull", "push") its tokens ask for.
//
// # Authentication
//
// Requests go out without credentials until a host answers 401. The
// WWW-Authenticate challenge is then remembered: Basic hosts get the stored
// user name and password on every request, Bearer hosts get a token fetched
// from the realm (GET with Basic credentials or anonymously; POST
// grant_type=refresh_token when an identity token is stored, as Docker does)
// for the scope repository:<path>:<actions>. The 401'd request is retried
// once. Tokens are reused until shortly before they expire. Credentials are
// never sent over plain HTTP to a host that is not loopback: such requests go
// out anonymously.
//
// Credentials come from an AuthStore; ConfigFile is Docker's config.json
// (and its credential helpers), so logins made by docker work here and the
// other way round.
//
// # Endpoints
//
// docker.io is served by registry-1.docker.io (and searched on
// index.docker.io). Pull-only repositories try the host's mirrors in order
// before the registry itself; any failure on a mirror moves on to the next
// endpoint, and a mirror that cannot be reached is skipped for the rest of
// the Repository's life. Hosts listed as insecure (and every loopback host)
// are reached over https without certificate checks, or over plain http
// when https fails on first contact.
//
// # Retries and errors
//
// Idempotent requests are repeated up to three times, with exponential
// backoff, on connection errors and on 429, 500, 502, 503 and 504 answers
// (Retry-After is honoured up to 30 s); requests to a mirror are not
// repeated, the next endpoint is tried instead. Blob downloads resume with a Range
// request where a stream breaks. Registry error codes are mapped to errdefs
// classes with Docker's wording: "manifest unknown", "unauthorized:
// authentication required", "pull access denied for X, repository does not
// exist or may require 'docker login'".
package remote
