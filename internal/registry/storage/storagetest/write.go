package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/registry/storage"
)

func testPutGet(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	_, err := d.GetContent(ctx, "repositories/x/missing")
	WantErr(t, "get missing", err, errdefs.ErrNotFound)
	for _, p := range []string{"top", "repositories/library/busybox/_manifests/tags/latest/current/link", Blob} {
		data := RandomBytes(uint64(len(p)), 1000+len(p))
		MustPut(t, d, p, data)
		checkContent(t, d, p, data)
		MustPut(t, d, p, []byte("second"))
		checkContent(t, d, p, []byte("second"))
		MustPut(t, d, p, nil)
		checkContent(t, d, p, []byte{})
	}
}

func testOverwriteAtomic(t *testing.T, d storage.Driver) {
	const p = "atomic/file"
	a := bytes.Repeat([]byte{'a'}, 64<<10)
	b := bytes.Repeat([]byte{'b'}, 32<<10)
	MustPut(t, d, p, a)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 2)
	wg.Go(func() {
		defer close(stop)
		for i := range 20 {
			if err := d.PutContent(context.Background(), p, [][]byte{a, b}[i%2]); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := d.GetContent(context.Background(), p)
			if err != nil {
				errs <- fmt.Errorf("read during overwrite: %w", err)
				return
			}
			if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
				errs <- fmt.Errorf("read a mix: %d bytes", len(got))
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testReaderOffsets(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	data := RandomBytes(1, 100_000)
	MustPut(t, d, Blob, data)
	for _, off := range []int64{0, 1, 4096, 99_999, 100_000} {
		r, err := d.Reader(ctx, Blob, off)
		if err != nil {
			t.Fatalf("Reader(%d): %v", off, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data[off:]) {
			t.Fatalf("Reader(%d): %d bytes, %v; want %d bytes", off, len(got), err, len(data)-int(off))
		}
	}
	if r, err := d.Reader(ctx, Blob, 100_001); err == nil {
		r.Close()
		t.Fatal("Reader past the end succeeded")
	}
	_, err := d.Reader(ctx, "blobs/sha256/missing", 0)
	WantErr(t, "reader on missing file", err, errdefs.ErrNotFound)
}

func testWriterAppend(t *testing.T, d storage.Driver) {
	const p = "uploads/0b5ef0a1/data"
	if before := WriteSession(t, d, p, false, []byte("hello "), false); before != 0 {
		t.Fatalf("new writer Size = %d", before)
	}
	if before := WriteSession(t, d, p, true, []byte("world"), true); before != 6 {
		t.Fatalf("resumed writer Size = %d, want 6", before)
	}
	checkContent(t, d, p, []byte("hello world"))
	// Both sessions in one go, without a Close in between being seen.
	const q = "uploads/0b5ef0a2/data"
	a, b := RandomBytes(2, 300_000), RandomBytes(3, 200_000)
	WriteSession(t, d, q, false, a, false)
	if before := WriteSession(t, d, q, true, b, true); before != int64(len(a)) {
		t.Fatalf("resumed writer Size = %d, want %d", before, len(a))
	}
	checkContent(t, d, q, append(a, b...))
}

// testWriterResumeMany resumes an upload several times with chunks of
// varied sizes, as a chunked push does.
func testWriterResumeMany(t *testing.T, d storage.Driver) {
	const p = "uploads/many/data"
	var want []byte
	for i, n := range []int{1, 70_000, 0, 5, 250_000, 3} {
		chunk := RandomBytes(uint64(10+i), n)
		if before := WriteSession(t, d, p, i > 0, chunk, false); before != int64(len(want)) {
			t.Fatalf("session %d: Size = %d, want %d", i, before, len(want))
		}
		want = append(want, chunk...)
	}
	if got := PendingSize(t, d, p); got != int64(len(want)) {
		t.Fatalf("pending size %d, want %d", got, len(want))
	}
	WriteSession(t, d, p, true, nil, true)
	checkContent(t, d, p, want)
}

func testWriterAppendAfterCommit(t *testing.T, d storage.Driver) {
	const p = "uploads/after/data"
	WriteSession(t, d, p, false, []byte("abc"), true)
	if before := WriteSession(t, d, p, true, []byte("def"), false); before != 3 {
		t.Fatalf("append to committed file: Size = %d, want 3", before)
	}
	checkContent(t, d, p, []byte("abc")) // the append is pending
	WriteSession(t, d, p, true, []byte("g"), true)
	checkContent(t, d, p, []byte("abcdefg"))
	// Committing without writing keeps the content.
	WriteSession(t, d, p, true, nil, true)
	checkContent(t, d, p, []byte("abcdefg"))
}

// testWriterRestart resumes with a Writer that never saw the first one's
// state: a fresh Writer value after Close, as a new request would.
func testWriterRestart(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	const p = "uploads/restart/data"
	w, err := d.Writer(ctx, p, false)
	if err != nil {
		t.Fatal(err)
	}
	data := RandomBytes(4, 123_457)
	if _, err := io.Copy(w, bytes.NewReader(data[:100_000])); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	w2, err := d.Writer(ctx, p, true)
	if err != nil {
		t.Fatal(err)
	}
	if w2.Size() != 100_000 {
		t.Fatalf("resumed Size = %d", w2.Size())
	}
	if _, err := io.Copy(w2, bytes.NewReader(data[100_000:])); err != nil {
		t.Fatal(err)
	}
	if err := w2.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	checkContent(t, d, p, data)
}

func testWriterEmpty(t *testing.T, d storage.Driver) {
	const p = "uploads/empty/data"
	WriteSession(t, d, p, false, nil, true)
	checkContent(t, d, p, []byte{})
	fi, err := d.Stat(context.Background(), p)
	if err != nil || fi.Size != 0 || fi.IsDir {
		t.Fatalf("Stat of empty file: %+v, %v", fi, err)
	}
}

func testWriterDone(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	w, err := d.Writer(ctx, "done/file", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close after Commit: %v", err)
	}
	if _, err := w.Write([]byte("y")); err == nil {
		t.Fatal("Write after Commit succeeded")
	}
	if err := w.Commit(ctx); err == nil {
		t.Fatal("second Commit succeeded")
	}
	checkContent(t, d, "done/file", []byte("x"))
}

func testCancel(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	const p = "uploads/cancel/data"
	// A new upload, cancelled, leaves nothing.
	w, err := d.Writer(ctx, p, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := w.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = d.Stat(ctx, p)
	WantErr(t, "stat after cancel", err, errdefs.ErrNotFound)
	if n := PendingSize(t, d, p); n != 0 {
		t.Fatalf("pending size after cancel = %d", n)
	}
	// Cancel drops every earlier session's pending bytes, not the
	// committed content.
	MustPut(t, d, p, []byte("old"))
	WriteSession(t, d, p, true, []byte("new"), false)
	w, err = d.Writer(ctx, p, true)
	if err != nil {
		t.Fatal(err)
	}
	if w.Size() != 6 {
		t.Fatalf("resumed Size = %d, want 6", w.Size())
	}
	if _, err := w.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	if err := w.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	checkContent(t, d, p, []byte("old"))
	if n := PendingSize(t, d, p); n != 3 {
		t.Fatalf("pending size after cancel = %d, want 3 (the committed file)", n)
	}
}

func testCommitVisibility(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	const p = "uploads/visible/data"
	WriteSession(t, d, p, false, []byte("pending"), false)
	_, err := d.GetContent(ctx, p)
	WantErr(t, "get before commit", err, errdefs.ErrNotFound)
	_, err = d.Stat(ctx, p)
	WantErr(t, "stat before commit", err, errdefs.ErrNotFound)
	_, err = d.List(ctx, "uploads/visible")
	WantErr(t, "list before commit", err, errdefs.ErrNotFound)
	// append=false starts over.
	if before := WriteSession(t, d, p, false, []byte("v1"), true); before != 0 {
		t.Fatalf("append=false Size = %d, want 0", before)
	}
	checkContent(t, d, p, []byte("v1"))
	w, err := d.Writer(ctx, p, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("version two")); err != nil {
		t.Fatal(err)
	}
	checkContent(t, d, p, []byte("v1"))
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	checkContent(t, d, p, []byte("version two"))
}
