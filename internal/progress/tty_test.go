package progress

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

var cursorUp = regexp.MustCompile(`^\x1b\[(\d+)A`)

// parseFrame splits one tty render into the cursor-up count and its lines,
// checking the escape sequences around them.
func parseFrame(t *testing.T, call string) (up int, lines []string) {
	t.Helper()
	if m := cursorUp.FindStringSubmatch(call); m != nil {
		up, _ = strconv.Atoi(m[1])
		call = call[len(m[0]):]
	}
	body, ok := strings.CutSuffix(call, "\x1b[J")
	if !ok {
		t.Fatalf("frame does not clear below: %q", call)
	}
	for line := range strings.Lines(body) {
		l, ok := strings.CutPrefix(line, "\x1b[2K")
		if !ok || !strings.HasSuffix(l, "\n") {
			t.Fatalf("line not cleared and ended: %q", line)
		}
		lines = append(lines, strings.TrimSuffix(l, "\n"))
	}
	return up, lines
}

func checkLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTTYFrames(t *testing.T) {
	t.Parallel()
	d, rec, clk := newTest(t, "tty", 60)
	from := d.Vertex("[1/4] FROM docker.io/library/busybox:latest")
	from.Cached()
	run := d.Vertex("[2/4] RUN apt-get update && apt-get install -y build-essential curl git")
	for i := range 8 {
		fmt.Fprintf(run, "Get:%d http://deb.debian.org\tbookworm \x1b[31mInRelease\x1b[0m\n", i)
	}
	bad := d.Vertex("[3/4] RUN false")
	fmt.Fprint(bad, "oops\n")
	clk.Advance(100 * time.Millisecond)
	bad.Done(errors.New("exit 1"))
	clk.Advance(3200 * time.Millisecond)

	d.render(false)
	up, lines := parseFrame(t, rec.calls[0])
	if up != 0 {
		t.Errorf("first frame moves up %d lines", up)
	}
	live := []string{
		"[+] Building 3.3s (2/3)",
		" => CACHED [1/4] FROM docker.io/library/busybox:latest 0.0s",
		" => [2/4] RUN apt-get update && apt-get install -y bui 3.3s",
		" => => # Get:2 http://deb.debian.org    bookworm InRelease",
		" => => # Get:3 http://deb.debian.org    bookworm InRelease",
		" => => # Get:4 http://deb.debian.org    bookworm InRelease",
		" => => # Get:5 http://deb.debian.org    bookworm InRelease",
		" => => # Get:6 http://deb.debian.org    bookworm InRelease",
		" => => # Get:7 http://deb.debian.org    bookworm InRelease",
		" => ERROR [3/4] RUN false                              0.1s",
	}
	checkLines(t, "live frame", lines, live)

	// A notice goes above the frame and is not redrawn: the next frame
	// moves up over the frame only.
	d.Notice("WARNING: first\nsecond line")
	d.render(false)
	up, lines = parseFrame(t, rec.calls[1])
	if up != len(live) {
		t.Errorf("second frame moves up %d lines, want %d", up, len(live))
	}
	checkLines(t, "frame with notice", lines, append([]string{"WARNING: first", "second line"}, live...))
	d.render(false)
	up, lines = parseFrame(t, rec.calls[2])
	if up != len(live) {
		t.Errorf("third frame moves up %d lines, want %d", up, len(live))
	}
	checkLines(t, "frame after notice", lines, live)

	run.Status("exporting layers")
	clk.Advance(time.Second)
	run.Done(nil)
	d.Close()
	d.Close()
	if len(rec.calls) != 4 {
		t.Fatalf("%d writes, want 4 (Close draws one final frame)", len(rec.calls))
	}
	up, lines = parseFrame(t, rec.calls[3])
	if up != len(live) {
		t.Errorf("final frame moves up %d lines, want %d", up, len(live))
	}
	checkLines(t, "final frame", lines, []string{
		"[+] Building 4.3s (3/3) FINISHED",
		" => CACHED [1/4] FROM docker.io/library/busybox:latest 0.0s",
		" => [2/4] RUN apt-get update && apt-get install -y bui 4.3s",
		" => => exporting layers",
		" => ERROR [3/4] RUN false                              0.1s",
		" => => # oops",
	})
}

func TestTTYFitsWidth(t *testing.T) {
	t.Parallel()
	d, rec, _ := newTest(t, "tty", 1) // clamped to minWidth
	v := d.Vertex(strings.Repeat("é", 100))
	fmt.Fprint(v, strings.Repeat("ü", 100)+"\n")
	v.Status(strings.Repeat("s", 100))
	d.render(false)
	_, lines := parseFrame(t, rec.calls[0])
	if len(lines) != 4 {
		t.Fatalf("frame %q, want header, vertex, status and log line", lines)
	}
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > minWidth-1 {
			t.Errorf("line %q is %d wide, want at most %d", l, n, minWidth-1)
		}
	}
	if !strings.HasSuffix(lines[1], "é 0.0s") {
		t.Errorf("vertex line %q lost its time", lines[1])
	}
}

