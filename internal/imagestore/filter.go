package imagestore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/reference"
)

// Filter is a parsed set of --filter arguments. Like Docker, values of one
// key are ORed and different keys are ANDed.
type Filter struct {
	dangling  *bool
	before    []time.Time
	since     []time.Time
	until     []time.Time
	labels    []labelMatch
	reference []string
}

type labelMatch struct {
	key, value string
	hasValue   bool
	negate     bool
}

// ParseFilter parses "key=value" arguments; allowed lists the keys the
// command accepts (images: dangling, before, since, label, reference, until;
// prune: until, label, label!).
func (s *Store) ParseFilter(ctx context.Context, args []string, allowed ...string) (Filter, error) {
	var f Filter
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for _, arg := range args {
		key, val, found := strings.Cut(arg, "=")
		if !found {
			return f, errdefs.Newf(errdefs.ErrInvalidArgument, "bad format of filter (expected name=value)")
		}
		key = strings.ToLower(strings.TrimSpace(key))
		if !ok[key] {
			return f, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter '%s'", key)
		}
		if err := s.addFilter(ctx, &f, key, val); err != nil {
			return f, err
		}
	}
	return f, nil
}

func (s *Store) addFilter(ctx context.Context, f *Filter, key, val string) error {
	switch key {
	case "dangling":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter 'dangling=%s'", val)
		}
		f.dangling = &b
	case "before", "since":
		img, err := s.Resolve(ctx, val)
		if err != nil {
			return err
		}
		if key == "before" {
			f.before = append(f.before, img.Created)
		} else {
			f.since = append(f.since, img.Created)
		}
	case "until":
		t, err := ParseTime(val, time.Now())
		if err != nil {
			return err
		}
		f.until = append(f.until, t)
	case "label", "label!":
		k, v, has := strings.Cut(val, "=")
		f.labels = append(f.labels, labelMatch{key: k, value: v, hasValue: has, negate: key == "label!"})
	case "reference":
		f.reference = append(f.reference, val)
	}
	return nil
}

// Dangling reports whether the filter asks for dangling images only.
func (f Filter) Dangling() (value, set bool) {
	if f.dangling == nil {
		return false, false
	}
	return *f.dangling, true
}

// Match reports whether img passes every filter.
func (f Filter) Match(img metadata.Image) bool {
	if f.dangling != nil && IsDangling(img) != *f.dangling {
		return false
	}
	for _, t := range f.before {
		if !img.Created.Before(t) {
			return false
		}
	}
	for _, t := range f.since {
		if !img.Created.After(t) {
			return false
		}
	}
	if len(f.until) > 0 && !anyTime(f.until, func(t time.Time) bool { return img.Created.Before(t) }) {
		return false
	}
	for _, l := range f.labels {
		v, ok := img.Labels[l.key]
		hit := ok && (!l.hasValue || v == l.value)
		if hit == l.negate {
			return false
		}
	}
	if len(f.reference) > 0 && !f.matchReference(img) {
		return false
	}
	return true
}

func (f Filter) matchReference(img metadata.Image) bool {
	for _, t := range img.Tags {
		if r, err := reference.ParseNamed(t); err == nil && f.MatchTag(r) {
			return true
		}
	}
	return false
}

// MatchTag reports whether one name of an image passes the reference
// filter: `images` lists only the names that match.
func (f Filter) MatchTag(r reference.Reference) bool {
	if len(f.reference) == 0 {
		return true
	}
	for _, pat := range f.reference {
		if ok, _ := reference.MatchFamiliar(pat, r); ok {
			return true
		}
	}
	return false
}

func anyTime(ts []time.Time, fn func(time.Time) bool) bool {
	for _, t := range ts {
		if fn(t) {
			return true
		}
	}
	return false
}

// IsDangling reports whether nothing names img.
func IsDangling(img metadata.Image) bool {
	return len(img.Tags) == 0 && len(img.RepoDigests) == 0
}

// ParseTime reads Docker's timestamp forms for until/since filters: a Go
// duration before now ("24h", "10m"), Unix seconds (with optional
// fraction), RFC 3339 date-times, or a date.
func ParseTime(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if sec, frac, ok := strings.Cut(v, "."); len(sec) > 0 && isDigits(sec) && (!ok || isDigits(frac)) {
		s, _ := strconv.ParseInt(sec, 10, 64)
		var ns int64
		if ok {
			frac = (frac + "000000000")[:9]
			ns, _ = strconv.ParseInt(frac, 10, 64)
		}
		return time.Unix(s, ns), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errdefs.Newf(errdefs.ErrInvalidArgument, "failed to parse value as time or duration: %q", v)
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
