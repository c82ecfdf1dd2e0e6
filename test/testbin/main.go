package testbin

import (
	"fmt"
	"os"
)

// Runner runs a package's tests and returns their exit code, as
// *testing.M does.
type Runner interface {
	Run() int
}

// Main is the body of a TestMain that drives strata on a busybox image: in
// a temporary directory it gets the binary (FindFresh) and the busybox
// tarball (BusyboxTar with opts; "" when the host has no /bin/busybox),
// hands both to set, runs m and removes the directory. It returns the exit
// code for os.Exit; a failure to prepare is printed after name and gives 1.
func Main(m Runner, name string, set func(bin, busyboxTar string), opts ...TarOption) int {
	tmp, err := os.MkdirTemp("", "strata-"+name+"-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	bin, err := FindFresh(tmp)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	tar, err := BusyboxTar(tmp, opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	set(bin, tar)
	return m.Run()
}
