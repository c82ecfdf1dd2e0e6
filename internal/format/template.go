package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Template parses text as a Go template with Docker's template functions
// (json, join, split, lower, upper, title, truncate, pad; println is a
// text/template builtin). It is what `inspect --format` uses.
func Template(text string) (*template.Template, error) {
	tmpl, err := template.New("").Funcs(rowFuncs()).Parse(text)
	if err != nil {
		return nil, templateError(err)
	}
	return tmpl, nil
}

// templateError classes a parse or execution error with Docker's prefix.
func templateError(err error) error {
	return errdefs.Classed(errdefs.ErrInvalidArgument, fmt.Errorf("template parsing error: %w", err))
}

func rowFuncs() template.FuncMap {
	return template.FuncMap{
		"json":     toJSON,
		"join":     join,
		"split":    strings.Split,
		"lower":    strings.ToLower,
		"upper":    strings.ToUpper,
		"title":    title,
		"truncate": truncate,
		"pad":      pad,
	}
}

// headerFuncs replace the functions that would mangle a header cell: the
// header row shows the column name, not its name split, joined or upper
// cased. pad is kept so that padded columns stay aligned.
func headerFuncs() template.FuncMap {
	same := func(v string) string { return v }
	sameArg := func(v string, _ string) string { return v }
	return template.FuncMap{
		"json":     same,
		"title":    same,
		"lower":    same,
		"upper":    same,
		"split":    sameArg,
		"join":     sameArg,
		"truncate": func(v string, _ int) string { return v },
	}
}

// toJSON encodes v on one line without HTML escaping. Structs give their
// exported fields in declaration order (Docker's row contexts give theirs
// sorted by name, so rows meant for {{json .}} declare fields that way).
func toJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSpace(buf.String()), nil
}

// join joins the elements of a slice, array or map (map values, sorted)
// with sep, printing non-string elements with fmt.Sprint.
func join(elems any, sep string) (string, error) {
	switch v := elems.(type) {
	case nil:
		return "", nil
	case []string:
		return strings.Join(v, sep), nil
	}
	rv := reflect.ValueOf(elems)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(rv.Index(i).Interface())
		}
		return strings.Join(parts, sep), nil
	case reflect.Map:
		parts := make([]string, 0, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			parts = append(parts, fmt.Sprint(it.Value().Interface()))
		}
		slices.Sort(parts)
		return strings.Join(parts, sep), nil
	}
	return "", fmt.Errorf("join: expected a slice, array or map, got %T", elems)
}

// truncate keeps the first n bytes of s, backing off so as not to split a
// UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// pad surrounds a non-empty s with prefix and suffix spaces.
func pad(s string, prefix, suffix int) string {
	if s == "" {
		return s
	}
	return strings.Repeat(" ", max(prefix, 0)) + s + strings.Repeat(" ", max(suffix, 0))
}

// title upper-cases the first letter of every word, with the word
// boundaries of the deprecated strings.Title.
func title(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		if isSeparator(prev) {
			prev = r
			return unicode.ToTitle(r)
		}
		prev = r
		return r
	}, s)
}

func isSeparator(r rune) bool {
	if r <= 0x7F {
		switch {
		case '0' <= r && r <= '9', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', r == '_':
			return false
		}
		return true
	}
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		return false
	}
	return unicode.IsSpace(r)
}
