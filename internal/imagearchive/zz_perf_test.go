package imagearchive

import (
	"archive/tar"
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPerfZZ(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	r := rand.New(rand.NewSource(1))
	data := make([]byte, 8<<20)
	for i := 0; i < 32; i++ {
		r.Read(data)
		tw.WriteHeader(&tar.Header{Name: "f" + string(rune('a'+i)), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.Close()
	layer := buf.Bytes()
	s := newStore(t)
	addImage(t, s, "big", []string{"big:1"}, layer)
	out := filepath.Join(t.TempDir(), "out.tar")
	f, _ := os.Create(out)
	st := time.Now()
	if err := Save(context.Background(), s.Store, f, []string{"big:1"}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Logf("save %d MiB to file: %v", len(layer)>>20, time.Since(st))
	st = time.Now()
	var sink bytes.Buffer
	sink.Grow(300 << 20)
	Save(context.Background(), s.Store, &sink, []string{"big:1"})
	t.Logf("save to buffer: %v", time.Since(st))
	s2 := newStore(t)
	f, _ = os.Open(out)
	st = time.Now()
	if _, err := Load(context.Background(), s2.Store, f, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("load: %v", time.Since(st))
	f.Seek(0, 0)
	st = time.Now()
	if _, err := Load(context.Background(), s2.Store, f, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("load again (blobs present): %v", time.Since(st))
}
