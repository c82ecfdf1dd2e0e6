// Package storagetest is the test suite every registry storage driver must
// pass. A driver's test is one call:
//
//	storagetest.Run(t, func(t *testing.T) storage.Driver { return newEmptyDriver(t) })
//
// newDriver must return a driver on fresh, empty storage each time it is
// called; the suite's subtests run in parallel.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/registry/storage"
)

// Run runs the suite against drivers made by newDriver.
func Run(t *testing.T, newDriver func(t *testing.T) storage.Driver) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d storage.Driver)
	}{
		{"PutGet", testPutGet},
		{"OverwriteAtomic", testOverwriteAtomic},
		{"ReaderOffsets", testReaderOffsets},
		{"WriterAppend", testWriterAppend},
		{"WriterResumeMany", testWriterResumeMany},
		{"WriterAppendAfterCommit", testWriterAppendAfterCommit},
		{"WriterRestart", testWriterRestart},
		{"WriterEmpty", testWriterEmpty},
		{"WriterDone", testWriterDone},
		{"Cancel", testCancel},
		{"CommitVisibility", testCommitVisibility},
		{"Stat", testStat},
		{"List", testList},
		{"Move", testMove},
		{"Delete", testDelete},
		{"InvalidPaths", testInvalidPaths},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newDriver(t))
		})
	}
}

// Blob is a path shaped like a registry blob.
const Blob = "blobs/sha256/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

// RandomBytes returns n pseudo-random bytes from seed.
func RandomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// MustGet reads p and fails the test on error.
func MustGet(t testing.TB, d storage.Driver, p string) []byte {
	t.Helper()
	b, err := d.GetContent(context.Background(), p)
	if err != nil {
		t.Fatalf("GetContent(%s): %v", p, err)
	}
	return b
}

// MustPut writes p and fails the test on error.
func MustPut(t testing.TB, d storage.Driver, p string, data []byte) {
	t.Helper()
	if err := d.PutContent(context.Background(), p, data); err != nil {
		t.Fatalf("PutContent(%s): %v", p, err)
	}
}

// WriteSession opens a Writer on p, writes data and Commits (commit) or
// Closes it, returning the Writer's Size before writing.
func WriteSession(t testing.TB, d storage.Driver, p string, append bool, data []byte, commit bool) int64 {
	t.Helper()
	ctx := context.Background()
	w, err := d.Writer(ctx, p, append)
	if err != nil {
		t.Fatalf("Writer(%s, %v): %v", p, append, err)
	}
	before := w.Size()
	if n, err := w.Write(data); err != nil || n != len(data) {
		t.Fatalf("Write(%s) = %d, %v; want %d", p, n, err, len(data))
	}
	if got, want := w.Size(), before+int64(len(data)); got != want {
		t.Fatalf("Size(%s) after write = %d, want %d", p, got, want)
	}
	if commit {
		if err := w.Commit(ctx); err != nil {
			t.Fatalf("Commit(%s): %v", p, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close(%s): %v", p, err)
	}
	return before
}

// PendingSize returns the size of p's pending content as a resuming Writer
// sees it, leaving the content as it was.
func PendingSize(t testing.TB, d storage.Driver, p string) int64 {
	t.Helper()
	w, err := d.Writer(context.Background(), p, true)
	if err != nil {
		t.Fatalf("Writer(%s, true): %v", p, err)
	}
	size := w.Size()
	if err := w.Close(); err != nil {
		t.Fatalf("Close(%s): %v", p, err)
	}
	return size
}

// WantErr fails unless err is of class.
func WantErr(t testing.TB, what string, err, class error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("%s: error %v, want class %q", what, err, class)
	}
}

// checkContent fails unless p holds want.
func checkContent(t testing.TB, d storage.Driver, p string, want []byte) {
	t.Helper()
	if got := MustGet(t, d, p); !bytes.Equal(got, want) {
		t.Fatalf("content of %s: %d bytes %.20q..., want %d bytes %.20q...", p, len(got), got, len(want), want)
	}
}

// BadPaths are paths every driver must refuse.
var BadPaths = []string{
	"", "/", "/abs", "a//b", "a/", "../x", "a/../b", "a/..", "./a", "a/./b",
	"a/\x00b", ".pending/x", ".tmp", strings.Repeat("a/", 600) + "a",
}
