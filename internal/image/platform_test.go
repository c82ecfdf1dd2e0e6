package image

import (
	"errors"
	"runtime"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/strata-dev/strata/internal/errdefs"
)

func plat(t *testing.T, s string) ocispec.Platform {
	t.Helper()
	p, err := ParsePlatform(s)
	if err != nil {
		t.Fatalf("ParsePlatform(%q): %v", s, err)
	}
	return p
}

func TestParsePlatform(t *testing.T) {
	t.Parallel()
	cases := map[string]ocispec.Platform{
		"linux/amd64":       {OS: "linux", Architecture: "amd64"},
		"linux/arm64/v8":    {OS: "linux", Architecture: "arm64", Variant: "v8"},
		"Linux/AArch64":     {OS: "linux", Architecture: "arm64"},
		"linux/x86_64":      {OS: "linux", Architecture: "amd64"},
		"linux/armhf":       {OS: "linux", Architecture: "arm", Variant: "v7"},
		"linux/arm/6":       {OS: "linux", Architecture: "arm", Variant: "v6"},
		"windows/amd64":     {OS: "windows", Architecture: "amd64"},
		"arm64":             {OS: "linux", Architecture: "arm64"},
		"linux/riscv64":     {OS: "linux", Architecture: "riscv64"},
		"linux/arm64/v8.0":  {OS: "linux", Architecture: "arm64", Variant: "v8"},
		"linux/amd64/v3":    {OS: "linux", Architecture: "amd64", Variant: "v3"},
		"macos/arm64":       {OS: "darwin", Architecture: "arm64"},
		"linux/ppc64le":     {OS: "linux", Architecture: "ppc64le"},
		"linux/s390x":       {OS: "linux", Architecture: "s390x"},
		"freebsd/386":       {OS: "freebsd", Architecture: "386"},
		"linux/i386":        {OS: "linux", Architecture: "386"},
		"linux/mips64le/r6": {OS: "linux", Architecture: "mips64le", Variant: "r6"},
		"linux/arm64/v9.0":  {OS: "linux", Architecture: "arm64", Variant: "v9"},
		"wasip1/wasm":       {OS: "wasip1", Architecture: "wasm"},
		"linux/loong64":     {OS: "linux", Architecture: "loong64"},
		"linux/amd64/v2":    {OS: "linux", Architecture: "amd64", Variant: "v2"},
		"linux/arm/v5":      {OS: "linux", Architecture: "arm", Variant: "v5"},
		"linux/armel":       {OS: "linux", Architecture: "arm", Variant: "v6"},
		"linux/arm64/v8.2":  {OS: "linux", Architecture: "arm64", Variant: "v8.2"},
		"darwin/amd64":      {OS: "darwin", Architecture: "amd64"},
		"windows/arm64":     {OS: "windows", Architecture: "arm64"},
		"linux/arm64/V8":    {OS: "linux", Architecture: "arm64", Variant: "v8"},
		"LINUX/AMD64":       {OS: "linux", Architecture: "amd64"},
		"solaris/amd64":     {OS: "solaris", Architecture: "amd64"},
		"linux/arm/v8":      {OS: "linux", Architecture: "arm", Variant: "v8"},
		"linux/x86-64":      {OS: "linux", Architecture: "amd64"},
	}
	for in, want := range cases {
		got, err := ParsePlatform(in)
		if err != nil || got.OS != want.OS || got.Architecture != want.Architecture || got.Variant != want.Variant {
			t.Errorf("ParsePlatform(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if p := plat(t, "linux"); p.OS != "linux" || p.Architecture != runtime.GOARCH {
		t.Errorf("lone OS: %+v", p)
	}
	for _, bad := range []string{"", "/", "linux/", "/amd64", "linux/amd64/v8/x", "linux/am d64", "linux//v7"} {
		if _, err := ParsePlatform(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParsePlatform(%q) err = %v, want invalid argument", bad, err)
		}
	}
	if s := FormatPlatform(plat(t, "linux/arm/v7")); s != "linux/arm/v7" {
		t.Errorf("FormatPlatform = %q", s)
	}
}

func TestMatchPlatform(t *testing.T) {
	t.Parallel()
	cases := []struct {
		want, have string
		match      bool
	}{
		{"linux/amd64", "linux/amd64", true},
		{"linux/arm64", "linux/arm64/v8", true},
		{"linux/arm64/v8", "linux/arm64", true},
		{"linux/arm64/v8", "linux/aarch64", true},
		{"linux/arm/v7", "linux/arm", true},
		{"linux/arm", "linux/arm/v7", true},
		{"linux/arm", "linux/arm/v6", true},    // v7 runs v6
		{"linux/arm/v7", "linux/arm/v6", true}, // older variant runs
		{"linux/arm/v6", "linux/arm/v7", false},
		{"linux/arm/v7", "linux/arm/v8", false},
		{"linux/amd64", "linux/arm64", false},
		{"linux/arm64", "linux/amd64", false},
		{"linux/amd64", "windows/amd64", false},
		{"windows/amd64", "windows/amd64", true},
		{"linux/amd64", "linux/amd64/v1", true},
		{"linux/amd64/v3", "linux/amd64/v2", true},
		{"linux/amd64/v2", "linux/amd64/v3", false},
		{"linux/amd64", "linux/amd64/v2", true}, // empty variant matches
		{"linux/arm64/v8.2", "linux/arm64/v8", true},
		{"linux/arm64/v8", "linux/arm64/v8.2", false},
		{"linux/arm64/v9", "linux/arm64/v8.5", true},
		{"linux/arm64/v9", "linux/arm64/v8.6", false},
		{"linux/arm64", "linux/arm64/v9", true}, // empty variant matches
		{"linux/ppc64le", "linux/ppc64le", true},
		{"linux/386", "linux/amd64", false},
	}
	for _, tc := range cases {
		if got := MatchPlatform(plat(t, tc.want), plat(t, tc.have)); got != tc.match {
			t.Errorf("MatchPlatform(%s, %s) = %v, want %v", tc.want, tc.have, got, tc.match)
		}
	}
}

func TestSelectManifest(t *testing.T) {
	t.Parallel()
	d := func(n string) Descriptor { return Descriptor{MediaType: MediaTypeOCIManifest, Digest: sha(n), Size: 1} }
	withP := func(n, p string) Descriptor {
		x := d(n)
		pp := plat(t, p)
		x.Platform = &pp
		return x
	}
	idx := &Index{SchemaVersion: 2, Manifests: []Descriptor{
		withP("amd64", "linux/amd64"),
		withP("armv5", "linux/arm/v5"),
		withP("armv6", "linux/arm/v6"),
		withP("armv7", "linux/arm/v7"),
		withP("arm64", "linux/arm64/v8"),
		withP("win", "windows/amd64"),
		withP("attest", "unknown/unknown"),
	}}
	cases := map[string]string{
		"linux/amd64":    "amd64",
		"linux/arm64":    "arm64",
		"linux/arm64/v8": "arm64",
		"linux/arm":      "armv7",
		"linux/arm/v7":   "armv7",
		"linux/arm/v6":   "armv6",
		"linux/arm/v8":   "armv7",
		"windows/amd64":  "win",
	}
	for want, name := range cases {
		got, err := SelectManifest(idx, plat(t, want))
		if err != nil || got.Digest != sha(name) {
			t.Errorf("SelectManifest(%s) = %s, %v; want %s", want, got.Digest, err, name)
		}
	}
	_, err := SelectManifest(idx, plat(t, "linux/s390x"))
	if !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "no matching manifest for linux/s390x in the manifest list entries" {
		t.Errorf("no match: %v", err)
	}
	// Platform-less entries are a last resort.
	loose := &Index{Manifests: []Descriptor{d("loose"), withP("amd64", "linux/amd64")}}
	if got, _ := SelectManifest(loose, plat(t, "linux/amd64")); got.Digest != sha("amd64") {
		t.Error("platform-less entry preferred over a match")
	}
	if got, err := SelectManifest(loose, plat(t, "linux/arm64")); err != nil || got.Digest != sha("loose") {
		t.Errorf("platform-less fallback: %v %v", got.Digest, err)
	}
}

func TestHostPlatform(t *testing.T) {
	t.Parallel()
	h := HostPlatform()
	if h.OS != runtime.GOOS || h.Architecture != runtime.GOARCH {
		t.Fatalf("HostPlatform = %+v", h)
	}
	if !MatchPlatform(h, h) {
		t.Fatal("host does not match itself")
	}
}
