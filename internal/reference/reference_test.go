package reference

import (
	"errors"
	"strings"
	"testing"

	distref "github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

const (
	hexA = "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa"
	dgA  = digest.Digest("sha256:" + hexA)
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		want     Reference
		str      string // String()
		familiar string // Familiar()
		famName  string // FamiliarName()
	}{
		{"busybox", Reference{"docker.io", "library/busybox", "latest", ""},
			"docker.io/library/busybox:latest", "busybox:latest", "busybox"},
		{"library/busybox", Reference{"docker.io", "library/busybox", "latest", ""},
			"docker.io/library/busybox:latest", "busybox:latest", "busybox"},
		{"docker.io/busybox:1.36", Reference{"docker.io", "library/busybox", "1.36", ""},
			"docker.io/library/busybox:1.36", "busybox:1.36", "busybox"},
		{"index.docker.io/busybox", Reference{"docker.io", "library/busybox", "latest", ""},
			"docker.io/library/busybox:latest", "busybox:latest", "busybox"},
		{"index.docker.io/user/app", Reference{"docker.io", "user/app", "latest", ""},
			"docker.io/user/app:latest", "user/app:latest", "user/app"},
		{"user/app:v1", Reference{"docker.io", "user/app", "v1", ""},
			"docker.io/user/app:v1", "user/app:v1", "user/app"},
		{"docker.io/library/a/b", Reference{"docker.io", "library/a/b", "latest", ""},
			"docker.io/library/a/b:latest", "library/a/b:latest", "library/a/b"},
		{"localhost/x", Reference{"localhost", "x", "latest", ""},
			"localhost/x:latest", "localhost/x:latest", "localhost/x"},
		{"localhost:5000/x", Reference{"localhost:5000", "x", "latest", ""},
			"localhost:5000/x:latest", "localhost:5000/x:latest", "localhost:5000/x"},
		{"127.0.0.1:5000/a/b:c", Reference{"127.0.0.1:5000", "a/b", "c", ""},
			"127.0.0.1:5000/a/b:c", "127.0.0.1:5000/a/b:c", "127.0.0.1:5000/a/b"},
		{"[::1]:5000/a", Reference{"[::1]:5000", "a", "latest", ""},
			"[::1]:5000/a:latest", "[::1]:5000/a:latest", "[::1]:5000/a"},
		{"myreg:5000/a/b", Reference{"myreg:5000", "a/b", "latest", ""},
			"myreg:5000/a/b:latest", "myreg:5000/a/b:latest", "myreg:5000/a/b"},
		{"busybox@" + string(dgA), Reference{"docker.io", "library/busybox", "", dgA},
			"docker.io/library/busybox@" + string(dgA), "busybox@" + string(dgA), "busybox"},
		{"busybox:1.36@" + string(dgA), Reference{"docker.io", "library/busybox", "1.36", dgA},
			"docker.io/library/busybox:1.36@" + string(dgA), "busybox:1.36@" + string(dgA), "busybox"},
		// A Docker Hub path whose namespace reads as a registry keeps its
		// domain so the familiar form parses back to the same name.
		{"docker.io/a.b/c", Reference{"docker.io", "a.b/c", "latest", ""},
			"docker.io/a.b/c:latest", "docker.io/a.b/c:latest", "docker.io/a.b/c"},
		{"docker.io/localhost/c", Reference{"docker.io", "localhost/c", "latest", ""},
			"docker.io/localhost/c:latest", "docker.io/localhost/c:latest", "docker.io/localhost/c"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, s, tt.str)
		}
		if s := got.Familiar(); s != tt.familiar {
			t.Errorf("Parse(%q).Familiar() = %q, want %q", tt.in, s, tt.familiar)
		}
		if s := got.FamiliarName(); s != tt.famName {
			t.Errorf("Parse(%q).FamiliarName() = %q, want %q", tt.in, s, tt.famName)
		}
		if n := got.Name(); n != tt.want.Domain+"/"+tt.want.Path {
			t.Errorf("Parse(%q).Name() = %q", tt.in, n)
		}
	}
}

func TestParseNamedKeepsNoTag(t *testing.T) {
	t.Parallel()
	r, err := ParseNamed("busybox")
	if err != nil {
		t.Fatal(err)
	}
	if r.IsTagged() || r.Tag != "" || r.Digest != "" {
		t.Fatalf("ParseNamed added a tag or digest: %#v", r)
	}
	if r.String() != "docker.io/library/busybox" || r.Familiar() != "busybox" {
		t.Fatalf("got %q / %q", r.String(), r.Familiar())
	}
	tagged, err := Parse("busybox")
	if err != nil {
		t.Fatal(err)
	}
	if !tagged.IsTagged() || tagged.Tag != DefaultTag {
		t.Fatalf("Parse did not add the default tag: %#v", tagged)
	}
	d, err := Parse("busybox@" + string(dgA))
	if err != nil {
		t.Fatal(err)
	}
	if d.IsTagged() {
		t.Fatalf("digest reference got a default tag: %#v", d)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, msg string }{
		{"", "invalid reference format"},
		{"Foo", "invalid reference format: repository name (library/Foo) must be lowercase"},
		{"user/App:v1", "invalid reference format: repository name (user/App) must be lowercase"},
		{"busybox:", "invalid reference format"},
		{":tag", "invalid reference format"},
		{"a//b", "invalid reference format"},
		{"a:b:c", "invalid reference format"},
		{"busybox:bad!tag", "invalid reference format"},
		{"busybox@sha256:abc", "invalid reference format"},
		{"busybox@sha256:0123456789abcdef0123456789abcdef", "invalid checksum digest length"},
		{"busybox@md5:0123456789abcdef0123456789abcdef", "unsupported digest algorithm"},
		{"a_b.c/x", `invalid reference format: registry in "a_b.c/x" is not a valid host`},
		{hexA, "invalid repository name (" + hexA + "), cannot specify 64-byte hexadecimal strings"},
	}
	for _, tt := range tests {
		for _, parse := range []func(string) (Reference, error){Parse, ParseNamed} {
			r, err := parse(tt.in)
			if err == nil {
				t.Errorf("parse(%q) = %#v, want error", tt.in, r)
				continue
			}
			if err.Error() != tt.msg {
				t.Errorf("parse(%q) error = %q, want %q", tt.in, err, tt.msg)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("parse(%q) error %v is not ErrInvalidArgument", tt.in, err)
			}
			if r != (Reference{}) {
				t.Errorf("parse(%q) returned non-zero reference %#v with error", tt.in, r)
			}
		}
	}
}

