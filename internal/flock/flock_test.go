package flock

import (
	"path/filepath"
	"testing"
	"time"
)

func TestExclusiveWaitsForShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l")
	r1, err := Shared(path)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Shared(path) // shared locks coexist
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		rel, err := Exclusive(path)
		if err == nil {
			rel()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("exclusive lock taken while shared locks were held")
	case <-time.After(100 * time.Millisecond):
	}
	r1()
	r2()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("exclusive lock not taken after the shared ones went")
	}
}
