package writeback

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestTracker checks when a writeback starts and that the file's bytes
// are untouched by it.
func TestTracker(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	var tr Tracker
	var end int64
	for i := 0; i < Every/len(chunk)-1; i++ {
		n, err := f.Write(chunk)
		if err != nil {
			t.Fatal(err)
		}
		end += int64(n)
		tr.Wrote(f, end)
	}
	if tr.from != 0 {
		t.Fatalf("writeback started at %d bytes, before %d were written", tr.from, Every)
	}
	n, _ := f.Write(chunk)
	end += int64(n)
	tr.Wrote(f, end)
	if tr.from != end {
		t.Fatalf("after %d bytes the next writeback starts at %d, want %d", end, tr.from, end)
	}
	tr.Reset(5)
	if tr.from != 5 {
		t.Fatalf("Reset(5): from = %d", tr.from)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(got)) != end || !bytes.Equal(got[:len(chunk)], chunk) || !bytes.Equal(got[len(got)-len(chunk):], chunk) {
		t.Fatalf("file holds %d bytes, want %d copies of the chunk", len(got), end/int64(len(chunk)))
	}
}

// TestClosedFile: a writeback on a closed file is advice that fails
// silently, not a panic.
func TestClosedFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	var tr Tracker
	tr.Wrote(f, Every)
	if tr.from != Every {
		t.Fatalf("from = %d, want %d", tr.from, Every)
	}
}
