// Package network gives containers their network, the way Docker does, without
// a daemon: every strata process sets up or tears down what it needs and all
// state lives on disk.
//
// Modes:
//
//   - host: the container shares the host's network namespace.
//   - none: a new network namespace with only lo up.
//   - bridge (the default): a new namespace whose eth0 is one end of a veth
//     pair; the other end is plugged into the Linux bridge strata0 (subnet
//     10.88.0.0/16, gateway 10.88.0.1, both configurable). The container gets
//     an address from a multi-process safe pool, a default route via the
//     gateway, and reaches whatever the host reaches through NAT: iptables
//     masquerades the subnet's traffic leaving by any other interface, two
//     FORWARD rules let it through a DROP policy, and net.ipv4.ip_forward is
//     switched on. Every rule carries the comment "strata:<bridge>".
//
// The bridge, its address and its rules are made by the first Setup that
// needs them (the bridge stays afterwards, like docker0; RemoveBridge drops
// it). Netlink (github.com/vishvananda/netlink) does the links, addresses and
// routes; iptables is the command the system selects, nft or legacy, with the
// other variant as fallback. IPv4 only.
//
// A namespace must outlive the process that made it, so it is pinned by a
// bind mount of its nsfs file; the runtime spec's network namespace path
// points there and runc joins it. Published ports are served by a userland
// proxy (Proxy) that the container's monitor runs; no DNAT rules.
//
// On-disk layout under Manager.StateDir:
//
//	<StateDir>/
//	├── lock                   flock: serialises record creation and host port choice
//	├── attachments/<id>.json  one record per container (mode, netns path, address,
//	│                          resolved ports, ready flag); written first by Setup,
//	│                          removed last by Teardown
//	├── netns/<id>             bind mount of the container's network namespace
//	└── ipam/
//	    ├── <bridge>.lock      flock held while the pool or the bridge changes
//	    └── <bridge>.json      subnet, gateway, NAT-installed flag, last address
//	                           handed out, address -> container id
//
// JSON files are replaced by rename, so a kill -9 leaves the old or the new
// version. The host end of a veth pair is named after a hash of the container
// ID, so Teardown finds everything from the ID alone: it deletes the veth,
// unmounts and removes the namespace file, releases the address and then the
// record, and succeeds on a half set-up or already removed network. Addresses
// are handed out round robin; when a subnet is full, addresses whose holder no
// longer has a pinned namespace (after a reboot) are reclaimed.
//
// WriteEtcFiles writes a container's hosts, hostname and resolv.conf; see
// there for how loopback resolvers (systemd-resolved) are replaced.
package network
