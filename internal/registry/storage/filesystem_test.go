package storage_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/registry/storage"
	"github.com/strata-dev/strata/internal/registry/storage/storagetest"
)

func newFS(t *testing.T, root string) *storage.Filesystem {
	t.Helper()
	fs, err := storage.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

func TestFilesystemSuite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver { return newFS(t, t.TempDir()) })
}

func blobPath(d digest.Digest) string { return "blobs/" + d.Algorithm().String() + "/" + d.Encoded() }

// TestFilesystemSharesContentStore proves the shared format: blobs written
// by the driver are blobs of internal/content's store on the same root and
// the other way round.
func TestFilesystemSharesContentStore(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	fs := newFS(t, root)
	store, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		t.Fatal(err)
	}

	// Local store -> registry.
	local := storagetest.RandomBytes(1, 200_000)
	info, err := store.Ingest(bytes.NewReader(local), int64(len(local)), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fs.GetContent(ctx, blobPath(info.Digest)); err != nil || !bytes.Equal(got, local) {
		t.Fatalf("driver read of a local blob: %d bytes, %v", len(got), err)
	}
	fi, err := fs.Stat(ctx, blobPath(info.Digest))
	if err != nil || fi.Size != info.Size {
		t.Fatalf("driver stat of a local blob: %+v, %v", fi, err)
	}

	// Registry -> local store, through an upload that is moved into
	// place and through a Writer committed at the blob path.
	pushed := storagetest.RandomBytes(2, 150_000)
	dPushed := digest.FromBytes(pushed)
	storagetest.WriteSession(t, fs, "uploads/u1/data", false, pushed[:50_000], false)
	storagetest.WriteSession(t, fs, "uploads/u1/data", true, pushed[50_000:], true)
	if err := fs.Move(ctx, "uploads/u1/data", blobPath(dPushed)); err != nil {
		t.Fatal(err)
	}
	direct := storagetest.RandomBytes(3, 10_000)
	dDirect := digest.FromBytes(direct)
	storagetest.WriteSession(t, fs, blobPath(dDirect), false, direct, true)
	put := []byte(`{"schemaVersion":2}`)
	dPut := digest.FromBytes(put)
	storagetest.MustPut(t, fs, blobPath(dPut), put)

	for d, want := range map[digest.Digest][]byte{dPushed: pushed, dDirect: direct, dPut: put} {
		got, err := store.ReadAll(d, -1) // verifies the digest
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("local read of registry blob %s: %v", d, err)
		}
		st, err := os.Stat(filepath.Join(root, "content", "blobs", "sha256", d.Encoded()))
		if err != nil || st.Mode().Perm() != 0o444 {
			t.Fatalf("registry blob %s: mode %v, %v; want 0444 like the content store", d, st.Mode(), err)
		}
	}
	seen := map[digest.Digest]bool{}
	if err := store.Walk(func(i content.Info) error { seen[i.Digest] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 4 || !seen[dPushed] || !seen[dDirect] || !seen[dPut] || !seen[info.Digest] {
		t.Fatalf("content store walk saw %v", seen)
	}
	// Nothing partial or foreign lands in the content store's directories.
	for _, dir := range []string{"content/blobs/sha256", "content/ingest"} {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if _, err := digest.Parse("sha256:" + e.Name()); dir == "content/ingest" || err != nil {
				t.Errorf("unexpected entry %s/%s", dir, e.Name())
			}
		}
	}
	list, err := fs.List(ctx, "blobs/sha256")
	if err != nil || len(list) != 4 {
		t.Fatalf("List(blobs/sha256) = %q, %v", list, err)
	}
}

func TestFilesystemLayout(t *testing.T) {
	root := t.TempDir()
	fs := newFS(t, root)
	storagetest.MustPut(t, fs, "repositories/a/b/_manifests/tags/v1/current/link", []byte("sha256:x"))
	got, err := os.ReadFile(filepath.Join(root, "registry/repositories/a/b/_manifests/tags/v1/current/link"))
	if err != nil || string(got) != "sha256:x" {
		t.Fatalf("file not at its place: %q, %v", got, err)
	}
	st, _ := os.Stat(filepath.Join(root, "registry/repositories/a/b/_manifests/tags/v1/current/link"))
	if st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644", st.Mode())
	}
}

// TestFilesystemRestart resumes an upload with a new driver on the same
// root, as after a process restart.
func TestFilesystemRestart(t *testing.T) {
	root := t.TempDir()
	first, err := storage.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	storagetest.WriteSession(t, first, "uploads/r/data", false, []byte("before restart, "), false)
	first.Close()
	second := newFS(t, root)
	if before := storagetest.WriteSession(t, second, "uploads/r/data", true, []byte("after"), true); before != 16 {
		t.Fatalf("resumed Size = %d, want 16", before)
	}
	if got := storagetest.MustGet(t, second, "uploads/r/data"); string(got) != "before restart, after" {
		t.Fatalf("content %q", got)
	}
}

func TestFilesystemSecondWriterRefused(t *testing.T) {
	ctx := context.Background()
	fs := newFS(t, t.TempDir())
	w, err := fs.Writer(ctx, "uploads/busy/data", false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fs.Writer(ctx, "uploads/busy/data", true)
	storagetest.WantErr(t, "second writer", err, errdefs.ErrUnavailable)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w2, err := fs.Writer(ctx, "uploads/busy/data", true)
	if err != nil {
		t.Fatalf("writer after the first closed: %v", err)
	}
	w2.Close()
}

// TestFilesystemDeleteUnderWriter: a Writer whose upload was deleted must
// not resurrect it on Commit.
func TestFilesystemDeleteUnderWriter(t *testing.T) {
	ctx := context.Background()
	fs := newFS(t, t.TempDir())
	w, err := fs.Writer(ctx, "uploads/gone/data", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := fs.Delete(ctx, "uploads/gone"); err != nil {
		t.Fatal(err)
	}
	storagetest.WantErr(t, "commit of a deleted upload", w.Commit(ctx), errdefs.ErrConflict)
	w.Close()
	_, err = fs.Stat(ctx, "uploads/gone/data")
	storagetest.WantErr(t, "stat", err, errdefs.ErrNotFound)
}

// TestFilesystemSymlinkEscape: a symbolic link planted in the tree cannot
// lead the driver outside its root.
func TestFilesystemSymlinkEscape(t *testing.T) {
	ctx := context.Background()
	root, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := newFS(t, root)
	if err := os.Symlink(outside, filepath.Join(root, "registry", "evil")); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.GetContent(ctx, "evil/secret"); err == nil {
		t.Fatal("read through a symlink out of the root")
	}
	if err := fs.PutContent(ctx, "evil/planted", []byte("x")); err == nil {
		t.Fatal("write through a symlink out of the root")
	}
	if err := fs.Move(ctx, "evil/secret", "stolen"); err == nil {
		t.Fatal("move through a symlink out of the root")
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Fatalf("outside directory changed: %v", entries)
	}
}

func TestFilesystemCleansOldTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	newFS(t, root).Close()
	tmp := filepath.Join(root, "registry", ".tmp")
	old, fresh := filepath.Join(tmp, "old"), filepath.Join(tmp, "fresh")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	newFS(t, root)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("old temporary file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("fresh temporary file removed: %v", err)
	}
}
