package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/internal/tokenstream"
	"github.com/tokenaudit/tokenaudit/internal/tokentext"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// This file holds what the commands do with a token that is not a JWT. The
// API's specification types a token as a string, so a token the API issues
// is a token whatever its text: issue records it, and revoke, import,
// inspect, cdata and fingerprint take any input that is plausibly an
// opaque token (see
// tokentext.Opaque: printable ASCII without white space or dots, not
// shaped like a JWT), by its fingerprint alone. Text shaped like a JWT that
// does not parse stays malformed (exit 2). Each command warns once, on
// standard error, when it met such tokens.

// kindOpaque is the kind inspect shows for an opaque token.
const kindOpaque jwtinspect.Kind = "opaque"

// expiryUnknown is the expiry status of an opaque token, which says
// nothing about its expiry.
const expiryUnknown jwtinspect.ExpiryStatus = "unknown"

// notAJWTFinding is the finding inspect shows for an opaque token.
var notAJWTFinding = jwtinspect.Finding{
	ID:       tokentext.FindingNotAJWT,
	Severity: jwtinspect.SeverityMedium,
	Message:  "not a JWT: an opaque token, known by its fingerprint alone; it names no holder (cdata), subject or expiry",
}

// opaqueToken reports whether token, which did not parse as a JWT, is to
// be taken as an opaque token.
func opaqueToken(token string) bool { return tokentext.Opaque(token) }

// warnNotJWT says once, on standard error, that n tokens were taken as
// opaque tokens.
func (a *app) warnNotJWT(n int) {
	if n == 0 {
		return
	}
	what := "1 token is not a JWT (%s): taken as an opaque token, known by its fingerprint alone, with no cdata, subject or claims"
	if n > 1 {
		what = strconv.Itoa(n) + " tokens are not JWTs (%s): taken as opaque tokens, known by their fingerprints alone, with no cdata, subject or claims"
	}
	fmt.Fprintf(a.stderr, "tokenaudit: warning: "+what+"\n", tokentext.FindingNotAJWT)
}

// recordedNotJWT reports whether an event's detail carries the finding
// "not-a-jwt".
func recordedNotJWT(e audit.Event) bool {
	var d struct {
		Findings []string `json:"findings"`
	}
	return json.Unmarshal(e.Detail, &d) == nil && slices.Contains(d.Findings, tokentext.FindingNotAJWT)
}

// newOpaqueRecord is the inspect record of an opaque token: its
// fingerprint and the finding, nothing else.
func newOpaqueRecord(token string) *inspectRecord {
	return &inspectRecord{
		Kind:        kindOpaque,
		Fingerprint: jwtinspect.Fingerprint(token),
		Times:       timesRecord{Status: expiryUnknown},
		Findings:    []jwtinspect.Finding{notAJWTFinding},
	}
}

// appendOpaque appends what inspect shows of an opaque token: its JSON
// record, or its text. Inspect calls it only once parsing as a JWT has
// failed, so that JWTs pay nothing for it.
func (a *app) appendOpaque(dst []byte, it tokenstream.Item, pretty bool, style output.Style) ([]byte, error) {
	rec := newOpaqueRecord(it.Token)
	if a.format.Structured() {
		line, err := marshalLine(rec, pretty)
		return append(dst, line...), err
	}
	buf := bytes.NewBuffer(dst)
	err := writeOpaqueText(buf, a.format, it, rec, style)
	return buf.Bytes(), err
}

// writeOpaqueText renders an opaque token for people (table) or as sheets
// (csv, markdown), as writeInspectText does a JWT.
func writeOpaqueText(buf *bytes.Buffer, format output.Format, it tokenstream.Item, rec *inspectRecord, style output.Style) error {
	summary := &output.Sheet{Header: []string{"field", "value"}}
	summary.Append("cdata", "(none)")
	summary.Append("kind", string(rec.Kind))
	summary.Append("fingerprint", rec.Fingerprint)
	summary.Append("expiry", "unknown: an opaque token says nothing of its expiry")
	if format != output.Table {
		if format == output.Markdown {
			summary.Title = "Token (" + it.Where() + ")"
		}
		findings := findingSheet(rec.Findings, output.Style{})
		findings.Title = "Findings"
		for _, s := range []*output.Sheet{summary, findings} {
			if err := s.Write(buf, format); err != nil {
				return err
			}
			buf.WriteString("\n")
		}
		return nil
	}
	fmt.Fprintf(buf, "%s %s\n", style.Bold("Token"), style.Dim("("+it.Where()+")"))
	fmt.Fprintf(buf, "  %-12s %s\n", "cdata", style.Bold("(none)"))
	for _, row := range summary.Rows[1:] {
		fmt.Fprintf(buf, "  %-12s %s\n", row[0], output.Clean(row[1]))
	}
	buf.WriteString("\n" + style.Bold("Findings") + "\n")
	if err := findingSheet(rec.Findings, style).Write(buf, output.Table); err != nil {
		return err
	}
	buf.WriteString("\n")
	return nil
}