func TestTTYCompactsManyVertices(t *testing.T) {
	t.Parallel()
	d, rec, _ := newTest(t, "tty", 80)
	var running []string
	for i := range 30 {
		name := "step " + strconv.Itoa(i)
		v := d.Vertex(name)
		if i%6 == 0 {
			fmt.Fprintf(v, "output of %d\n", i)
			running = append(running, name)
		} else {
			v.Done(nil)
		}
	}
	d.render(false)
	_, lines := parseFrame(t, rec.calls[0])
	var shown []string
	logs := 0
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, logPrefix) {
			logs++
			continue
		}
		shown = append(shown, strings.Fields(l)[1]+" "+strings.Fields(l)[2])
	}
	if len(shown) != maxVertexLines || logs != len(running) {
		t.Fatalf("live frame shows %d vertices and %d log lines, want %d and %d", len(shown), logs, maxVertexLines, len(running))
	}
	// The running ones, then the latest finished ones fill the frame.
	for _, name := range running {
		if !strings.Contains(strings.Join(shown, ","), name+",") {
			t.Errorf("running %q not shown in %q", name, shown)
		}
	}
	if shown[len(shown)-1] != "step 29" || shown[0] != "step 0" {
		t.Errorf("live frame shows %q", shown)
	}

	d.Close()
	_, lines = parseFrame(t, rec.calls[1])
	if len(lines) != 31 {
		t.Errorf("final frame has %d lines, want header and all 30 vertices", len(lines))
	}
}

func TestTTYConcurrentWithTicker(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		out strings.Builder
	)
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	})
	d, err := newDisplay(w, "tty", true, 100, time.Now, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			v := d.Vertex("job " + strconv.Itoa(g))
			for i := range 50 {
				fmt.Fprintf(v, "job %d line %d\n", g, i)
				if i%10 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			d.Notice("notice " + strconv.Itoa(g))
			v.Done(nil)
		})
	}
	wg.Wait()
	var closers sync.WaitGroup
	for range 2 {
		closers.Go(d.Close)
	}
	closers.Wait()

	mu.Lock()
	defer mu.Unlock()
	s := out.String()
	final := s[strings.LastIndex(s, "[+] Building"):]
	if !strings.Contains(final, "(8/8) FINISHED") || strings.Contains(final, logPrefix) {
		t.Errorf("final frame:\n%s", final)
	}
	for g := range 8 {
		if !strings.Contains(s, "\x1b[2Knotice "+strconv.Itoa(g)+"\n") {
			t.Errorf("notice %d missing", g)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestSanitize(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"\x1b[31mred\x1b[0m", "red"},
		{"a\tb", "a    b"},
		{"\x1b]0;title\x07after", "after"},
		{"\x1b]8;;http://x\x1b\\link", "link"},
		{"bell\x07 nul\x00", "bell nul"},
		{"bad \xff utf8", "bad ? utf8"},
		{"csi \u009b31m", "csi 31m"},
		{"日本語", "日本語"},
		{"trailing \x1b[", "trailing "},
	}
	for _, tt := range tests {
		if got := sanitize(tt.in); got != tt.want {
			t.Errorf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"a\x1b[1;2Hb", "\x1b]0;t\x07", "\t\r\n", "\xc2\x9b", "\x1b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := sanitize(s)
		if !isPrintable(got) || !utf8.ValidString(got) {
			t.Fatalf("sanitize(%q) = %q keeps control characters", s, got)
		}
		if isPrintable(s) && got != s {
			t.Fatalf("sanitize changed printable %q to %q", s, got)
		}
	})
}

// FuzzWrite checks the line splitter: however the output is cut into
// writes, the same lines come out, none holds a line end, and together they
// hold every other byte.
func FuzzWrite(f *testing.F) {
	for _, s := range []string{"a\nb", "a\r\nb\r", "\r\r\n\n", "x\ry\rz\n", ""} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		whole := plainLines(t, data)
		var chunks [][]byte
		n := int(step%16) + 1
		for rest := data; len(rest) > 0; rest = rest[min(n, len(rest)):] {
			chunks = append(chunks, rest[:min(n, len(rest))])
		}
		split := plainLines(t, chunks...)
		if strings.Join(whole, "\n") != strings.Join(split, "\n") || len(whole) != len(split) {
			t.Fatalf("one write gives %q, writes of %d give %q", whole, n, split)
		}
		var kept []byte
		for _, b := range data {
			if b != '\r' && b != '\n' {
				kept = append(kept, b)
			}
		}
		if joined := strings.Join(whole, ""); joined != string(kept) || strings.ContainsAny(joined, "\r\n") {
			t.Fatalf("lines %q do not hold the output %q", whole, data)
		}
	})
}
