package format

import (
	"testing"
	"time"
)

func TestHumanSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{34, "34B"},
		{999, "999B"},
		{1000, "1kB"},
		{1120, "1.12kB"},
		{1125, "1.12kB"}, // 1.125 is exactly representable; %g rounds half to even
		{1126, "1.13kB"},
		{13200, "13.2kB"},
		{13250, "13.2kB"},
		{99_949, "99.9kB"},
		{99_950, "100kB"},
		{999_499, "999kB"},
		{999_500, "1MB"}, // Docker: "1e+03kB"
		{1_000_000, "1MB"},
		{4_264_000, "4.26MB"},
		{69_200_000, "69.2MB"},
		{584_000_000, "584MB"},
		{1_000_000_000, "1GB"},
		{1_500_000_000_000, "1.5TB"},
		{2_000_000_000_000_000, "2PB"},
		{9_223_372_036_854_775_807, "9.22EB"},
		{-13200, "-13.2kB"},
	}
	for _, tt := range tests {
		if got := HumanSize(tt.in); got != tt.want {
			t.Errorf("HumanSize(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBytesSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0B"},
		{1023, "1023B"},
		{1024, "1KiB"},
		{1536, "1.5KiB"},
		{1024*1024 - 1, "1024KiB"},
		{1024 * 1024, "1MiB"},
		{3 * 1024 * 1024 * 1024 / 2, "1.5GiB"},
		{1 << 40, "1TiB"},
		{1 << 50, "1PiB"},
		{1 << 60, "1EiB"},
		{1234567, "1.177MiB"},
	}
	for _, tt := range tests {
		if got := BytesSize(tt.in); got != tt.want {
			t.Errorf("BytesSize(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	tests := []struct {
		in   time.Duration
		want string
	}{
		{-time.Hour, "Less than a second"},
		{0, "Less than a second"},
		{999 * time.Millisecond, "Less than a second"},
		{time.Second, "1 second"},
		{1999 * time.Millisecond, "1 second"},
		{2 * time.Second, "2 seconds"},
		{59 * time.Second, "59 seconds"},
		{60 * time.Second, "About a minute"},
		{119 * time.Second, "About a minute"},
		{2 * time.Minute, "2 minutes"},
		{59 * time.Minute, "59 minutes"},
		{60 * time.Minute, "About an hour"},
		{89 * time.Minute, "About an hour"},
		{90 * time.Minute, "2 hours"},
		{47 * time.Hour, "47 hours"},
		{47*time.Hour + 29*time.Minute, "47 hours"},
		{47*time.Hour + 30*time.Minute, "2 days"},
		{13 * day, "13 days"},
		{14*day - time.Hour, "13 days"},
		{14 * day, "2 weeks"},
		{59 * day, "8 weeks"},
		{60 * day, "2 months"},
		{729 * day, "24 months"},
		{730 * day, "2 years"},
		{3650 * day, "10 years"},
	}
	for _, tt := range tests {
		if got := HumanDuration(tt.in); got != tt.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAgo(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	if got := Ago(now.Add(-3*7*24*time.Hour), now); got != "3 weeks ago" {
		t.Fatalf("Ago = %q", got)
	}
	if got := Ago(now.Add(time.Minute), now); got != "Less than a second ago" {
		t.Fatalf("Ago(future) = %q", got)
	}
}

func TestTruncateID(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa", "7cc4b5aefd1d"},
		{"7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa", "7cc4b5aefd1d"},
		{"sha512:abc", "abc"},
		{"abc", "abc"},
		{"", ""},
		{"7cc4b5aefd1d", "7cc4b5aefd1d"},
	}
	for _, tt := range tests {
		if got := TruncateID(tt.in); got != tt.want {
			t.Errorf("TruncateID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEllipsis(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 5, "hello"},
		{"hello", 4, "hel…"},
		{"hello", 2, "h…"},
		{"hello", 1, "h"},
		{"hello", 0, ""},
		{"hello", -1, ""},
		{"", 1, ""},
		{"", 5, ""},
		{"héllo wörld", 6, "héllo…"},
		{"日本語テキスト", 4, "日本語…"},
		{"日本語", 1, "日"},
	}
	for _, tt := range tests {
		if got := Ellipsis(tt.in, tt.max); got != tt.want {
			t.Errorf("Ellipsis(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestHumanSizePrecise(t *testing.T) {
	for in, want := range map[int64]string{0: "0B", 2134000: "2.134MB", 999: "999B", 1000: "1kB", 12345678: "12.35MB"} {
		if got := HumanSizePrecise(in); got != want {
			t.Errorf("HumanSizePrecise(%d) = %q, want %q", in, got, want)
		}
	}
}
