// Package container creates, runs and removes containers without a daemon.
//
// A container is a metadata row (its configuration and state), an active
// snapshot on its image's top layer (its writable container layer), and a
// directory:
//
//	containers/<id>/
//	    config.json     OCI runtime bundle config, written at each start
//	    rootfs/         mount point of the container's snapshot while it runs
//	    hosts, hostname, resolv.conf
//	    container.log   stdout/stderr in Docker's json-file format
//	    monitor.log     the monitor's own errors
//	    init.pid        the container process's pid (runtime --pid-file)
//	    start.lock      flock held by a start, so concurrent starts start it once
//	containers/.mnt-*, .view-*  temporary mounts (cp, export, diff, commit of a
//	                    stopped container), each with a flocked <dir>.lock;
//	                    see tempmount.go for how a killed process's are removed
//
// The monitor's socket (attach and control) is <root>/run/<id prefix>.sock,
// or under /tmp when the root's path is too long for a unix socket.
//
// Each running container has a monitor: strata re-executing itself
// (`strata container-monitor ID`, detached in its own session). The monitor
// mounts the rootfs, sets up the network, starts the container with the OCI
// runtime as a child subreaper, owns its stdio (log file and attached
// clients), publishes ports, records the exit code, applies the restart
// policy and cleans up. So `run -d` returns at once and a container outlives
// the command that started it. Commands that talk to a running container
// (attach, stop, wait) go through the monitor's socket and return once the
// monitor has torn down and exited (waitExit), so the next command never
// races with that; when the monitor is gone (kill -9), they fall back to
// the runtime and clean up themselves (reconcile).
package container
