package oci

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// ConsoleSocket is a unix socket on which the runtime hands over the pty
// master of a container (or exec) that has a terminal.
type ConsoleSocket struct {
	path string
	l    *net.UnixListener
}

// NewConsoleSocket listens on path (which must not exist; at most 107
// bytes). Close it when done.
func NewConsoleSocket(path string) (*ConsoleSocket, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	l.SetUnlinkOnClose(true)
	return &ConsoleSocket{path: path, l: l}, nil
}

// Path is the socket's path, for CreateOpts.ConsoleSocket.
func (c *ConsoleSocket) Path() string { return c.path }

// Accept waits for the runtime to connect and returns the pty master it
// sends (SCM_RIGHTS), non-blocking and close-on-exec, so reads honour
// deadlines and Close. Closing the socket ends a pending Accept.
func (c *ConsoleSocket) Accept() (*os.File, error) {
	conn, err := c.l.AcceptUnix()
	if err != nil {
		return nil, fmt.Errorf("console socket %s: %w", c.path, err)
	}
	defer func() { _ = conn.Close() }() // only read from: nothing to flush
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("console socket %s: %w", c.path, err)
	}
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	var n, oobn int
	var recvErr error
	err = raw.Read(func(fd uintptr) bool {
		n, oobn, _, _, recvErr = unix.Recvmsg(int(fd), name, oob, unix.MSG_CMSG_CLOEXEC)
		return !errors.Is(recvErr, unix.EAGAIN)
	})
	if err == nil {
		err = recvErr
	}
	if err != nil {
		return nil, fmt.Errorf("console socket %s: receive: %w", c.path, err)
	}
	fds, err := receivedFds(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("console socket %s: %w", c.path, err)
	}
	if len(fds) != 1 {
		closeAll(fds)
		return nil, fmt.Errorf("console socket %s: got %d descriptors, want 1", c.path, len(fds))
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("console socket %s: %w", c.path, err)
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

// Close stops listening and removes the socket file.
func (c *ConsoleSocket) Close() error {
	return c.l.Close()
}

func receivedFds(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			closeAll(fds)
			return nil, fmt.Errorf("parse control message: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
