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
//	    monitor.sock    the monitor's attach and control socket
//	    monitor.log     the monitor's own errors
//
// Each running container has a monitor: strata re-executing itself
// (`strata container-monitor ID`, detached in its own session). The monitor
// mounts the rootfs, sets up the network, starts the container with the OCI
// runtime as a child subreaper, owns its stdio (log file and attached
// clients), publishes ports, records the exit code, applies the restart
// policy and cleans up. So `run -d` returns at once and a container outlives
// the command that started it. Commands that talk to a running container
// (attach, stop, wait) go through monitor.sock; when the monitor is gone
// (kill -9), they fall back to the runtime and clean up themselves.
package container
