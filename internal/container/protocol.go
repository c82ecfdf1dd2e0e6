package container

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"time"
)

// The monitor socket speaks a tiny protocol. A client sends one JSON
// request line; for "attach" the connection then carries frames both ways:
// a type byte, a big-endian uint32 length, and the payload.
const (
	frameStdin   byte = 0 // client -> monitor
	frameStdout  byte = 1 // monitor -> client
	frameStderr  byte = 2 // monitor -> client
	frameResize  byte = 3 // client -> monitor: uint16 rows, uint16 cols
	frameCloseIn byte = 4 // client -> monitor: stdin reached EOF
	frameExit    byte = 5 // monitor -> client: int32 exit code, then the monitor closes
	maxFrame          = 1 << 20
	opAttach          = "attach"
	opStop            = "stop"
	opKill            = "kill"
	opWait            = "wait"
	opResize          = "resize"
	opStart           = "start" // releases a monitor waiting for its first client
)

// request is the first line a client sends.
type request struct {
	Op      string `json:"op"`
	Stdin   bool   `json:"stdin,omitempty"`
	Timeout int    `json:"timeout,omitempty"` // stop: seconds before SIGKILL
	Signal  string `json:"signal,omitempty"`  // kill
	Rows    uint16 `json:"rows,omitempty"`
	Cols    uint16 `json:"cols,omitempty"`
}

// reply answers stop, kill and wait (attach answers with frames).
type reply struct {
	ExitCode int    `json:"exitCode"`
	Error    string `json:"error,omitempty"`
}

func writeFrame(w io.Writer, typ byte, payload []byte) error {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

func readFrame(r io.Reader, buf []byte) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("monitor frame of %d bytes is too large", n)
	}
	if int(n) > cap(buf) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(r, buf)
	return hdr[0], buf, err
}

func exitPayload(code int) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(int32(code)))
	return b[:]
}

// dial opens the monitor socket of a container and sends req.
func dial(sock string, req request) (net.Conn, error) {
	conn, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(req)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// call sends req and reads the one-line JSON reply.
func call(sock string, req request) (reply, error) {
	conn, err := dial(sock, req)
	if err != nil {
		return reply{}, err
	}
	defer conn.Close()
	var rep reply
	if err := json.NewDecoder(conn).Decode(&rep); err != nil {
		return reply{}, fmt.Errorf("monitor did not answer %s: %w", req.Op, err)
	}
	return rep, nil
}
