// Package output renders tokenaudit's results in the formats every command
// offers: aligned tables for people, and JSON, JSON lines, CSV and Markdown for
// programs and tickets.
//
// Text that comes from a token (cdata, claims, kid, …) or from an API is
// untrusted: no format prints an [Unsafe] character of it raw. [Clean]
// escapes them visibly for tables, Markdown, CSV and messages, and the JSON
// writers ([WriteJSON], [AppendJSONString], [AppendEscapedJSON]) as \uXXXX,
// so a token cannot move the cursor, change colours, set a window title,
// reorder text or hide it.
package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Format is an output format name, as given to --format.
type Format string

// The output formats.
const (
	Table    Format = "table"
	JSON     Format = "json"
	JSONL    Format = "jsonl"
	CSV      Format = "csv"
	Markdown Format = "markdown"
	// HTML is one self-contained page; only the report writes it.
	HTML Format = "html"
)

// Formats lists every format, in the order help text shows them.
var Formats = []Format{Table, JSON, JSONL, CSV, Markdown, HTML}

// ParseFormat checks a format name. The empty string means [Table].
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return Table, nil
	}
	for _, f := range Formats {
		if strings.EqualFold(s, string(f)) {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown format %q (want one of %s)", s, strings.Join(names, ", "))
}

// Structured reports whether f is a JSON format.
func (f Format) Structured() bool { return f == JSON || f == JSONL }

// Sheet is a rectangular result: a header and rows of cells.
type Sheet struct {
	// Title, when set, is printed above a table or as a Markdown heading.
	Title string
	// Header names the columns; in JSON output the names are the keys.
	Header []string
	// Rows holds the cells, one slice per row, as long as Header.
	Rows [][]string
	// Paint, when set, colours the cells of a table: it is given a column
	// and a cell's text after [Clean] has escaped it, and returns the text
	// wrapped in SGR sequences (see [Style]). Only tables use it; cells
	// stay untrusted text, so colour belongs here rather than in them.
	Paint func(col int, cell string) string
}

// Append adds a row.
func (s *Sheet) Append(cells ...string) { s.Rows = append(s.Rows, cells) }

// Write renders s in format f. JSON writes an array of objects keyed by the
// header; JSON lines writes one object a line.
func (s *Sheet) Write(w io.Writer, f Format) error {
	switch f {
	case Table:
		return s.writeTable(w)
	case Markdown:
		return s.writeMarkdown(w)
	case CSV:
		cw := NewCSVWriter(w)
		if err := cw.Write(s.Header); err != nil {
			return err
		}
		for _, row := range s.Rows {
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		return cw.Flush()
	case JSON, JSONL:
		objs := make([]orderedObject, len(s.Rows))
		for i, row := range s.Rows {
			objs[i] = orderedObject{keys: s.Header, values: row}
		}
		if f == JSONL {
			for _, o := range objs {
				if err := WriteJSONLine(w, o); err != nil {
					return err
				}
			}
			return nil
		}
		return WriteJSON(w, objs)
	}
	return fmt.Errorf("unknown format %q", f)
}

func (s *Sheet) writeTable(w io.Writer) error {
	if s.Title != "" {
		if _, err := fmt.Fprintln(w, Clean(s.Title)); err != nil {
			return err
		}
	}
	t := tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleLight)})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
	)
	t.Header(cleanAll(s.Header))
	for _, row := range s.Rows {
		cells := cleanAll(row)
		if s.Paint != nil {
			for i, c := range cells {
				cells[i] = s.Paint(i, c)
			}
		}
		if err := t.Append(cells); err != nil {
			return fmt.Errorf("rendering table: %w", err)
		}
	}
	if len(s.Rows) == 0 {
		// tablewriter prints nothing for a table without rows; say so plainly.
		_, err := fmt.Fprintln(w, "(none)")
		return err
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("rendering table: %w", err)
	}
	return nil
}

func (s *Sheet) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	if s.Title != "" {
		fmt.Fprintf(&b, "### %s\n\n", markdownCell(s.Title))
	}
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" ")
			b.WriteString(markdownCell(c))
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	row(s.Header)
	b.WriteString("|")
	for range s.Header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range s.Rows {
		row(r)
	}
	if len(s.Rows) == 0 {
		row(make([]string, len(s.Header)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// markdownCell escapes a cell so it stays in its column and renders as text.
func markdownCell(s string) string {
	s = Clean(s)
	r := strings.NewReplacer("|", `\|`, "`", "\\`", "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`)
	return r.Replace(s)
}

func cleanAll(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = Clean(c)
	}
	return out
}

// Style adds terminal colours when Enabled; otherwise it returns text as is.
// Commands enable it only when writing to a terminal and NO_COLOR is unset.
type Style struct {
	Enabled bool
}

func (s Style) wrap(code, text string) string {
	if !s.Enabled || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// Bold emphasises text.
func (s Style) Bold(text string) string { return s.wrap("1", text) }

// Dim de-emphasises text.
func (s Style) Dim(text string) string { return s.wrap("2", text) }

// Good marks a success.
func (s Style) Good(text string) string { return s.wrap("32", text) }

// Bad marks a failure.
func (s Style) Bad(text string) string { return s.wrap("1;31", text) }

// Severity colours a finding's severity name: critical and high red, medium
// yellow, low cyan, info unchanged.
func (s Style) Severity(severity string) string {
	switch severity {
	case "critical":
		return s.wrap("1;31", severity)
	case "high":
		return s.wrap("31", severity)
	case "medium":
		return s.wrap("33", severity)
	case "low":
		return s.wrap("36", severity)
	}
	return severity
}

// WriteJSON writes v as indented JSON followed by a newline. HTML characters
// are not escaped: the output is for terminals and programs, not web pages.
// [Unsafe] characters are, as \uXXXX (see [AppendEscapedJSON]).
func WriteJSON(w io.Writer, v any) error { return writeJSON(w, v, "  ") }

// WriteJSONLine writes v as compact JSON on one line, escaped as
// [WriteJSON] escapes it.
func WriteJSONLine(w io.Writer, v any) error { return writeJSON(w, v, "") }

func writeJSON(w io.Writer, v any, indent string) error {
	b, err := MarshalJSON(v, indent)
	if err == nil {
		_, err = w.Write(append(b, '\n'))
	}
	if err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	return nil
}

// MarshalJSON is json.Marshal (json.MarshalIndent when indent is set)
// without HTML escaping and with every [Unsafe] character escaped as
// \uXXXX: the JSON every command writes.
func MarshalJSON(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return AppendEscapedJSON(nil, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// orderedObject marshals as a JSON object with keys in the given order.
type orderedObject struct {
	keys, values []string
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b []byte
	b = append(b, '{')
	for i, k := range o.keys {
		if i > 0 {
			b = append(b, ',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		b = append(b, kb...)
		b = append(b, ':')
		v := ""
		if i < len(o.values) {
			v = o.values[i]
		}
		vb, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		b = append(b, vb...)
	}
	return append(b, '}'), nil
}
