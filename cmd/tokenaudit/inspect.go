package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/internal/tokenstream"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

func (a *app) inspectCommand() *cobra.Command {
	var lf inspectLedgerFlags
	cmd := &cobra.Command{
		Use:   "inspect [TOKEN | - | @FILE]...",
		Short: "Decode tokens offline: header, claims, cdata, fingerprint, findings",
		Long: `Decode each token offline and show its kind, algorithm, cdata, fingerprint,
header and claims, its times and expiry status, and the security findings.
Nothing is verified (see "tokenaudit verify") and nothing is fetched: URLs
in a token (jku, x5u) are reported, never followed.

--format json prints one JSON document for one token, and JSON lines for
several; the fields are kind, alg, header, claims, payload, cdata,
fingerprint, signature_bytes, times, findings, verified and ledger. Numbers
in header and claims are printed exactly as the token has them.

` + ledgerKnowsHelp + `

` + tokenInputHelp,
		Example: `  tokenaudit inspect < token.txt
  pbpaste | tokenaudit inspect
  tokenaudit inspect --format jsonl @tokens.txt`,
		RunE: func(cmd *cobra.Command, args []string) error {
			now := a.now().UTC()
			style := a.style()
			// One token given as an argument prints as an indented document.
			pretty := a.format == output.JSON && len(args) == 1 && !strings.HasPrefix(args[0], "@") && args[0] != "-"
			ledger, err := a.openTokenLedger(lf)
			if err != nil {
				return err
			}
			defer ledger.Close()
			ctx := cmd.Context()
			var opaque atomic.Int64 // tokens taken as opaque, by every worker
			defer func() { a.warnNotJWT(int(opaque.Load())) }()
			return a.stream(ctx, args, func() tokenstream.RenderFunc {
				clock := jwtinspect.WithNow(func() time.Time { return now })
				var sum jwtinspect.Summary // this worker's own
				return func(dst []byte, it tokenstream.Item) ([]byte, error) {
					if a.format.Structured() {
						line, err := a.inspectJSONLine(dst, it, &sum, clock, now)
						if err != nil && opaqueToken(it.Token) {
							opaque.Add(1)
							line, err = a.appendOpaque(dst, it, false, style)
						}
						if err == nil {
							line, err = ledger.addJSON(ctx, line, len(dst), it.Token)
						}
						if err != nil || !pretty {
							return line, err
						}
						var buf bytes.Buffer
						err = json.Indent(&buf, line[len(dst):], "", "  ")
						return append(dst, buf.Bytes()...), err
					}
					tok, err := jwtinspect.Parse(it.Token, clock)
					var out []byte
					switch {
					case err != nil && opaqueToken(it.Token):
						opaque.Add(1)
						if out, err = a.appendOpaque(dst, it, pretty, style); err != nil {
							return out, err
						}
					case err != nil:
						return dst, err
					default:
						buf := bytes.NewBuffer(dst)
						if err := writeInspectText(buf, a.format, it, newInspectRecord(tok, now), tok, now, style); err != nil {
							return buf.Bytes(), err
						}
						out = buf.Bytes()
					}
					return ledger.addText(ctx, out, it.Token, a.format, style, true)
				}
			})
		},
	}
	lf.register(cmd)
	return a.tokenInputCommand(cmd)
}

