package errdefs

import (
	"errors"
	"fmt"
)

// Error classes. Wrap them: fmt.Errorf("image %q: %w", name, errdefs.ErrNotFound).
var (
	ErrNotFound        = errors.New("not found")
	ErrAlreadyExists   = errors.New("already exists")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrConflict        = errors.New("conflict")
	ErrUnavailable     = errors.New("unavailable")
	ErrCorrupt         = errors.New("corrupt data")
	ErrLimitExceeded   = errors.New("limit exceeded")
	ErrUnsupported     = errors.New("not supported")
	ErrPermission      = errors.New("permission denied")
)

// Classed returns err wrapped so that errors.Is(result, class) holds, keeping
// err's text as the message.
func Classed(class error, err error) error {
	if err == nil || errors.Is(err, class) {
		return err
	}
	return &classed{class: class, err: err}
}

type classed struct {
	class error
	err   error
}

func (c *classed) Error() string   { return c.err.Error() }
func (c *classed) Unwrap() []error { return []error{c.err, c.class} }

// Newf formats a message and tags it with class.
func Newf(class error, format string, args ...any) error {
	return Classed(class, fmt.Errorf(format, args...))
}

// IsNotFound and friends read better at call sites than errors.Is.
func IsNotFound(err error) bool        { return errors.Is(err, ErrNotFound) }
func IsAlreadyExists(err error) bool   { return errors.Is(err, ErrAlreadyExists) }
func IsInvalidArgument(err error) bool { return errors.Is(err, ErrInvalidArgument) }
func IsConflict(err error) bool        { return errors.Is(err, ErrConflict) }
func IsPermission(err error) bool      { return errors.Is(err, ErrPermission) }

// ExitCode maps an error to the process exit status. Docker's CLI exits 1 for
// every daemon-side failure and 125 for its own usage errors; strata keeps 1 for
// every class so scripts written for docker keep working, and reserves 125 for
// command-line misuse, which the CLI reports itself.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	return 1
}
