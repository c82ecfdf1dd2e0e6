package remote

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		in   string
		want string // challenges formatted with String, joined by " | "
	}{
		{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"`,
			`bearer realm="https://auth.docker.io/token", scope="repository:library/busybox:pull", service="registry.docker.io"`},
		{`Basic realm="Registry Realm"`, `basic realm="Registry Realm"`},
		{`basic`, `basic`},
		{`BEARER Realm = "x" , Service=svc`, `bearer realm="x", service="svc"`},
		{`Basic realm="a", Bearer realm="b", error="insufficient_scope"`, `basic realm="a" | bearer error="insufficient_scope", realm="b"`},
		{`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`,
			`newauth realm="apps", title="Login to \"apps\"", type="1" | basic realm="simple"`},
		{`Negotiate abc123==, Bearer realm="r"`, `negotiate abc123="" | bearer realm="r"`},
		{`Bearer realm="x", realm="y"`, `bearer realm="x"`},
		{`Bearer realm="unterminated`, `bearer realm="unterminated"`},
		{`, ,Basic,,`, `basic`},
		{`"junk" Basic realm=x`, `junk | basic realm="x"`},
		{``, ``},
	}
	for _, tt := range tests {
		var got []string
		for _, c := range parseChallenges([]string{tt.in}) {
			got = append(got, c.String())
		}
		if s := strings.Join(got, " | "); s != tt.want {
			t.Errorf("parseChallenges(%q)\n got %s\nwant %s", tt.in, s, tt.want)
		}
	}
	chs := parseChallenges([]string{`Basic realm="a"`, `Bearer realm="b"`})
	if p := pickChallenge(chs); p == nil || p.scheme != "bearer" {
		t.Fatalf("pickChallenge prefers %v", p)
	}
	if p := pickChallenge(parseChallenges([]string{`Bearer service="no realm"`, `Basic`})); p == nil || p.scheme != "basic" {
		t.Fatalf("a Bearer challenge without realm was picked: %v", p)
	}
}

func FuzzChallenge(f *testing.F) {
	for _, s := range []string{
		`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:x:pull"`,
		`Basic realm="a", Bearer realm="b", error="insufficient_scope"`,
		`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`,
		`Negotiate abc==`, `"`, `a=`, `,=,`, `Bearer realm="\`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		chs := parseChallenges([]string{s})
		var parts []string
		for _, c := range chs {
			if c.scheme == "" || !isToken(c.scheme) {
				t.Fatalf("bad scheme %q from %q", c.scheme, s)
			}
			for k := range c.params {
				if !isToken(k) || k != strings.ToLower(k) {
					t.Fatalf("bad parameter name %q from %q", k, s)
				}
			}
			parts = append(parts, c.String())
		}
		// What was parsed formats to a header that parses back the same.
		again := parseChallenges([]string{strings.Join(parts, ", ")})
		if len(again) != len(chs) {
			t.Fatalf("%q: %d challenges, %d after a round trip", s, len(chs), len(again))
		}
		for i := range chs {
			if chs[i].scheme != again[i].scheme || !maps.Equal(chs[i].params, again[i].params) {
				t.Fatalf("%q: challenge %d changed in a round trip: %v -> %v", s, i, chs[i], again[i])
			}
		}
	})
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}

func TestNextLink(t *testing.T) {
	for in, want := range map[string]string{
		`</v2/_catalog?last=b&n=2>; rel="next"`:                       "/v2/_catalog?last=b&n=2",
		`<https://r/v2/x/tags/list?n=1&last=a>; rel=next`:             "https://r/v2/x/tags/list?n=1&last=a",
		`</prev>; rel="prev", </next>; title="a;b>"; rel="last next"`: "/next",
		`</a>; rel="prev"`:    "",
		`</a>`:                "",
		`<unterminated; rel=`: "",
		``:                    "",
	} {
		if got := nextLink([]string{in}); got != want {
			t.Errorf("nextLink(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzLink(f *testing.F) {
	f.Add(`</v2/_catalog?last=b&n=2>; rel="next"`)
	f.Add(`</prev>; rel="prev", </next>; title="a;b>"; rel="last next"`)
	f.Add(`<<>>;;rel=next`)
	f.Fuzz(func(t *testing.T, s string) {
		got := nextLink([]string{s})
		if got != "" && (!strings.Contains(s, "<"+got+">") || strings.Contains(got, ">")) {
			t.Fatalf("nextLink(%q) = %q, not a <target> of the header", s, got)
		}
	})
}

func TestContentRange(t *testing.T) {
	for in, want := range map[string][4]int64{
		"bytes 0-99/1000":     {0, 99, 1000, 1},
		"bytes 100-199/*":     {100, 199, -1, 1},
		"bytes */1000":        {-1, -1, 1000, 1},
		"bytes 5-4/10":        {0, 0, 0, 0},
		"bytes 0-10/10":       {0, 0, 0, 0},
		"bytes */*":           {0, 0, 0, 0},
		"items 0-1/2":         {0, 0, 0, 0},
		"bytes -1-5/10":       {0, 0, 0, 0},
		"bytes 0-99999999999": {0, 0, 0, 0},
	} {
		f, l, tot, ok := parseContentRange(in)
		okn := int64(0)
		if ok {
			okn = 1
		}
		if got := [4]int64{f, l, tot, okn}; ok && got != want || !ok && want[3] != 0 {
			t.Errorf("parseContentRange(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzContentRange(f *testing.F) {
	f.Add("bytes 0-99/1000")
	f.Add("bytes */1000")
	f.Add("bytes 1-2/*")
	f.Fuzz(func(t *testing.T, s string) {
		first, last, total, ok := parseContentRange(s)
		if !ok {
			return
		}
		var again string
		switch {
		case first < 0 && total >= 0:
			again = fmt.Sprintf("bytes */%d", total)
		case first >= 0 && last >= first && (total < 0 || last < total):
			tot := "*"
			if total >= 0 {
				tot = fmt.Sprint(total)
			}
			again = fmt.Sprintf("bytes %d-%d/%s", first, last, tot)
		default:
			t.Fatalf("%q gave inconsistent %d-%d/%d", s, first, last, total)
		}
		f2, l2, t2, ok2 := parseContentRange(again)
		if !ok2 || f2 != first || l2 != last || t2 != total {
			t.Fatalf("%q -> %q does not parse back", s, again)
		}
	})
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"3":                             3 * time.Second,
		"0":                             0,
		"999999999":                     time.Hour,
		"Mon, 01 Jan 2024 00:00:10 GMT": 10 * time.Second,
		"Sun, 31 Dec 2023 00:00:00 GMT": 0,
	} {
		got, ok := retryAfter(http.Header{"Retry-After": {in}}, now)
		if !ok || got != want {
			t.Errorf("retryAfter(%q) = %v, %v, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "soon"} {
		if _, ok := retryAfter(http.Header{"Retry-After": {in}}, now); ok {
			t.Errorf("retryAfter(%q) accepted", in)
		}
	}
}
