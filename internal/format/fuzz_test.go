package format

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

// FuzzWriter checks that no --format value panics the Writer, that refused
// formats are classed as invalid arguments, and that every non-table row
// ends in exactly the newline the Writer adds.
func FuzzWriter(f *testing.F) {
	for _, s := range []string{
		"", "table", "json", imagesDefault, `table {{.ID}}\t{{.Tag}}`, "{{.ID",
		`{{json .}}`, `{{join .Names ","}}`, `{{pad .Tag 1 -3}}`, `{{truncate .ID -1}}`,
		`{{title .Repository}}`, `{{split .Repository ":"}}`, "tablex {{.Size}}", `{{.Nope}}`,
		`{{upper 3}}`, `\t\n{{"}}"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, format string) {
		var out bytes.Buffer
		w, err := NewWriter(&out, format, imagesDefault, imageHeaders)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("NewWriter(%q) error %v is not ErrInvalidArgument", format, err)
			}
			return
		}
		// Executing arbitrary templates can loop or recurse for long; the
		// parse is what this fuzzes, execution only for plain actions.
		for _, slow := range []string{"range", "template", "block", "define"} {
			if strings.Contains(format, slow) {
				return
			}
		}
		werr := w.Write(imageRows[0])
		if werr != nil && !errors.Is(werr, errdefs.ErrInvalidArgument) {
			t.Fatalf("Write(%q) error %v is not ErrInvalidArgument", format, werr)
		}
		if err := w.Flush(); err != nil {
			t.Fatalf("Flush(%q): %v", format, err)
		}
		if werr == nil && !strings.HasSuffix(out.String(), "\n") {
			t.Fatalf("format %q: output %q does not end in a newline", format, out.String())
		}
	})
}
