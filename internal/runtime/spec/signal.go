package spec

import (
	"strconv"
	"strings"
	"syscall"

	"github.com/strata-dev/strata/internal/errdefs"
	"golang.org/x/sys/unix"
)

// Real-time signal range on Linux, as the C library exposes it.
const (
	sigRTMin = 34
	sigRTMax = 64
)

// StopSignalAnnotation carries the container's stop signal in the spec's
// annotations (the image-spec key for STOPSIGNAL).
const StopSignalAnnotation = "org.opencontainers.image.stopSignal"

// ParseSignal reads a signal as Docker accepts it for STOPSIGNAL, --signal
// and `docker kill -s`: a number (1-64), or a name with or without "SIG", in
// any case, including RTMIN+n and RTMAX-n.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > sigRTMax {
			return 0, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid signal: %s", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig, ok := realtimeSignal(name); ok {
		return sig, nil
	}
	if sig := unix.SignalNum("SIG" + name); sig != 0 && name != "" {
		return sig, nil
	}
	return 0, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid signal: %s", s)
}

// realtimeSignal reads "RTMIN", "RTMIN+n" and "RTMAX-n" within the range.
func realtimeSignal(name string) (syscall.Signal, bool) {
	base, sign, rest := 0, 1, ""
	switch {
	case strings.HasPrefix(name, "RTMIN"):
		base, rest = sigRTMin, name[len("RTMIN"):]
	case strings.HasPrefix(name, "RTMAX"):
		base, sign, rest = sigRTMax, -1, name[len("RTMAX"):]
	default:
		return 0, false
	}
	if rest == "" {
		return syscall.Signal(base), true
	}
	op := byte('+')
	if sign < 0 {
		op = '-'
	}
	if rest[0] != op {
		return 0, false
	}
	n, err := strconv.Atoi(rest[1:])
	if err != nil || n < 1 || n > sigRTMax-sigRTMin || rest[1] == '+' || rest[1] == '-' {
		return 0, false
	}
	return syscall.Signal(base + sign*n), true
}
