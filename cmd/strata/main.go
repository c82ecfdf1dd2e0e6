// Command strata is a daemonless, Docker-compatible container image tool.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/strata-dev/strata/internal/errdefs"
)

func main() {
	stop := startProfile(os.Getenv("STRATA_CPUPROFILE"))
	code := run(os.Args[1:])
	stop()
	os.Exit(code)
}

// startProfile writes a CPU profile of the whole command to path, when
// path is set (for `go tool pprof`); it returns the function that ends it.
func startProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "strata: STRATA_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

func run(args []string) int {
	cli := newCLI()
	root := cli.rootCommand()
	root.SetArgs(args)
	err := root.Execute()
	cli.close()
	if err == nil {
		return 0
	}
	var st statusError
	if errors.As(err, &st) {
		if st.msg != "" {
			fmt.Fprintln(os.Stderr, st.msg)
		}
		return st.code
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "%s\nSee '%s --help'.\n", ue.err, ue.cmd)
		return 125
	}
	fmt.Fprintf(os.Stderr, "Error: %s\n", err)
	return errdefs.ExitCode(err)
}

// statusError ends the command with a given exit status after its own
// output (rmi of several images, some missing, still exits 1).
type statusError struct {
	code int
	msg  string
}

func (e statusError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError is a command-line mistake in the command cmd (its path, such
// as "strata image ls"): Docker exits 125 for those.
type usageError struct {
	err error
	cmd string
}

func (e usageError) Error() string { return e.err.Error() }