func TestWithTagAndDigest(t *testing.T) {
	t.Parallel()
	base, err := Parse("myreg:5000/a/b@" + string(dgA))
	if err != nil {
		t.Fatal(err)
	}
	tagged, err := base.WithTag("v2")
	if err != nil {
		t.Fatal(err)
	}
	if want := "myreg:5000/a/b:v2@" + string(dgA); tagged.String() != want {
		t.Fatalf("WithTag: %q, want %q", tagged.String(), want)
	}
	if base.Tag != "" {
		t.Fatal("WithTag modified its receiver")
	}
	if _, err := base.WithTag("bad tag"); !errors.Is(err, errdefs.ErrInvalidArgument) ||
		!strings.Contains(err.Error(), `"bad tag"`) {
		t.Fatalf("WithTag(bad) error = %v", err)
	}
	if _, err := base.WithTag(strings.Repeat("x", 129)); err == nil {
		t.Fatal("WithTag accepted a 129-character tag")
	}

	other := digest.Digest("sha256:" + strings.Repeat("0", 64))
	moved := tagged.WithDigest(other)
	if moved.Digest != other || moved.Tag != "v2" || tagged.Digest != dgA {
		t.Fatalf("WithDigest: %#v (receiver %#v)", moved, tagged)
	}
	if cleared := moved.WithDigest(""); cleared.String() != "myreg:5000/a/b:v2" {
		t.Fatalf("WithDigest(\"\"): %q", cleared.String())
	}
}

func TestMatchFamiliar(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, ref string
		want         bool
	}{
		{"*:latest", "busybox", true},
		{"*:latest", "busybox:1.36", false},
		{"*:latest", "user/app", false}, // '*' does not cross '/'
		{"*/*:latest", "user/app", true},
		{"busy*", "busybox:1.36", true},
		{"busy*", "busybox", true},
		{"busybox", "busybox:1.36", true},
		{"busybox:1.*", "busybox:1.36", true},
		{"busybox:1.*", "busybox:2", false},
		{"docker.io/library/busybox", "busybox", false}, // Docker matches familiar forms only
		{"library/busybox", "busybox", false},
		{"user/*", "docker.io/user/app:v1", true},
		{"myreg:5000/*", "myreg:5000/app:v1", true},
		{"myreg:5000/*", "myreg:5000/a/b", false},
		{"myreg:5000/*/*", "myreg:5000/a/b", true},
		{"myreg:5000/*:v1", "myreg:5000/app:v1", true},
		{"busybox", "busybox@" + string(dgA), true},
		{"busybox@*", "busybox@" + string(dgA), true},
		{"busybox:1.36", "busybox:1.36@" + string(dgA), true},
		{"*", "busybox", true},
		{"nomatch", "busybox", false},
	}
	for _, tt := range tests {
		r, err := ParseNamed(tt.ref)
		if err != nil {
			t.Fatal(err)
		}
		if tt.ref == "busybox" || tt.ref == "user/app" {
			r.Tag = DefaultTag
		}
		got, err := MatchFamiliar(tt.pattern, r)
		if err != nil {
			t.Errorf("MatchFamiliar(%q, %q): %v", tt.pattern, tt.ref, err)
		}
		if got != tt.want {
			t.Errorf("MatchFamiliar(%q, %q) = %v, want %v", tt.pattern, r, got, tt.want)
		}
		// Agree with the library wherever the reference is single-suffixed.
		if r.Tag == "" || r.Digest == "" {
			named, _ := distref.ParseNormalizedNamed(r.String())
			lib, _ := distref.FamiliarMatch(tt.pattern, named)
			if lib != got {
				t.Errorf("MatchFamiliar(%q, %q) = %v, library says %v", tt.pattern, r, got, lib)
			}
		}
	}
	r, _ := Parse("busybox")
	if _, err := MatchFamiliar("busy[", r); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("bad pattern error = %v", err)
	}
}

func TestLooksLikeID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"a", true},
		{"7cc4b5aefd1d", true},
		{hexA, true},
		{"sha256:" + hexA, true},
		{"sha256:7cc4", true},
		{"", false},
		{"sha256:", false},
		{hexA + "0", false},
		{"7CC4B5", false},
		{"busybox", false},
		{"sha512:7cc4", false},
		{"7cc4:latest", false},
	}
	for _, tt := range tests {
		if got := LooksLikeID(tt.in); got != tt.want {
			t.Errorf("LooksLikeID(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestZeroReference(t *testing.T) {
	t.Parallel()
	r := Reference{Path: "x"}
	if r.Name() != "x" || r.String() != "x" || r.FamiliarName() != "x" {
		t.Fatalf("domainless reference: %q %q %q", r.Name(), r.String(), r.FamiliarName())
	}
}
