package registry

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkPutBlob measures a monolithic POST+PUT of a 64 MiB blob through
// the handler (hash, write, fsync, move, link), without the network.
func BenchmarkPutBlob(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	d := sha256Of(data)
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			srv, err := New(Config{Storage: be.new(b)})
			if err != nil {
				b.Fatal(err)
			}
			h := srv.Handler()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("POST", "/v2/bench/blobs/uploads/", nil))
				loc := rec.Header().Get("Location")
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("PUT", loc+"?digest="+d.String(), bytes.NewReader(data)))
				if rec.Code != http.StatusCreated {
					b.Fatal(rec.Code, rec.Body.String())
				}
				b.StopTimer()
				srv.store.d.Delete(b.Context(), blobPath(d))
				b.StartTimer()
			}
		})
	}
}

// BenchmarkGetBlob measures serving a 64 MiB blob over loopback HTTP.
func BenchmarkGetBlob(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			e := newEnv(b, be.new(b), Config{})
			d := e.pushBlob("bench", data)
			url := e.ts.URL + "/v2/bench/blobs/" + d.String()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				res, err := e.ts.Client().Get(url)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if n != int64(len(data)) {
					b.Fatal(n)
				}
			}
		})
	}
}
