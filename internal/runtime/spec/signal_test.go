package spec

import (
	"syscall"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

func TestParseSignal(t *testing.T) {
	good := map[string]syscall.Signal{
		"SIGTERM": syscall.SIGTERM, "term": syscall.SIGTERM, "9": syscall.SIGKILL, "SigQuit": syscall.SIGQUIT,
		"HUP": syscall.SIGHUP, "SIGUSR1": syscall.SIGUSR1, "RTMIN": 34, "SIGRTMIN+3": 37, "RTMAX": 64,
		"rtmax-2": 62, "64": 64,
	}
	for in, want := range good {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "65", "-1", "SIG", "NOPE", "RTMIN+31", "RTMIN-1", "RTMAX+1", "RTMIN++1", "RTMIN+", "SIGSIGTERM"} {
		if got, err := ParseSignal(in); !errdefs.IsInvalidArgument(err) {
			t.Errorf("ParseSignal(%q) = %d, %v; want an error", in, got, err)
		}
	}
}

func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"SIGTERM", "9", "RTMIN+3", "rtmax-1", "", "SIGRTMIN+", "KILL"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignal(s)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("ParseSignal(%q): unclassified error %v", s, err)
			}
			return
		}
		if sig < 1 || sig > 64 {
			t.Fatalf("ParseSignal(%q) = %d, out of range", s, sig)
		}
	})
}
