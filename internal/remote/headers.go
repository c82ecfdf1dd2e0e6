package remote

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// nextLink returns the target of the rel="next" link of Link header values
// (RFC 8288), as the registry pagination uses:
//
//	Link: </v2/_catalog?last=b&n=2>; rel="next"
//
// It returns "" when there is none.
func nextLink(values []string) string {
	for _, v := range values {
		lx := lexer{s: v}
		for lx.skipPast('<') {
			end := strings.IndexByte(lx.s[lx.pos:], '>')
			if end < 0 {
				break
			}
			target := lx.s[lx.pos : lx.pos+end]
			lx.pos += end + 1
			if linkIsNext(&lx) {
				return target
			}
		}
	}
	return ""
}

// linkIsNext reads the ";"-separated parameters of one link and reports
// whether its rel includes "next". It stops at the comma ending the link.
func linkIsNext(lx *lexer) bool {
	next := false
	for {
		lx.skip(" \t")
		if !lx.consume(';') {
			return next
		}
		lx.skip(" \t")
		name := strings.ToLower(lx.token())
		lx.skip(" \t")
		if !lx.consume('=') {
			continue
		}
		lx.skip(" \t")
		var value string
		if !lx.done() && lx.s[lx.pos] == '"' {
			value = lx.quoted()
		} else {
			value = lx.token()
		}
		if name == "rel" {
			for _, r := range strings.Fields(value) {
				if strings.EqualFold(r, "next") {
					next = true
				}
			}
		}
	}
}

// parseContentRange reads "bytes first-last/total" or "bytes */total". It
// returns first = -1 for the second form and total = -1 for an unknown ("*")
// total.
func parseContentRange(s string) (first, last, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(strings.TrimSpace(rest), "/")
	if !found {
		return 0, 0, 0, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || t < 0 {
			return 0, 0, 0, false
		}
		total = t
	}
	if rng == "*" {
		return -1, -1, total, total >= 0
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	f, err1 := strconv.ParseInt(a, 10, 64)
	l, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || f < 0 || l < f || (total >= 0 && l >= total) {
		return 0, 0, 0, false
	}
	return f, l, total, true
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date. It
// returns false when the header is absent or unreadable.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(time.Hour/time.Second) {
			secs = int64(time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
