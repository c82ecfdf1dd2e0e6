package errdefs

import (
	"errors"
	"fmt"
	"testing"
)

func TestClassed(t *testing.T) {
	base := errors.New("image \"x\" missing")
	err := fmt.Errorf("rmi: %w", Classed(ErrNotFound, base))
	if !IsNotFound(err) || !errors.Is(err, base) {
		t.Fatalf("classification lost: %v", err)
	}
	if IsConflict(err) {
		t.Fatal("wrong class matched")
	}
	if got := err.Error(); got != "rmi: image \"x\" missing" {
		t.Fatalf("message changed: %q", got)
	}
	if Classed(ErrNotFound, nil) != nil {
		t.Fatal("nil must stay nil")
	}
	if e := Newf(ErrConflict, "c %d", 1); !IsConflict(e) || e.Error() != "c 1" {
		t.Fatalf("Newf: %v", e)
	}
	if ExitCode(nil) != 0 || ExitCode(err) != 1 {
		t.Fatal("exit codes")
	}
}
