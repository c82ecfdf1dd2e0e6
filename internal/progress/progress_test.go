package progress

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
)

// fakeClock is a time source the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1700000000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// callRecorder keeps every Write call separately, to check that each line
// is written whole. Display serialises its writes, so it needs no lock.
type callRecorder struct{ calls []string }

func (r *callRecorder) Write(p []byte) (int, error) {
	r.calls = append(r.calls, string(p))
	return len(p), nil
}

func newTest(t *testing.T, mode string, width int) (*Display, *callRecorder, *fakeClock) {
	t.Helper()
	clk := newClock()
	rec := &callRecorder{}
	d, err := newDisplay(rec, mode, false, width, clk.Now, 0)
	if err != nil {
		t.Fatal(err)
	}
	return d, rec, clk
}

func TestPlainScript(t *testing.T) {
	t.Parallel()
	d, rec, clk := newTest(t, "plain", 0)

	d.Notice("# syntax= directive ignored")
	load := d.Vertex("[internal] load build definition from Dockerfile")
	clk.Advance(40 * time.Millisecond)
	load.Done(nil)

	from := d.Vertex("[1/4] FROM busybox")
	from.Cached()

	run := d.Vertex("[2/4] RUN echo hi")
	clk.Advance(152 * time.Millisecond)
	fmt.Fprint(run, "hi\n")
	clk.Advance(148 * time.Millisecond)
	run.Done(nil)

	bad := d.Vertex("[3/4] RUN exit 3")
	clk.Advance(1250 * time.Millisecond)
	bad.Done(errors.New(`process "/bin/sh -c exit 3" did not complete successfully: exit code: 3`))

	exp := d.Vertex("exporting to image")
	exp.Status("writing image sha256:abc done")
	exp.Status("naming to docker.io/library/x:latest done")
	clk.Advance(2 * time.Second)
	exp.Done(nil)
	d.Close()

	want := []string{
		"# syntax= directive ignored\n",
		"#1 [internal] load build definition from Dockerfile\n",
		"#1 DONE 0.0s\n",
		"#2 [1/4] FROM busybox\n",
		"#2 CACHED\n",
		"#3 [2/4] RUN echo hi\n",
		"#3 0.152 hi\n",
		"#3 DONE 0.3s\n",
		"#4 [3/4] RUN exit 3\n",
		"#4 ERROR: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3\n",
		"#5 exporting to image\n",
		"#5 writing image sha256:abc done\n",
		"#5 naming to docker.io/library/x:latest done\n",
		"#5 DONE 2.0s\n",
	}
	if !slices.Equal(rec.calls, want) {
		t.Errorf("plain output:\n%q\nwant:\n%q", rec.calls, want)
	}
}

func TestPartialLine(t *testing.T) {
	t.Parallel()
	d, rec, clk := newTest(t, "plain", 0)
	v := d.Vertex("step")
	fmt.Fprint(v, "hel")
	if len(rec.calls) != 1 {
		t.Fatalf("unfinished line printed: %q", rec.calls)
	}
	clk.Advance(time.Second)
	fmt.Fprint(v, "lo\nwor")
	if got := v.Tail(); !slices.Equal(got, []string{"hello", "wor"}) {
		t.Errorf("Tail = %q, want [hello wor]", got)
	}
	clk.Advance(500 * time.Millisecond)
	v.Done(nil)
	want := []string{"#1 step\n", "#1 1.000 hello\n", "#1 1.500 wor\n", "#1 DONE 1.5s\n"}
	if !slices.Equal(rec.calls, want) {
		t.Errorf("output %q, want %q", rec.calls, want)
	}
}

