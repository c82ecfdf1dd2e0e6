// Package fetch downloads the URL sources of a Dockerfile `ADD https://... /dest`.
//
// Download streams the body into a temp file in a caller-chosen directory,
// hashing it on the way (one pass, never buffered in memory), and bounds the
// transfer by size and wall-clock time. The response is taken byte for byte:
// the transport asks for no transparent gzip decoding, so the digest and the
// --checksum check cover exactly what the server sent.
//
// # Private destinations
//
// A build must not become a way to read services on the build host or its
// network (cloud metadata endpoints, admin ports on 127.0.0.1, a LAN). Unless
// Options.AllowPrivate is set (the CLI's --allow-private-network), every
// connection is refused whose resolved address is loopback, link-local,
// private (RFC 1918, 100.64.0.0/10 CGNAT, fc00::/7 ULA, fec0::/10 site-local),
// unspecified or 0.0.0.0/8, broadcast or multicast. IPv4-mapped IPv6
// addresses are judged by their IPv4 address.
//
// The check runs in net.Dialer.Control, on the IP address the socket is about
// to connect to, after name resolution. It therefore also covers DNS
// rebinding (a name that resolves to a public address when looked at and to
// 127.0.0.1 when dialled) and redirects to private addresses: every redirect
// hop dials anew and is checked anew.
//
// Environment proxies (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) are deliberately not
// used: through a proxy the dial goes to the proxy, which would fetch any
// address on our behalf and bypass the check. Options.Client contributes only
// its TLS settings (for example test root CAs); the transport, its dialer and
// the redirect policy are always fetch's own.
package fetch
