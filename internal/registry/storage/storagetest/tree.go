package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/registry/storage"
)

func testStat(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	MustPut(t, d, "s/dir/file", []byte("12345"))
	fi, err := d.Stat(ctx, "s/dir/file")
	if err != nil || fi.IsDir || fi.Size != 5 || fi.Path != "s/dir/file" || fi.ModTime.IsZero() {
		t.Fatalf("Stat(file) = %+v, %v", fi, err)
	}
	for _, dir := range []string{"s", "s/dir"} {
		fi, err := d.Stat(ctx, dir)
		if err != nil || !fi.IsDir || fi.Path != dir {
			t.Fatalf("Stat(%s) = %+v, %v", dir, fi, err)
		}
	}
	_, err = d.Stat(ctx, "s/dir/nope")
	WantErr(t, "stat missing", err, errdefs.ErrNotFound)
	_, err = d.Stat(ctx, "s/dir/file/below")
	WantErr(t, "stat below a file", err, errdefs.ErrNotFound)
}

func testList(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	for _, p := range []string{"l/b/c", "l/b/a", "l/b/d/e", "l/b/d/f", "l/b/B", "l/bb/x"} {
		MustPut(t, d, p, []byte(p))
	}
	got, err := d.List(ctx, "l/b")
	want := []string{"l/b/B", "l/b/a", "l/b/c", "l/b/d"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("List(l/b) = %q, %v; want %q", got, err, want)
	}
	_, err = d.List(ctx, "l/missing")
	WantErr(t, "list missing", err, errdefs.ErrNotFound)
	_, err = d.List(ctx, "l/b/c")
	WantErr(t, "list a file", err, errdefs.ErrNotFound)
}

func testMove(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	MustPut(t, d, "m/src", []byte("source"))
	MustPut(t, d, "m/dest", []byte("old destination"))
	if err := d.Move(ctx, "m/src", "m/dest"); err != nil {
		t.Fatal(err)
	}
	checkContent(t, d, "m/dest", []byte("source"))
	_, err := d.Stat(ctx, "m/src")
	WantErr(t, "stat moved source", err, errdefs.ErrNotFound)
	// Into a new directory, and into blobs/ as a finished upload would.
	data := RandomBytes(5, 50_000)
	WriteSession(t, d, "uploads/mv/data", false, data, true)
	if err := d.Move(ctx, "uploads/mv/data", Blob); err != nil {
		t.Fatal(err)
	}
	checkContent(t, d, Blob, data)
	err = d.Move(ctx, "m/none", "m/other")
	WantErr(t, "move missing", err, errdefs.ErrNotFound)
}

func testDelete(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	for _, p := range []string{"d/a/x", "d/a/y/z", "d/b"} {
		MustPut(t, d, p, []byte(p))
	}
	WriteSession(t, d, "d/a/y/w", false, []byte("pending"), false)
	if err := d.Delete(ctx, "d/a"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"d/a", "d/a/x", "d/a/y/z"} {
		_, err := d.Stat(ctx, p)
		WantErr(t, "stat "+p+" after delete", err, errdefs.ErrNotFound)
	}
	if n := PendingSize(t, d, "d/a/y/w"); n != 0 {
		t.Fatalf("pending content survived Delete: %d bytes", n)
	}
	checkContent(t, d, "d/b", []byte("d/b"))
	if err := d.Delete(ctx, "d/b"); err != nil {
		t.Fatal(err)
	}
	_, err := d.Stat(ctx, "d/b")
	WantErr(t, "stat deleted file", err, errdefs.ErrNotFound)
	WantErr(t, "delete missing", d.Delete(ctx, "d/none"), errdefs.ErrNotFound)
}

func testInvalidPaths(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	for _, p := range BadPaths {
		calls := map[string]error{}
		_, calls["GetContent"] = d.GetContent(ctx, p)
		calls["PutContent"] = d.PutContent(ctx, p, []byte("x"))
		_, calls["Reader"] = d.Reader(ctx, p, 0)
		_, calls["Writer"] = d.Writer(ctx, p, false)
		_, calls["Stat"] = d.Stat(ctx, p)
		_, calls["List"] = d.List(ctx, p)
		calls["Move from"] = d.Move(ctx, p, "ok")
		calls["Move to"] = d.Move(ctx, "ok", p)
		calls["Delete"] = d.Delete(ctx, p)
		for name, err := range calls {
			WantErr(t, fmt.Sprintf("%s(%q)", name, p), err, errdefs.ErrInvalidArgument)
		}
	}
}

func testConcurrent(t *testing.T, d storage.Driver) {
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = concurrentWork(d, i)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}
}

// concurrentWork writes a file in two Writer sessions and a small file,
// then reads both back.
func concurrentWork(d storage.Driver, i int) error {
	ctx := context.Background()
	p := fmt.Sprintf("c/%d/data", i)
	data := RandomBytes(uint64(100+i), 80_000+i)
	for s, part := range [][]byte{data[:30_000], data[30_000:]} {
		w, err := d.Writer(ctx, p, s > 0)
		if err != nil {
			return err
		}
		if _, err := w.Write(part); err != nil {
			return err
		}
		if s == 1 {
			if err := w.Commit(ctx); err != nil {
				return err
			}
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	small := fmt.Sprintf("c/%d/link", i)
	if err := d.PutContent(ctx, small, []byte(p)); err != nil {
		return err
	}
	for path, want := range map[string][]byte{p: data, small: []byte(p)} {
		got, err := d.GetContent(ctx, path)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s: read %d bytes, want %d", path, len(got), len(want))
		}
	}
	return nil
}
