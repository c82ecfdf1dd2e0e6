package testbin

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestSyncBuffer(t *testing.T) {
	t.Parallel()
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprint(&b, "xy")
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("xy", 800) {
		t.Errorf("got %d bytes, want 1600 of xy pairs", len(got))
	}
}

func TestFreePort(t *testing.T) {
	t.Parallel()
	port := FreePort(t, "127.0.0.1")
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("port %d is not free: %v", port, err)
	}
	ln.Close()
}

func TestWriteFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "a", "b", "f")
	if got := WriteFile(t, p, "body"); got != p {
		t.Errorf("WriteFile returned %q, want %q", got, p)
	}
	data, err := os.ReadFile(p)
	if err != nil || string(data) != "body" {
		t.Errorf("%s holds %q, %v", p, data, err)
	}
}

func TestLines(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{"": nil, "\n\n": nil, "a": {"a"}, "a\nb\n": {"a", "b"}, "a\n\nb": {"a", "", "b"}}
	for in, want := range cases {
		if got := Lines(in); !slices.Equal(got, want) {
			t.Errorf("Lines(%q) = %q, want %q", in, got, want)
		}
	}
}

// recorder is a testing.TB that keeps the errors reported to it.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestWant(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		check func(testing.TB)
		want  []string
	}{
		{"eq", func(tb testing.TB) { WantEq(tb, "v", "a", "a") }, nil},
		{"not eq", func(tb testing.TB) { WantEq(tb, "v", "a", "b") }, []string{"v:\n got: \"a\"\nwant: \"b\""}},
		{"contains", func(tb testing.TB) { WantContains(tb, "v", "abc", "a", "bc") }, nil},
		{"lacks", func(tb testing.TB) { WantContains(tb, "v", "abc", "x", "b", "y") },
			[]string{`v: "abc" does not contain "x"`, `v: "abc" does not contain "y"`}},
		{"not contains", func(tb testing.TB) { WantNotContains(tb, "v", "abc", "x") }, nil},
		{"has", func(tb testing.TB) { WantNotContains(tb, "v", "abc", "c", "x") }, []string{`v: "abc" contains "c"`}},
	}
	for _, c := range cases {
		r := &recorder{TB: t}
		c.check(r)
		if !slices.Equal(r.errs, c.want) {
			t.Errorf("%s: reported %q, want %q", c.name, r.errs, c.want)
		}
	}
}