// plainLines writes the chunks to one vertex and returns the output lines
// it printed, without their "#1 0.000 " prefixes.
func plainLines(t testing.TB, chunks ...[]byte) []string {
	t.Helper()
	rec := &callRecorder{}
	clk := newClock()
	d, err := newDisplay(rec, "plain", false, 0, clk.Now, 0)
	if err != nil {
		t.Fatal(err)
	}
	v := d.Vertex("v")
	for _, c := range chunks {
		if n, err := v.Write(c); n != len(c) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	v.Done(nil)
	var lines []string
	for _, c := range rec.calls[1 : len(rec.calls)-1] {
		line, ok := strings.CutPrefix(c, "#1 0.000 ")
		if !ok || !strings.HasSuffix(line, "\n") {
			t.Fatalf("malformed line %q", c)
		}
		lines = append(lines, strings.TrimSuffix(line, "\n"))
	}
	return lines
}

func TestLineEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"a\nb\n", []string{"a", "b"}},
		{"a\nb", []string{"a", "b"}},
		{"a\rb\n", []string{"a", "b"}},
		{"a\r\nb\r\n", []string{"a", "b"}},
		{"10%\r50%\r100%\r\ndone\n", []string{"10%", "50%", "100%", "done"}},
		{"\r\r\n", nil},
		{"\n\n", []string{"", ""}},
		{"x\r\n\ny", []string{"x", "", "y"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := plainLines(t, []byte(tt.in)); !slices.Equal(got, tt.want) {
			t.Errorf("%q: lines %q, want %q", tt.in, got, tt.want)
		}
		// Any split into two writes, "\r" | "\n" included, gives the same lines.
		for i := range len(tt.in) {
			if got := plainLines(t, []byte(tt.in[:i]), []byte(tt.in[i:])); !slices.Equal(got, tt.want) {
				t.Errorf("%q split at %d: lines %q, want %q", tt.in, i, got, tt.want)
			}
		}
	}
}

func TestLongLineIsCut(t *testing.T) {
	t.Parallel()
	long := bytes.Repeat([]byte("x"), maxLineLen+10)
	got := plainLines(t, long[:100], long[100:], []byte("\n"))
	if len(got) != 2 || len(got[0]) != maxLineLen || len(got[1]) != 10 {
		t.Errorf("got %d lines (first %d bytes), want cut at %d", len(got), len(got[0]), maxLineLen)
	}
}

func TestTailKeepsLastTen(t *testing.T) {
	t.Parallel()
	d, _, _ := newTest(t, "plain", 0)
	v := d.Vertex("v")
	for i := range 25 {
		fmt.Fprintf(v, "line %d\n", i)
	}
	fmt.Fprint(v, "partial")
	want := []string{"line 16", "line 17", "line 18", "line 19", "line 20", "line 21", "line 22", "line 23", "line 24", "partial"}
	if got := v.Tail(); !slices.Equal(got, want) {
		t.Errorf("Tail = %q, want %q", got, want)
	}
	v.Done(errors.New("boom")) // the partial line becomes a full one
	if got := v.Tail(); !slices.Equal(got, want) {
		t.Errorf("Tail after Done = %q, want %q", got, want)
	}
}

func TestQuiet(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	d, err := New(&buf, "quiet", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	d.Notice("warning")
	v := d.Vertex("[1/1] RUN false")
	fmt.Fprint(v, "out 1\nout 2\r\nout 3")
	v.Status("status")
	v.Done(errors.New("exit code: 1"))
	d.Close()
	if buf.Len() != 0 {
		t.Errorf("quiet display wrote %q", buf.String())
	}
	if got, want := v.Tail(), []string{"out 1", "out 2", "out 3"}; !slices.Equal(got, want) {
		t.Errorf("Tail = %q, want %q", got, want)
	}
}

func TestModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		isTTY bool
		want  mode
	}{
		{"auto", false, modePlain},
		{"auto", true, modeTTY},
		{"plain", true, modePlain},
		{"tty", false, modeTTY},
		{"quiet", true, modeQuiet},
	}
	for _, tt := range tests {
		d, err := New(&bytes.Buffer{}, tt.name, tt.isTTY, 0)
		if err != nil {
			t.Fatalf("New(%q): %v", tt.name, err)
		}
		if d.mode != tt.want || d.width != defaultWidth {
			t.Errorf("New(%q, %v): mode %d width %d, want mode %d width %d", tt.name, tt.isTTY, d.mode, d.width, tt.want, defaultWidth)
		}
		d.Close()
	}

	_, err := New(&bytes.Buffer{}, "fancy", true, 0)
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("New(fancy) error %v, want invalid argument", err)
	}
	if want := `invalid progress mode "fancy": use auto, plain, tty or quiet`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestIdempotentEnd(t *testing.T) {
	t.Parallel()
	d, rec, _ := newTest(t, "plain", 0)
	v := d.Vertex("v")
	v.Done(nil)
	v.Done(errors.New("late"))
	v.Cached()
	if n, err := v.Write([]byte("ignored\n")); n != 8 || err != nil {
		t.Errorf("Write after Done = %d, %v; want 8, nil", n, err)
	}
	v.Status("ignored")
	c := d.Vertex("c")
	c.Cached()
	c.Done(nil)
	d.Close()
	d.Close()
	d.Notice("after close")
	want := []string{"#1 v\n", "#1 DONE 0.0s\n", "#2 c\n", "#2 CACHED\n"}
	if !slices.Equal(rec.calls, want) {
		t.Errorf("output %q, want %q", rec.calls, want)
	}
	if len(v.Tail()) != 0 {
		t.Errorf("output after Done kept: %q", v.Tail())
	}
}

