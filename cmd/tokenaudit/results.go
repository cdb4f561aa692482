package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"iter"

	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// resultWriter writes a list of results in the chosen format: a JSON array
// of records (json), one record a line (jsonl), CSV rows, or a table or
// Markdown table of cells. JSON and CSV are written as they come, so a long
// listing runs in constant memory; tables need every row before they can
// be aligned.
type resultWriter struct {
	w      io.Writer
	format output.Format
	sheet  output.Sheet
	csv    *output.CSVWriter
	n      int
	// optionalLast leaves the last column out of a table when it is empty
	// in every row (a column that rarely says anything).
	optionalLast bool
}

// newResultWriter starts a list with the given column names (the CSV
// header, and the table's) and, for tables, a title.
func (a *app) newResultWriter(w io.Writer, title string, header ...string) *resultWriter {
	r := &resultWriter{w: w, format: a.format, sheet: output.Sheet{Title: title, Header: header}}
	if a.format == output.CSV {
		r.csv = output.NewCSVWriter(w)
	}
	return r
}

// add writes one result: record in the JSON formats, cells otherwise.
func (r *resultWriter) add(record any, cells ...string) error {
	r.n++
	switch r.format {
	case output.JSON:
		b, err := json.MarshalIndent(record, "  ", "  ")
		if err != nil {
			return fmt.Errorf("writing json: %w", err)
		}
		b = output.AppendEscapedJSON(nil, b)
		sep := ",\n  "
		if r.n == 1 {
			sep = "[\n  "
		}
		_, err = io.WriteString(r.w, sep+string(b))
		return err
	case output.JSONL:
		return output.WriteJSONLine(r.w, record)
	case output.CSV:
		if r.n == 1 {
			if err := r.csv.Write(r.sheet.Header); err != nil {
				return err
			}
		}
		return r.csv.Write(cells)
	}
	r.sheet.Rows = append(r.sheet.Rows, cells)
	return nil
}

// close ends the list: "[]" for an empty JSON array, the header alone for
// empty CSV, and the whole table for the table formats.
func (r *resultWriter) close() error {
	switch r.format {
	case output.JSON:
		end := "\n]\n"
		if r.n == 0 {
			end = "[]\n"
		}
		_, err := io.WriteString(r.w, end)
		return err
	case output.JSONL:
		return nil
	case output.CSV:
		if r.n == 0 {
			r.csv.Write(r.sheet.Header)
		}
		return r.csv.Flush()
	}
	if r.optionalLast && len(r.sheet.Header) > 0 {
		last := len(r.sheet.Header) - 1
		empty := true
		for _, row := range r.sheet.Rows {
			empty = empty && (len(row) <= last || row[last] == "")
		}
		if empty {
			r.sheet.Header = r.sheet.Header[:last]
			for i, row := range r.sheet.Rows {
				r.sheet.Rows[i] = row[:min(len(row), last)]
			}
		}
	}
	return r.sheet.Write(r.w, r.format)
}

// writeAll adds every item of a ledger query to rw, as its record and
// cells, and closes rw.
func writeAll[T any](rw *resultWriter, items iter.Seq2[T, error], cells func(T) []string) error {
	for it, err := range items {
		if err != nil {
			return ledgerError(err)
		}
		if err := rw.add(it, cells(it)...); err != nil {
			return err
		}
	}
	return rw.close()
}

// writeDocument writes one result document: indented JSON, one JSON line,
// or the sheets in order (tables and Markdown, separated by a blank line).
// CSV holds a single table, so a document of several sheets is refused.
func (a *app) writeDocument(w io.Writer, record any, sheets ...*output.Sheet) error {
	switch a.format {
	case output.JSON:
		return output.WriteJSON(w, record)
	case output.JSONL:
		return output.WriteJSONLine(w, record)
	case output.CSV:
		if len(sheets) != 1 {
			return withHint(usageErrorf("this result has %d tables and CSV holds one", len(sheets)),
				"use --format json, markdown or table")
		}
	}
	var buf bytes.Buffer
	for i, s := range sheets {
		if i > 0 {
			buf.WriteString("\n")
		}
		if err := s.Write(&buf, a.format); err != nil {
			return err
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// shortFP is the form tables show a fingerprint in: its first 12 hex
// digits; empty stays empty.
func shortFP(fingerprint string) string {
	if fingerprint == "" {
		return ""
	}
	return jwtinspect.ShortFingerprint(fingerprint)
}

// fpCell shows a fingerprint in a cell: short in tables and Markdown, whole
// in CSV (for programs).
func (a *app) fpCell(fingerprint string) string {
	if a.format == output.CSV {
		return fingerprint
	}
	return shortFP(fingerprint)
}
