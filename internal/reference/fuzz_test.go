package reference

import (
	"testing"

	distref "github.com/distribution/reference"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"busybox", "library/busybox", "docker.io/busybox", "index.docker.io/user/x",
		"user/app:v1", "localhost:5000/x", "127.0.0.1:5000/a/b:c", "[::1]:5000/a",
		"busybox@" + string(dgA), "busybox:1.36@" + string(dgA), "docker.io/a.b/c",
		"docker.io/localhost/c", "Foo", "", "busybox:", "a//b", hexA, "docker.io/library/" + hexA,
		"FOO/bar", "a-b_c.d/e__f:g.h-i", "a-b.c/d__e:f.g-h",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := ParseNamed(s); err == nil {
			back, err := ParseNamed(r.String())
			if err != nil || back != r {
				t.Fatalf("ParseNamed(%q) = %#v; String %q parses to %#v, %v", s, r, r.String(), back, err)
			}
		}
		r, err := Parse(s)
		if err != nil {
			return
		}
		if r.Domain == "" || r.Path == "" || (r.Tag == "" && r.Digest == "") {
			t.Fatalf("Parse(%q) = %#v: incomplete", s, r)
		}
		back, err := Parse(r.String())
		if err != nil || back != r {
			t.Fatalf("Parse(%q) = %#v; String %q parses to %#v, %v", s, r, r.String(), back, err)
		}
		fam, err := Parse(r.Familiar())
		if err != nil || fam.Name() != r.Name() {
			t.Fatalf("Parse(%q).Familiar() = %q parses to %#v, %v; want name %q", s, r.Familiar(), fam, err, r.Name())
		}
		if fam != r {
			t.Fatalf("familiar %q lost parts: %#v != %#v", r.Familiar(), fam, r)
		}
		// Outside the ambiguous corner documented on FamiliarName, the
		// familiar form is the library's.
		named, err := distref.ParseNormalizedNamed(s)
		if err != nil {
			t.Fatalf("library refuses %q that Parse accepted: %v", s, err)
		}
		if lib := distref.FamiliarString(distref.TagNameOnly(named)); lib != r.Familiar() {
			if _, err := distref.ParseNormalizedNamed(lib); err == nil && mustName(lib) == r.Name() {
				t.Fatalf("Familiar(%q) = %q, library %q", s, r.Familiar(), lib)
			}
		}
	})
}

func mustName(s string) string {
	n, err := distref.ParseNormalizedNamed(s)
	if err != nil {
		return ""
	}
	return n.Name()
}
