package image

import (
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
)

// linuxSignals maps Linux signal names, without "SIG", to their numbers.
// Images target Linux whatever the host, so the table is fixed.
var linuxSignals = map[string]int{
	"ABRT": 6, "ALRM": 14, "BUS": 7, "CHLD": 17, "CLD": 17, "CONT": 18,
	"FPE": 8, "HUP": 1, "ILL": 4, "INT": 2, "IO": 29, "IOT": 6, "KILL": 9,
	"PIPE": 13, "POLL": 29, "PROF": 27, "PWR": 30, "QUIT": 3, "SEGV": 11,
	"STKFLT": 16, "STOP": 19, "SYS": 31, "TERM": 15, "TRAP": 5, "TSTP": 20,
	"TTIN": 21, "TTOU": 22, "UNUSED": 31, "URG": 23, "USR1": 10, "USR2": 12,
	"VTALRM": 26, "WINCH": 28, "XCPU": 24, "XFSZ": 25,
}

const (
	sigRTMin = 34
	sigRTMax = 64
)

// ParseSignal reads a stop signal as Docker accepts it: a number from 1 to
// 64, or a Linux signal name with or without "SIG" in any case, including
// RTMIN+n and RTMAX-n.
func ParseSignal(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > sigRTMax {
			return 0, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid signal: %s", s)
		}
		return n, nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if n, ok := linuxSignals[name]; ok {
		return n, nil
	}
	if n, ok := realtimeSignal(name); ok {
		return n, nil
	}
	return 0, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid signal: %s", s)
}

// realtimeSignal reads RTMIN, RTMIN+n (n 1..15), RTMAX and RTMAX-n (n 1..14).
func realtimeSignal(name string) (int, bool) {
	switch name {
	case "RTMIN":
		return sigRTMin, true
	case "RTMAX":
		return sigRTMax, true
	}
	if rest, ok := strings.CutPrefix(name, "RTMIN+"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 1 && n <= 15 && rest[0] != '+' {
			return sigRTMin + n, true
		}
	}
	if rest, ok := strings.CutPrefix(name, "RTMAX-"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 1 && n <= 14 && rest[0] != '+' {
			return sigRTMax - n, true
		}
	}
	return 0, false
}
