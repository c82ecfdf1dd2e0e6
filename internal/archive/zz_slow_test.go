package archive

import (
	"bytes"
	"math/rand"
	"os"
	"testing"
	"time"
)

func TestZZSlow(t *testing.T) {
	raw, _ := layerOf(t, 3000, 700)
	small := makeTar(t, dir("d/"), file("d/a", "x"), symlink("l", "/etc"))
	seeds := [][]byte{raw, small, compress(t, Gzip, small), compress(t, Zstd, small), compress(t, Xz, small)}
	rng := rand.New(rand.NewSource(1))
	var worst time.Duration
	var worstIn []byte
	start := time.Now()
	n := 0
	for time.Since(start) < 15*time.Second {
		in := bytes.Clone(seeds[rng.Intn(len(seeds))])
		for k := rng.Intn(8) + 1; k > 0; k-- {
			i := rng.Intn(len(in))
			switch rng.Intn(3) {
			case 0:
				in[i] = byte(rng.Intn(256))
			case 1:
				in = in[:i]
			case 2:
				in[i] ^= 1 << rng.Intn(8)
			}
			if len(in) == 0 {
				break
			}
		}
		t0 := time.Now()
		Scan(bytes.NewReader(in), nil, Limits{MaxSize: fuzzLimit, MaxEntries: 10000})
		n++
		if d := time.Since(t0); d > worst {
			worst, worstIn = d, in
		}
	}
	os.WriteFile("/tmp/slow.bin", worstIn, 0o644)
	t.Logf("%d execs, worst %v (%d bytes, head %x)", n, worst, len(worstIn), worstIn[:min(16, len(worstIn))])
}

func TestZZOne(t *testing.T) {
	in, _ := os.ReadFile("/tmp/slow.bin")
	t0 := time.Now()
	_, err := Scan(bytes.NewReader(in), nil, Limits{MaxSize: fuzzLimit})
	t.Logf("%v %v", time.Since(t0), err)
}