// inspectJSONLine appends the JSON line of one token: from a Summary, which
// builds no map, for the tokens it can write (every Woleet token), and from
// a full parse for the others.
func (a *app) inspectJSONLine(dst []byte, it tokenstream.Item, sum *jwtinspect.Summary, clock jwtinspect.Option, now time.Time) ([]byte, error) {
	if err := sum.Parse(it.Token, clock); err != nil {
		return dst, err
	}
	if summaryJSONOK(sum) {
		return appendSummaryJSON(dst, sum, now), nil
	}
	tok, err := jwtinspect.Parse(it.Token, clock)
	if err != nil {
		return dst, err
	}
	out, err := appendInspectJSON(dst, newInspectRecord(tok, now), tok)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// inspectRecord is the JSON form of an inspected token: a contract that
// scripts depend on. Every field is always present.
type inspectRecord struct {
	Kind           jwtinspect.Kind      `json:"kind"`
	Alg            *string              `json:"alg"`
	Header         map[string]any       `json:"header"`
	Claims         map[string]any       `json:"claims"`
	Payload        *string              `json:"payload"`
	CData          *string              `json:"cdata"`
	Fingerprint    string               `json:"fingerprint"`
	SignatureBytes int                  `json:"signature_bytes"`
	Signatures     []signatureRecord    `json:"signatures,omitempty"`
	Times          timesRecord          `json:"times"`
	Findings       []jwtinspect.Finding `json:"findings"`
	Verified       *verifiedRecord      `json:"verified"`
}

// signatureRecord describes one signature of a JWS JSON serialization.
type signatureRecord struct {
	Protected      map[string]any `json:"protected"`
	Header         map[string]any `json:"header"`
	Alg            *string        `json:"alg"`
	Kid            *string        `json:"kid"`
	SignatureBytes int            `json:"signature_bytes"`
}

// timesRecord holds the time claims as RFC 3339 text, and the status now.
type timesRecord struct {
	IssuedAt  *string                 `json:"iat"`
	NotBefore *string                 `json:"nbf"`
	Expires   *string                 `json:"exp"`
	Status    jwtinspect.ExpiryStatus `json:"status"`
}

func optional(s string, ok bool) *string {
	if !ok {
		return nil
	}
	return &s
}

func timeText(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

func newInspectRecord(tok *jwtinspect.Token, now time.Time) *inspectRecord {
	alg := tok.Alg()
	_, hasAlg := tok.Header["alg"]
	if len(tok.Signatures) > 0 {
		hasAlg = alg != ""
	}
	rec := &inspectRecord{
		Kind:           tok.Kind,
		Alg:            optional(alg, hasAlg && alg != ""),
		Header:         tok.Header,
		Claims:         tok.Claims,
		CData:          optional(tok.CData()),
		Fingerprint:    tok.Fingerprint(),
		SignatureBytes: len(tok.Signature),
		Times: timesRecord{
			IssuedAt:  timeText(tok.Times.IssuedAt),
			NotBefore: timeText(tok.Times.NotBefore),
			Expires:   timeText(tok.Times.Expires),
			Status:    tok.ExpiryStatus(now),
		},
		Findings: tok.Findings,
	}
	if rec.Findings == nil {
		rec.Findings = []jwtinspect.Finding{}
	}
	if tok.Claims == nil && tok.Payload != nil {
		p := strings.ToValidUTF8(string(tok.Payload), "\uFFFD")
		rec.Payload = &p
	}
	for _, s := range tok.Signatures {
		rec.Signatures = append(rec.Signatures, signatureRecord{
			Protected:      s.Protected,
			Header:         s.Unprotected,
			Alg:            optional(s.Alg(), s.Alg() != ""),
			Kid:            optional(s.Kid(), s.Kid() != ""),
			SignatureBytes: len(s.Signature),
		})
	}
	return rec
}

// marshalLine encodes v as one JSON line, or indented when pretty.
func marshalLine(v any, pretty bool) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	if pretty {
		err = output.WriteJSON(&buf, v)
	} else {
		err = output.WriteJSONLine(&buf, v)
	}
	return buf.Bytes(), err
}

// writeInspectText renders one token for people (table) or as sheets (csv,
// markdown).
func writeInspectText(buf *bytes.Buffer, format output.Format, it tokenstream.Item, rec *inspectRecord, tok *jwtinspect.Token, now time.Time, style output.Style) error {
	summary := &output.Sheet{Header: []string{"field", "value"}}
	if format == output.Markdown {
		summary.Title = "Token (" + it.Where() + ")"
	}
	cdata := "(none)"
	if rec.CData != nil {
		cdata = *rec.CData
	}
	alg := "(none)"
	if rec.Alg != nil {
		alg = *rec.Alg
	}
	summary.Append("cdata", cdata)
	summary.Append("kind", string(rec.Kind))
	summary.Append("algorithm", alg)
	if kid := tok.Kid(); kid != "" {
		summary.Append("kid", kid)
	}
	if sub, ok := tok.Subject(); ok {
		summary.Append("subject", sub)
	}
	summary.Append("fingerprint", rec.Fingerprint)
	summary.Append("expiry", expiryText(tok, now))
	summary.Append("signature", fmt.Sprintf("%d bytes", rec.SignatureBytes))

	if format != output.Table {
		if err := summary.Write(buf, format); err != nil {
			return err
		}
		buf.WriteString("\n")
		claims := claimSheet(tok, now)
		if format == output.Markdown {
			shortenCells(claims)
		}
		claims.Title = "Claims"
		if err := claims.Write(buf, format); err != nil {
			return err
		}
		buf.WriteString("\n")
		findings := findingSheet(tok.Findings, output.Style{})
		findings.Title = "Findings"
		if err := findings.Write(buf, format); err != nil {
			return err
		}
		buf.WriteString("\n")
		return nil
	}

	fmt.Fprintf(buf, "%s %s\n", style.Bold("Token"), style.Dim("("+it.Where()+")"))
	fmt.Fprintf(buf, "  %-12s %s\n", "cdata", style.Bold(output.Clean(cdata)))
	for _, row := range summary.Rows[1:] {
		fmt.Fprintf(buf, "  %-12s %s\n", row[0], output.Clean(row[1]))
	}
	if tok.Header != nil {
		buf.WriteString("\n" + style.Bold("Header") + "\n")
		writeIndentedJSON(buf, tok.Header)
	}
	switch {
	case tok.Claims != nil:
		buf.WriteString("\n" + style.Bold("Claims") + "\n")
		writeIndentedJSON(buf, tok.Claims)
		buf.WriteString("\n")
		if err := shortenCells(claimSheet(tok, now)).Write(buf, output.Table); err != nil {
			return err
		}
	case rec.Payload != nil:
		buf.WriteString("\n" + style.Bold("Payload") + " (not a JSON object)\n")
		p := *rec.Payload
		if utf8.RuneCountInString(p) > 2000 {
			p = string([]rune(p)[:2000]) + "…"
		}
		buf.WriteString(output.Clean(p) + "\n")
	}
	buf.WriteString("\n" + style.Bold("Findings") + "\n")
	if len(tok.Findings) == 0 {
		buf.WriteString("  none\n")
	} else if err := findingSheet(tok.Findings, style).Write(buf, output.Table); err != nil {
		return err
	}
	buf.WriteString("\n")
	return nil
}

// writeIndentedJSON prints v as indented JSON, two spaces in, with any
// terminal-unsafe characters escaped.
func writeIndentedJSON(buf *bytes.Buffer, v any) {
	var raw bytes.Buffer
	if err := output.WriteJSON(&raw, v); err != nil {
		fmt.Fprintf(buf, "  (cannot show: %v)\n", err)
		return
	}
	for line := range strings.Lines(raw.String()) {
		buf.WriteString("  " + output.Clean(strings.TrimSuffix(line, "\n")) + "\n")
	}
}

// timeClaims are the claims shown as readable times.
var timeClaims = []string{"iat", "nbf", "exp", "auth_time", "updated_at"}

// claimSheet lists the claims, with NumericDates made readable.
func claimSheet(tok *jwtinspect.Token, now time.Time) *output.Sheet {
	s := &output.Sheet{Header: []string{"claim", "value", "meaning"}}
	keys := make([]string, 0, len(tok.Claims))
	for k := range tok.Claims {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := tok.Claims[k]
		text, err := json.Marshal(v)
		if err != nil {
			text = []byte(fmt.Sprint(v))
		}
		if s, ok := v.(string); ok {
			text = []byte(s)
		}
		meaning := ""
		if slices.Contains(timeClaims, k) {
			if n, ok := v.(json.Number); ok {
				if sec, err := n.Int64(); err == nil && sec >= 0 && sec <= 253402300799 {
					meaning = humanTime(time.Unix(sec, 0), now)
				}
			}
		}
		if k == "cdata" {
			meaning = "client data: whom the token was issued to"
		}
		if k == "sub" {
			meaning = "subject"
		}
		if k == "jti" {
			meaning = "token ID"
		}
		s.Append(k, string(text), meaning)
	}
	return s
}

// maxCellRunes is the most of a claim's value that the claims table of
// inspect shows; the Claims block above the table holds it whole. A table
// pads every row to its widest cell, so one long value would otherwise cost
// its length once per claim, in memory and in output.
const maxCellRunes = 120

// shortenCells cuts every cell of s longer than maxCellRunes, marking the
// cut with "…", and returns s.
func shortenCells(s *output.Sheet) *output.Sheet {
	for _, row := range s.Rows {
		for i, cell := range row {
			if len(cell) > maxCellRunes && utf8.RuneCountInString(cell) > maxCellRunes {
				row[i] = string([]rune(cell[:min(len(cell), 4*maxCellRunes)])[:maxCellRunes]) + "…"
			}
		}
	}
	return s
}

// findingSheet lists the findings, most severe first.
func findingSheet(findings []jwtinspect.Finding, style output.Style) *output.Sheet {
	s := &output.Sheet{Header: []string{"severity", "id", "message"}}
	if style.Enabled {
		// Coloured after the table has escaped the cells, which are the
		// token's findings and stay untrusted text.
		s.Paint = func(col int, cell string) string {
			if col == 0 {
				return style.Severity(cell)
			}
			return cell
		}
	}
	fs := slices.Clone(findings)
	slices.SortStableFunc(fs, func(a, b jwtinspect.Finding) int { return b.Severity.Rank() - a.Severity.Rank() })
	for _, f := range fs {
		s.Append(string(f.Severity), f.ID, f.Message)
	}
	return s
}

// expiryText explains the expiry status in words.
func expiryText(tok *jwtinspect.Token, now time.Time) string {
	switch st := tok.ExpiryStatus(now); st {
	case jwtinspect.ExpiryNone:
		return "no-expiry: valid until revoked"
	case jwtinspect.ExpiryExpired:
		return "expired " + humanTime(*tok.Times.Expires, now)
	case jwtinspect.ExpiryNotYetValid:
		return "not-yet-valid: valid from " + humanTime(*tok.Times.NotBefore, now)
	default:
		return "valid until " + humanTime(*tok.Times.Expires, now)
	}
}

// humanTime renders t as "2026-11-28T09:00:00Z (3 hours ago)".
func humanTime(t, now time.Time) string {
	return t.UTC().Format(time.RFC3339) + " (" + relative(t, now) + ")"
}

// relative says how far t is from now in the largest sensible unit.
func relative(t, now time.Time) string {
	d := now.Sub(t)
	suffix := "ago"
	if d < 0 {
		d, suffix = -d, "from now"
	}
	if d < time.Minute {
		if suffix == "ago" {
			return "just now"
		}
		return "in less than a minute"
	}
	var n int64
	var unit string
	switch {
	case d < time.Hour:
		n, unit = int64(d/time.Minute), "minute"
	case d < 48*time.Hour:
		n, unit = int64(d/time.Hour), "hour"
	case d < 60*24*time.Hour:
		n, unit = int64(d/(24*time.Hour)), "day"
	case d < 2*365*24*time.Hour:
		n, unit = int64(d/(30*24*time.Hour)), "month"
	default:
		n, unit = int64(d/(365*24*time.Hour)), "year"
	}
	if n != 1 {
		unit += "s"
	}
	if suffix == "from now" {
		return fmt.Sprintf("in %d %s", n, unit)
	}
	return fmt.Sprintf("%d %s ago", n, unit)
}
