package content

import (
	"bytes"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"
)

func BenchmarkIngest64MiB(b *testing.B) {
	data := testData(7, 64<<20)
	d := digest.FromBytes(data)
	cases := []struct {
		name   string
		reader func() io.Reader
		size   int64
		want   digest.Digest
	}{
		// Known size and digest: the registry pull path (1 MiB copy buffer).
		{"verified", func() io.Reader { return bytes.NewReader(data) }, int64(len(data)), d},
		// Unknown size and digest: a bytes.Reader hands over one slice, no copy.
		{"unverified", func() io.Reader { return bytes.NewReader(data) }, -1, ""},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := newStore(b)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := s.Ingest(c.reader(), c.size, c.want); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Delete(d); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

func BenchmarkSHA256(b *testing.B) {
	data := testData(8, 64<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		digest.FromBytes(data)
	}
}
