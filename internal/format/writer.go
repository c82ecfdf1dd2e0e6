package format

import (
	"bytes"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
)

const (
	tableKey = "table"
	jsonKey  = "json"
)

// Writer prints one line per row through a template, the way Docker's
// --format flag does:
//
//   - "" or "table": the default format.
//   - "table TEMPLATE": a header row, then the rows, aligned in columns at
//     each tab ("\t" may be written as the two characters \ and t).
//   - "json": each row as one line of JSON, i.e. {{json .}}.
//   - anything else: the template, then a newline, per row; no header.
//
// The header row is the table template executed on the headers map (field
// name to column title), so {{.Repository}} prints "REPOSITORY". A table is
// written at Flush, non-table rows as they come.
type Writer struct {
	dst    io.Writer // out, or the tabwriter over it for tables
	tw     *tabwriter.Writer
	tmpl   *template.Template
	header *template.Template // nil once written or when not a table
	heads  map[string]string
	buf    bytes.Buffer
}

// NewWriter returns a Writer printing rows to out in format, or in
// defaultFormat when format is "" or "table". A template that does not parse
// gives an errdefs.ErrInvalidArgument "template parsing error: ...".
func NewWriter(out io.Writer, format, defaultFormat string, headers map[string]string) (*Writer, error) {
	if format == "" || format == tableKey {
		format = defaultFormat
	}
	tmpl, err := Template(templateText(format))
	if err != nil {
		return nil, err
	}
	w := &Writer{dst: out, tmpl: tmpl}
	if strings.HasPrefix(format, tableKey) {
		// Docker's settings: min width 10, tab width 1, padding 3.
		w.tw = tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
		w.dst = w.tw
		w.heads = headers
		if w.header, err = tmpl.Clone(); err != nil {
			return nil, templateError(err)
		}
		w.header.Funcs(headerFuncs())
	}
	return w, nil
}

// templateText turns a --format value into template text, as Docker does:
// "json" means {{json .}}, a "table" prefix and surrounding spaces go, and
// the escapes \t and \n become a tab and a newline.
func templateText(format string) string {
	switch format {
	case tableKey:
		return ""
	case jsonKey:
		return "{{json .}}"
	}
	text, _ := strings.CutPrefix(format, tableKey)
	text = strings.Trim(text, " ")
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(text)
}

// Write renders one row. A row whose template fails to execute is not
// printed; the error is an errdefs.ErrInvalidArgument.
func (w *Writer) Write(row any) error {
	if err := w.writeHeader(); err != nil {
		return err
	}
	w.buf.Reset()
	if err := w.tmpl.Execute(&w.buf, row); err != nil {
		return templateError(err)
	}
	w.buf.WriteByte('\n')
	_, err := w.dst.Write(w.buf.Bytes())
	return err
}

// Flush writes out a table, with its header even when there were no rows.
// It must be called once after the last Write.
func (w *Writer) Flush() error {
	if w.tw == nil {
		return nil
	}
	if err := w.writeHeader(); err != nil {
		return err
	}
	return w.tw.Flush()
}

// writeHeader writes the header row once, before the first row. Like Docker
// it prints what a failing header template produced and goes on: a header
// map missing a field is no reason to hide the rows.
func (w *Writer) writeHeader() error {
	if w.header == nil {
		return nil
	}
	w.buf.Reset()
	_ = w.header.Execute(&w.buf, w.heads)
	w.header = nil
	w.buf.WriteByte('\n')
	_, err := w.dst.Write(w.buf.Bytes())
	return err
}