func TestCloseFlushes(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	d, err := New(bw, "plain", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	d.Vertex("v").Done(nil)
	if buf.Len() != 0 {
		t.Fatal("bufio.Writer flushed early; test cannot tell")
	}
	d.Close()
	if !strings.HasPrefix(buf.String(), "#1 v\n#1 DONE ") {
		t.Errorf("after Close: %q", buf.String())
	}
}

var (
	plainStart   = regexp.MustCompile(`^#(\d+) job (\d+)\n$`)
	plainLogLine = regexp.MustCompile(`^#(\d+) \d+\.\d{3} job (\d+) line (\d+) x+\n$`)
	plainEnd     = regexp.MustCompile(`^#\d+ (finishing|DONE \d+\.\ds)\n$`)
)

func TestConcurrentPlain(t *testing.T) {
	t.Parallel()
	const jobs, lines = 16, 300
	rec := &callRecorder{}
	d, err := New(rec, "plain", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range jobs {
		wg.Go(func() {
			v := d.Vertex("job " + strconv.Itoa(g))
			var out []byte
			for i := range lines {
				out = fmt.Appendf(out, "job %d line %d %s\n", g, i, strings.Repeat("x", 1+i%40))
			}
			// Write in uneven chunks that split lines anywhere.
			for len(out) > 0 {
				n := min(len(out), 1+(len(out)*7+g)%97)
				v.Write(out[:n])
				out = out[n:]
			}
			v.Status("finishing")
			d.Notice("notice from " + strconv.Itoa(g))
			v.Done(nil)
		})
	}
	wg.Wait()
	d.Close()

	idOf := map[string]int{} // "N" -> job
	next := make([]int, jobs)
	for _, c := range rec.calls {
		if strings.HasPrefix(c, "notice from ") {
			continue
		}
		if m := plainLogLine.FindStringSubmatch(c); m != nil {
			g, _ := strconv.Atoi(m[2])
			i, _ := strconv.Atoi(m[3])
			if job, ok := idOf[m[1]]; !ok || job != g {
				t.Fatalf("line %q printed under the wrong vertex", c)
			}
			if i != next[g] {
				t.Fatalf("job %d: line %d, want %d", g, i, next[g])
			}
			next[g]++
			continue
		}
		if m := plainStart.FindStringSubmatch(c); m != nil {
			idOf[m[1]], _ = strconv.Atoi(m[2])
			continue
		}
		if !plainEnd.MatchString(c) {
			t.Fatalf("unexpected write %q", c)
		}
	}
	for g, n := range next {
		if n != lines {
			t.Errorf("job %d: %d lines printed, want %d", g, n, lines)
		}
	}
}

func TestLastLinesCounts(t *testing.T) {
	t.Parallel()
	d, _, _ := newTest(t, "quiet", 0)
	v := d.Vertex("v")
	fmt.Fprint(v, "a\nb\nc")
	for n, want := range [][]string{nil, {"c"}, {"b", "c"}, {"a", "b", "c"}, {"a", "b", "c"}} {
		d.mu.Lock()
		got := v.lastLines(n)
		d.mu.Unlock()
		if !slices.Equal(got, want) {
			t.Errorf("lastLines(%d) = %q, want %q", n, got, want)
		}
	}
}
