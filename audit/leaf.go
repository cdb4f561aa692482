package audit

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// LeafPrefix starts every leaf encoding; it names the format and its version.
const LeafPrefix = "tokenaudit.event.v1\n"

// tsFormat is how ts is stored: RFC 3339, UTC, always six fractional digits,
// so that text order is time order.
const tsFormat = "2006-01-02T15:04:05.000000Z"

// leafColumns names, in order, the columns whose text makes up a leaf.
var leafColumns = [...]string{"seq", "ts", "kind", "fingerprint", "cdata", "subject",
	"actor", "api_url", "http_status", "request_seq", "error", "detail"}

// leafRow holds the text of the leaf columns of one row, in leafColumns
// order; an SQL NULL is the empty string.
type leafRow [len(leafColumns)]string

// appendLeaf appends the leaf encoding of r to dst: LeafPrefix, then each
// column as a netstring (decimal byte length, ':', the bytes, ',').
func (r *leafRow) appendLeaf(dst []byte) []byte {
	dst = append(dst, LeafPrefix...)
	for _, v := range r {
		dst = appendNetstring(dst, v)
	}
	return dst
}

// appendNetstring appends v as a netstring: its decimal length, ':', v, ','.
func appendNetstring[T ~string | ~[]byte](dst []byte, v T) []byte {
	dst = strconv.AppendInt(dst, int64(len(v)), 10)
	dst = append(dst, ':')
	dst = append(dst, v...)
	return append(dst, ',')
}

// formatTS renders t as the ledger stores it.
func formatTS(t time.Time) string { return t.UTC().Format(tsFormat) }

// parseTS parses a stored ts, accepting only the exact stored form.
func parseTS(s string) (time.Time, error) {
	t, err := time.Parse(tsFormat, s)
	if err != nil || formatTS(t) != s {
		return time.Time{}, fmt.Errorf("ts %q is not in the form %s", truncate(s, 40), tsFormat)
	}
	return t, nil
}

// row returns the column texts of e, as stored.
func (e *Event) row() leafRow {
	var r leafRow
	r[0] = strconv.FormatInt(e.Seq, 10)
	r[1] = formatTS(e.TS)
	r[2] = string(e.Kind)
	r[3] = e.Fingerprint
	r[4] = e.CData
	r[5] = e.Subject
	r[6] = e.Actor
	r[7] = e.APIURL
	if e.HTTPStatus != 0 {
		r[8] = strconv.Itoa(e.HTTPStatus)
	}
	if e.RequestSeq != nil {
		r[9] = strconv.FormatInt(*e.RequestSeq, 10)
	}
	r[10] = e.Error
	r[11] = string(e.Detail)
	if len(e.Detail) == 0 {
		r[11] = "{}"
	}
	return r
}

// LeafBytes returns the event's leaf encoding, the bytes its Merkle leaf
// hash is computed over (SHA-256 of 0x00 followed by these bytes, RFC 6962
// section 2.1). It is [LeafPrefix] followed by twelve netstrings, one per
// column in this order: seq, ts, kind, fingerprint, cdata, subject, actor,
// api_url, http_status, request_seq, error, detail. A netstring is the
// decimal byte length, ':', the bytes, ','. Each value is the column's text
// exactly as stored; integers are in decimal; NULL is the empty string.
// Anyone can recompute a leaf from a row of the table events alone.
func (e Event) LeafBytes() []byte {
	r := e.row()
	return r.appendLeaf(nil)
}

// leafHashHex returns the hex leaf hash of the encoding b.
func leafHashHex(b []byte) string {
	h := tlog.RecordHash(b)
	return hex.EncodeToString(h[:])
}

// ParseLeaf decodes a leaf encoding (see [Event.LeafBytes]) back into an
// event, with LeafHash set. It accepts only canonical encodings of events the
// ledger would accept, so that ParseLeaf(b) succeeds exactly when b is the
// LeafBytes of some valid event, and then that event's LeafBytes equal b.
func ParseLeaf(b []byte) (Event, error) {
	rest, ok := bytes.CutPrefix(b, []byte(LeafPrefix))
	if !ok {
		return Event{}, errors.New("audit: leaf does not start with " + strconv.Quote(LeafPrefix))
	}
	var r leafRow
	for i := range r {
		v, next, err := cutNetstring(rest)
		if err != nil {
			return Event{}, fmt.Errorf("audit: leaf column %s: %w", leafColumns[i], err)
		}
		r[i], rest = string(v), next
	}
	if len(rest) != 0 {
		return Event{}, fmt.Errorf("audit: leaf has %d bytes after its last column", len(rest))
	}
	e, err := r.event()
	if err != nil {
		return Event{}, fmt.Errorf("audit: leaf: %w", err)
	}
	if enc := e.LeafBytes(); !bytes.Equal(enc, b) {
		return Event{}, errors.New("audit: leaf is not in canonical form")
	}
	e.LeafHash = leafHashHex(b)
	return e, nil
}

// event converts column texts to an Event and validates it.
func (r *leafRow) event() (Event, error) {
	var e Event
	var err error
	if e.Seq, err = parseCanonicalInt(r[0]); err != nil {
		return Event{}, fmt.Errorf("seq: %w", err)
	}
	if e.TS, err = parseTS(r[1]); err != nil {
		return Event{}, err
	}
	e.Kind = Kind(r[2])
	e.Fingerprint, e.CData, e.Subject, e.Actor, e.APIURL = r[3], r[4], r[5], r[6], r[7]
	if r[8] != "" {
		n, err := parseCanonicalInt(r[8])
		if err != nil || n > 599 {
			return Event{}, fmt.Errorf("http_status %q is not an HTTP status", truncate(r[8], 20))
		}
		e.HTTPStatus = int(n)
	}
	if r[9] != "" {
		n, err := parseCanonicalInt(r[9])
		if err != nil {
			return Event{}, fmt.Errorf("request_seq: %w", err)
		}
		e.RequestSeq = &n
	}
	e.Error = r[10]
	e.Detail = []byte(r[11])
	if err := e.normalize(); err != nil {
		return Event{}, err
	}
	if err := e.validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// parseCanonicalInt parses a non-negative decimal integer without sign or
// leading zeros.
func parseCanonicalInt(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("%q is not a canonical non-negative integer", truncate(s, 24))
	}
	return n, nil
}

// cutNetstring splits one netstring off the front of b.
func cutNetstring(b []byte) (value, rest []byte, err error) {
	colon := bytes.IndexByte(b, ':')
	if colon < 0 {
		return nil, nil, errors.New("missing ':' after the length")
	}
	n, err := parseCanonicalInt(string(b[:colon]))
	if err != nil {
		return nil, nil, fmt.Errorf("length: %w", err)
	}
	b = b[colon+1:]
	if n >= int64(len(b)) {
		return nil, nil, fmt.Errorf("length %d runs past the end", n)
	}
	if b[n] != ',' {
		return nil, nil, errors.New("missing ',' after the value")
	}
	return b[:n], b[n+1:], nil
}
