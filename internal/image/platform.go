package image

import (
	"runtime"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/strata-dev/strata/internal/errdefs"
)

// Platform is an OS, architecture and optional variant.
type Platform = ocispec.Platform

// HostPlatform is the platform strata runs on. ARM variants cannot be read
// from the Go runtime, so the usual ones are assumed: arm64/v8 and arm/v7.
func HostPlatform() ocispec.Platform {
	p := ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	switch p.Architecture {
	case "arm64":
		p.Variant = "v8"
	case "arm":
		p.Variant = "v7"
	}
	return p
}

// FormatPlatform writes p as os/arch[/variant].
func FormatPlatform(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// knownOS lists the operating systems a lone word is read as.
var knownOS = map[string]bool{
	"linux": true, "windows": true, "darwin": true, "freebsd": true, "netbsd": true,
	"openbsd": true, "solaris": true, "illumos": true, "aix": true, "plan9": true,
	"android": true, "ios": true, "dragonfly": true, "js": true, "wasip1": true,
}

// ParsePlatform reads "os/arch[/variant]", as in "linux/amd64" or
// "linux/arm64/v8". A lone OS takes the host architecture; a lone
// architecture means Linux. Architecture aliases (x86_64, aarch64, armhf...)
// are normalised; the variant is kept as written but for a missing "v".
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	for _, part := range parts {
		if !validPlatformPart(part) {
			return ocispec.Platform{}, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid platform %q: want os/arch[/variant]", s)
		}
	}
	var p ocispec.Platform
	switch len(parts) {
	case 1:
		if knownOS[parts[0]] {
			host := HostPlatform()
			p = ocispec.Platform{OS: parts[0], Architecture: host.Architecture, Variant: host.Variant}
		} else {
			p = ocispec.Platform{OS: "linux", Architecture: parts[0]}
		}
	case 2:
		p = ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	case 3:
		p = ocispec.Platform{OS: parts[0], Architecture: parts[1], Variant: parts[2]}
	default:
		return ocispec.Platform{}, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid platform %q: want os/arch[/variant]", s)
	}
	p.OS = normalizeOS(p.OS)
	p.Architecture, p.Variant = normalizeArch(p.Architecture, p.Variant)
	return p, nil
}

func validPlatformPart(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' && r != '-' && r != '.' && r != '+' {
			return false
		}
	}
	return true
}

func normalizeOS(os string) string {
	os = strings.ToLower(os)
	if os == "macos" {
		return "darwin"
	}
	return os
}

// normalizeArch maps architecture aliases to Go's names and gives numeric
// variants their "v". It does not fill in default variants.
func normalizeArch(arch, variant string) (string, string) {
	arch, variant = strings.ToLower(arch), strings.ToLower(variant)
	if variant != "" && variant[0] >= '0' && variant[0] <= '9' {
		variant = "v" + variant
	}
	switch arch {
	case "x86_64", "x86-64":
		arch = "amd64"
	case "i386", "i686", "x86":
		arch = "386"
	case "aarch64":
		arch = "arm64"
	case "armhf":
		arch, variant = "arm", "v7"
	case "armel":
		arch, variant = "arm", "v6"
	}
	if arch == "arm64" && variant == "v8.0" {
		variant = "v8"
	}
	if arch == "arm64" && variant == "v9.0" {
		variant = "v9"
	}
	return arch, variant
}

// defaultVariant is the variant an architecture has when none is given.
func defaultVariant(arch string) string {
	switch arch {
	case "arm64":
		return "v8"
	case "arm":
		return "v7"
	case "amd64":
		return "v1"
	}
	return ""
}

// MatchPlatform reports whether an image for have runs on want: same OS and
// architecture, and a variant that is equal once defaults are filled in
// (arm64 v8, arm v7, amd64 v1), older than want's on the same line (arm/v6
// runs on arm/v7), or missing on either side.
func MatchPlatform(want, have ocispec.Platform) bool {
	return platformScore(want, have) > 0
}

// platformScore ranks how well have fits want; 0 means it does not fit.
func platformScore(want, have ocispec.Platform) int {
	if normalizeOS(want.OS) != normalizeOS(have.OS) {
		return 0
	}
	wArch, wVar := normalizeArch(want.Architecture, want.Variant)
	hArch, hVar := normalizeArch(have.Architecture, have.Variant)
	if wArch != hArch {
		return 0
	}
	wFilled, hFilled := wVar, hVar
	if wFilled == "" {
		wFilled = defaultVariant(wArch)
	}
	if hFilled == "" {
		hFilled = defaultVariant(hArch)
	}
	if wFilled == hFilled {
		return 1000
	}
	if n := variantDistance(wArch, wFilled, hFilled); n > 0 {
		return 1000 - n
	}
	if wVar == "" || hVar == "" {
		return 1
	}
	return 0
}

// variantDistance returns how many steps below want have is on the
// architecture's line of compatible variants, or 0 if have is not below want.
func variantDistance(arch, want, have string) int {
	switch arch {
	case "arm", "amd64":
		w, okW := variantNumber(want)
		h, okH := variantNumber(have)
		if !okW || !okH || h >= w || (arch == "arm" && h < 5) || h < 1 {
			return 0
		}
		return w - h
	case "arm64":
		return arm64Distance(want, have)
	}
	return 0
}

func variantNumber(v string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
	return n, err == nil && n >= 0 && n < 100
}

// arm64Distance ranks have below want on the arm64 line: v8.x runs v8.0
// to v8.x, and v9.x also runs v8.0 to v8.(x+5), after every v9 variant.
func arm64Distance(want, have string) int {
	wMa, wMi, okW := arm64Version(want)
	hMa, hMi, okH := arm64Version(have)
	switch {
	case !okW || !okH:
		return 0
	case wMa == hMa && hMi < wMi:
		return wMi - hMi
	case wMa == 9 && hMa == 8:
		top := min(wMi+5, 9)
		if hMi > top {
			return 0
		}
		return wMi + 1 + top - hMi
	}
	return 0
}

// arm64Version splits "v8.2" into 8 and 2; only v8.x and v9.x are known.
func arm64Version(v string) (major, minor int, ok bool) {
	ma, mi, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	if mi == "" {
		mi = "0"
	}
	major, err1 := strconv.Atoi(ma)
	minor, err2 := strconv.Atoi(mi)
	if err1 != nil || err2 != nil || (major != 8 && major != 9) || minor < 0 || minor > 9 {
		return 0, 0, false
	}
	return major, minor, true
}

// SelectManifest picks the entry of idx that best fits want. Entries without
// a platform are taken only when no entry with one fits; the caller should
// then check the config's platform.
func SelectManifest(idx *Index, want ocispec.Platform) (Descriptor, error) {
	best, bestScore := -1, 0
	fallback := -1
	for i, d := range idx.Manifests {
		if d.Platform == nil {
			if fallback < 0 && !IsIndexMediaType(d.MediaType) {
				fallback = i
			}
			continue
		}
		if s := platformScore(want, *d.Platform); s > bestScore {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		best = fallback
	}
	if best < 0 {
		return Descriptor{}, errdefs.Newf(errdefs.ErrNotFound, "no matching manifest for %s in the manifest list entries", FormatPlatform(want))
	}
	return idx.Manifests[best], nil
}
