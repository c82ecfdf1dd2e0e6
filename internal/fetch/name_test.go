package fetch

import (
	"net/url"
	"strings"
	"testing"
)

func TestFileName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		disposition, url, want string
	}{
		{"", "https://example.com/a/b/file.tar.gz", "file.tar.gz"},
		{"", "https://example.com/a/dir/", "dir"},
		{"", "https://example.com/", "download"},
		{"", "https://example.com", "download"},
		{"", "https://example.com/x%20y.txt?q=1#frag", "x y.txt"},
		{"", "https://example.com/a%2F..%2F..", "download"},
		{`attachment; filename="report.pdf"`, "https://example.com/get?id=7", "report.pdf"},
		{`attachment; filename*=UTF-8''na%C3%AFve.txt`, "https://example.com/get", "naïve.txt"},
		{`attachment; filename="../../x"`, "https://example.com/f.bin", "f.bin"},
		{`attachment; filename="/etc/passwd"`, "https://example.com/f.bin", "f.bin"},
		{`attachment; filename=".."`, "https://example.com/", "download"},
		{`attachment; filename="a\\b"`, "https://example.com/f", "f"},
		{`attachment; filename=""`, "https://example.com/f", "f"},
		{`attachment; filename="a%00b"`, "https://example.com/f", "a%00b"},
		{`attachment; filename*=UTF-8''a%00b`, "https://example.com/f", "f"},
		{`attachment; filename*=UTF-8''a%0Ab`, "https://example.com/f", "f"},
		{`attachment; filename="` + strings.Repeat("n", 256) + `"`, "https://example.com/f", "f"},
		{`garbage;;;`, "https://example.com/f", "f"},
		{`inline`, "https://example.com/f", "f"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := fileName(tt.disposition, u); got != tt.want {
			t.Errorf("fileName(%q, %s) = %q, want %q", tt.disposition, tt.url, got, tt.want)
		}
	}
	if got := fileName("", nil); got != "download" {
		t.Errorf("fileName without URL = %q", got)
	}
}

// FuzzFileName checks that whatever a server sends, the name is one safe
// path element.
func FuzzFileName(f *testing.F) {
	f.Add(`attachment; filename="../../x"`, "/a/b")
	f.Add(`attachment; filename*=UTF-8''%2e%2e%2f%2e%2e%2fx`, "/..")
	f.Add(`attachment; filename="a\\..\\b"`, "/%2e%2e")
	f.Add(`form-data; name="f"; filename="ok.txt"`, "/x/")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, disposition, p string) {
		name := fileName(disposition, &url.URL{Scheme: "https", Host: "h", Path: p})
		if name == "" || name == "." || name == ".." || len(name) > maxNameLen {
			t.Fatalf("unsafe name %q", name)
		}
		if strings.ContainsAny(name, "/\\\x00\n\r") {
			t.Fatalf("name %q holds a separator or control character", name)
		}
	})
}
