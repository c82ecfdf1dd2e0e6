package format

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

type imageRow struct {
	Repository string
	Tag        string
	ID         string
	Size       string
	Labels     map[string]string
	Names      []string
}

const imagesDefault = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}"

var imageHeaders = map[string]string{
	"Repository": "REPOSITORY",
	"Tag":        "TAG",
	"ID":         "IMAGE ID",
	"Size":       "SIZE",
	"Labels":     "LABELS",
	"Names":      "NAMES",
}

var imageRows = []imageRow{
	{Repository: "busybox", Tag: "latest", ID: "7cc4b5aefd1d", Size: "4.26MB",
		Labels: map[string]string{"b": "2", "a": "1"}, Names: []string{"x", "y"}},
	{Repository: "myreg:5000/app", Tag: "v1.2.3", ID: "0123456789ab", Size: "584MB"},
}

func render(t *testing.T, format, def string, rows []imageRow) string {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, format, def, imageHeaders)
	if err != nil {
		t.Fatalf("NewWriter(%q): %v", format, err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write(%q): %v", format, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush(%q): %v", format, err)
	}
	return out.String()
}

func TestWriterFormats(t *testing.T) {
	t.Parallel()
	table := "" +
		"REPOSITORY       TAG       IMAGE ID       SIZE\n" +
		"busybox          latest    7cc4b5aefd1d   4.26MB\n" +
		"myreg:5000/app   v1.2.3    0123456789ab   584MB\n"
	tests := []struct {
		name, format, def string
		rows              []imageRow
		want              string
	}{
		{"empty is default", "", imagesDefault, imageRows, table},
		{"bare table is default", "table", imagesDefault, imageRows, table},
		{"explicit table", imagesDefault, "{{.ID}}", imageRows, table},
		{"escaped tabs", `table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}`, "", imageRows, table},
		{"header without rows", "", imagesDefault, nil, "REPOSITORY   TAG       IMAGE ID   SIZE\n"},
		{"table one column", "table {{.ID}}", "", imageRows,
			"IMAGE ID\n7cc4b5aefd1d\n0123456789ab\n"},
		{"table spaces trimmed", "table   {{.Tag}}:{{.ID}}  ", "", imageRows[:1],
			"TAG:IMAGE ID\nlatest:7cc4b5aefd1d\n"},
		{"raw", "{{.Repository}}:{{.Tag}}", imagesDefault, imageRows,
			"busybox:latest\nmyreg:5000/app:v1.2.3\n"},
		{"raw has no header", "{{.ID}}", "", nil, ""},
		{"raw escapes", `{{.ID}}\t{{.Tag}}\n`, "", imageRows[:1], "7cc4b5aefd1d\tlatest\n\n"},
		{"json", "json", imagesDefault, imageRows[:1],
			`{"Repository":"busybox","Tag":"latest","ID":"7cc4b5aefd1d","Size":"4.26MB","Labels":{"a":"1","b":"2"},"Names":["x","y"]}` + "\n"},
		{"json field", "{{json .Names}}", "", imageRows, "[\"x\",\"y\"]\nnull\n"},
		{"json no html escaping", "{{json .Repository}}", "", []imageRow{{Repository: "<a&b>"}}, "\"<a&b>\"\n"},
		{"funcs", `{{lower "AbC"}} {{upper .Tag}} {{title "hello big-world"}} {{truncate .ID 4}} [{{pad .Tag 1 2}}] {{join .Names ","}} {{join .Labels ";"}} {{index (split .Repository ":") 0}}`,
			"", imageRows[:1], "abc LATEST Hello Big-World 7cc4 [ latest  ] x,y 1;2 busybox\n"},
		{"pad empty", "[{{pad .Tag 1 1}}]", "", []imageRow{{}}, "[]\n"},
		{"println", "{{println .ID}}", "", imageRows[:1], "7cc4b5aefd1d\n\n"},
		{"header keeps names", "table {{upper .Repository}}\t{{json .Names}}\t{{join .Names \",\"}}\t{{truncate .ID 3}}", "", imageRows[:1],
			"REPOSITORY   NAMES       NAMES     IMAGE ID\n" +
				"BUSYBOX      [\"x\",\"y\"]   x,y       7cc\n"},
	}
	for _, tt := range tests {
		if got := render(t, tt.format, tt.def, tt.rows); got != tt.want {
			t.Errorf("%s: format %q:\ngot:\n%s\nwant:\n%s", tt.name, tt.format, got, tt.want)
		}
	}
}

func TestWriterPointerRows(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	w, err := NewWriter(&out, "{{.Repository}}", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&imageRows[0]); err != nil {
		t.Fatal(err)
	}
	if out.String() != "busybox\n" {
		t.Fatalf("got %q", out.String())
	}
}

func TestWriterHeaderMissingField(t *testing.T) {
	t.Parallel()
	// A header map without the field prints Go's "<no value>", as Docker does.
	got := render(t, "table {{.Repository}}\t{{.Tag}}", "", imageRows[:1])
	if got != "REPOSITORY   TAG\nbusybox      latest\n" {
		t.Fatalf("got %q", got)
	}
	var out bytes.Buffer
	w, err := NewWriter(&out, "table {{.Tag}}\t{{.ID}}", "", map[string]string{"Tag": "TAG"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(imageRows[0]); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "TAG       <no value>\nlatest    7cc4b5aefd1d\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

func TestWriterErrors(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"{{.ID", "table {{.ID}", "{{nosuchfunc .ID}}", "", "table"} {
		def := "{{.ID}}"
		if format == "" || format == "table" {
			def = "table {{end}}"
		}
		_, err := NewWriter(&bytes.Buffer{}, format, def, nil)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), "template parsing error: ") {
			t.Errorf("NewWriter(%q, %q) error = %v", format, def, err)
		}
	}

	var out bytes.Buffer
	w, err := NewWriter(&out, "{{.Repository}} {{.Missing}}", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = w.Write(imageRows[0])
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), "template parsing error: ") ||
		!strings.Contains(err.Error(), "Missing") {
		t.Fatalf("Write error = %v", err)
	}
	if out.Len() != 0 {
		t.Fatalf("failed row was printed: %q", out.String())
	}

	w, err = NewWriter(&out, "{{join .Repository \",\"}}", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(imageRows[0]); err == nil || !strings.Contains(err.Error(), "expected a slice") {
		t.Fatalf("join on a string: %v", err)
	}
}

func TestTemplate(t *testing.T) {
	t.Parallel()
	tmpl, err := Template(`{{.Name}} {{json .Config}} {{upper .Name}}`)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	data := map[string]any{"Name": "x", "Config": map[string]int{"b": 2, "a": 1}}
	if err := tmpl.Execute(&out, data); err != nil {
		t.Fatal(err)
	}
	if want := `x {"a":1,"b":2} X`; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
	_, err = Template("{{.Name")
	if !errors.Is(err, errdefs.ErrInvalidArgument) || err.Error() != "template parsing error: template: :1: unclosed action" {
		t.Fatalf("bad template error = %v", err)
	}
}

func TestTruncateFunc(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abcdef", 3, "abc"},
		{"abc", 3, "abc"},
		{"abc", 10, "abc"},
		{"abc", 0, ""},
		{"abc", -2, ""},
		{"héllo", 2, "h"}, // never splits a rune
		{"héllo", 3, "hé"},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
