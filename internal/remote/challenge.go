package remote

import (
	"sort"
	"strings"
)

// challenge is one WWW-Authenticate challenge (RFC 7235).
type challenge struct {
	scheme string            // lower case: "basic", "bearer"
	params map[string]string // parameter names in lower case
}

func (c *challenge) sameAs(o *challenge) bool {
	if c == nil || o == nil || c.scheme != o.scheme {
		return false
	}
	return c.params["realm"] == o.params["realm"] && c.params["service"] == o.params["service"]
}

// String formats c as a header value parseChallenges reads back.
func (c challenge) String() string {
	keys := make([]string, 0, len(c.params))
	for k := range c.params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(c.scheme)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteString(`="`)
		for j := 0; j < len(c.params[k]); j++ {
			if ch := c.params[k][j]; ch == '"' || ch == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c.params[k][j])
		}
		b.WriteByte('"')
	}
	return b.String()
}

// parseChallenges reads every challenge of the WWW-Authenticate header
// values. It never fails: malformed parts are skipped.
//
//	challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-param = token BWS "=" BWS ( token / quoted-string )
//
// Several challenges may share one value, separated by commas; a token not
// followed by "=" starts the next challenge.
func parseChallenges(values []string) []challenge {
	var out []challenge
	for _, v := range values {
		lx := lexer{s: v}
		for {
			lx.skip(" \t,")
			if lx.done() {
				break
			}
			scheme := lx.token()
			if scheme == "" {
				lx.pos++ // a stray byte: step over it
				continue
			}
			ch := challenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
			lx.params(ch.params)
			out = append(out, ch)
		}
	}
	return out
}

// pickChallenge returns the challenge strata can answer, Bearer before
// Basic, or nil.
func pickChallenge(chs []challenge) *challenge {
	var basic *challenge
	for i := range chs {
		switch chs[i].scheme {
		case "bearer":
			if chs[i].params["realm"] != "" {
				return &chs[i]
			}
		case "basic":
			if basic == nil {
				basic = &chs[i]
			}
		}
	}
	return basic
}

type lexer struct {
	s   string
	pos int
}

func (l *lexer) done() bool { return l.pos >= len(l.s) }

func (l *lexer) skip(set string) {
	for l.pos < len(l.s) && strings.IndexByte(set, l.s[l.pos]) >= 0 {
		l.pos++
	}
}

func (l *lexer) consume(c byte) bool {
	if l.pos < len(l.s) && l.s[l.pos] == c {
		l.pos++
		return true
	}
	return false
}

// skipPast moves past the next c, or to the end; it reports whether c was found.
func (l *lexer) skipPast(c byte) bool {
	i := strings.IndexByte(l.s[l.pos:], c)
	if i < 0 {
		l.pos = len(l.s)
		return false
	}
	l.pos += i + 1
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (l *lexer) token() string {
	start := l.pos
	for l.pos < len(l.s) && isTokenChar(l.s[l.pos]) {
		l.pos++
	}
	return l.s[start:l.pos]
}

// quoted reads a quoted-string at the cursor (which is on the opening
// quote); an unterminated one runs to the end.
func (l *lexer) quoted() string {
	l.pos++
	var b strings.Builder
	for l.pos < len(l.s) {
		c := l.s[l.pos]
		l.pos++
		switch {
		case c == '"':
			return b.String()
		case c == '\\' && l.pos < len(l.s):
			b.WriteByte(l.s[l.pos])
			l.pos++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// params reads auth-params into into until the next challenge or the end.
// The first occurrence of a parameter wins.
func (l *lexer) params(into map[string]string) {
	for {
		l.skip(" \t")
		start := l.pos
		name := l.token()
		if name == "" {
			if l.done() {
				return
			}
			l.pos++ // a comma or a stray byte
			continue
		}
		l.skip(" \t")
		if !l.consume('=') {
			l.pos = start // the next challenge's scheme
			return
		}
		l.skip(" \t")
		var value string
		if l.pos < len(l.s) && l.s[l.pos] == '"' {
			value = l.quoted()
		} else {
			value = l.token()
		}
		key := strings.ToLower(name)
		if _, seen := into[key]; !seen {
			into[key] = value
		}
		l.skip(" \t")
		if l.done() || l.consume(',') {
			if l.done() {
				return
			}
			continue
		}
		if !l.skipPast(',') {
			return
		}
	}
}
