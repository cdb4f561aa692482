package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// This file holds what inspect and verify say of a token the ledger knows:
// still offline, the ledger being a local file.

// ledgerView is the "ledger" member of inspect's and verify's JSON: what
// the ledger knows of the token. Every field is always present; those that
// do not apply are null.
type ledgerView struct {
	// Path is the ledger's file.
	Path string `json:"path"`
	// State is active, revoked, or unknown (the ledger never saw it).
	State       string  `json:"state"`
	CData       *string `json:"cdata"`
	IssuedAt    *string `json:"issued_at"`
	IssuedBy    *string `json:"issued_by"`
	IssuedSeq   *int64  `json:"issued_seq"`
	FirstSeenAt *string `json:"first_seen_at"`
	RevokedAt   *string `json:"revoked_at"`
	RevokedBy   *string `json:"revoked_by"`
	RevokedSeq  *int64  `json:"revoked_seq"`
}

// tokenLedger looks tokens up in the ledger for inspect and verify; a nil
// *tokenLedger is "no ledger", which the JSON says as "ledger": null.
type tokenLedger struct {
	l *audit.Ledger
}

// inspectLedgerFlags are the ledger flags of inspect and verify.
type inspectLedgerFlags struct {
	ledgerFlags
	none bool
}

func (f *inspectLedgerFlags) register(cmd *cobra.Command) {
	f.ledgerFlags.register(cmd)
	cmd.Flags().BoolVar(&f.none, "no-ledger", false, "do not say what the ledger knows of each token")
}

// ledgerKnowsHelp explains the ledger part of inspect's and verify's output.
const ledgerKnowsHelp = `When a ledger is there (--db, $TOKENAUDIT_DB, or the default file when it
exists), each token is looked up in it, read-only and offline: active
since when and issued by whom, revoked when and by whom, or unknown to the
ledger; the JSON member "ledger" says so ({path, state, cdata, issued_at,
issued_by, issued_seq, first_seen_at, revoked_at, revoked_by,
revoked_seq}), and is null when there is no ledger. --no-ledger skips it.`

// openTokenLedger opens the ledger inspect and verify consult, or returns
// nil when there is none: --no-ledger, no ledger file at the path
// TOKENAUDIT_DB or the default names, or no home to find the default in.
// A --db that names no file is an error.
func (a *app) openTokenLedger(f inspectLedgerFlags) (*tokenLedger, error) {
	if f.none {
		return nil, nil
	}
	path, err := a.ledgerPath(f.ledgerFlags)
	if err != nil {
		return nil, nil // no ledger to find
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && f.db == "" {
		return nil, nil
	}
	l, err := a.openLedger(f.ledgerFlags, false)
	if err != nil {
		return nil, withHint(err, "--no-ledger inspects without the ledger")
	}
	return &tokenLedger{l: l}, nil
}

// Close closes the ledger, if any.
func (k *tokenLedger) Close() {
	if k != nil {
		k.l.Close()
	}
}

// view looks a token up; nil without a ledger.
func (k *tokenLedger) view(ctx context.Context, token string) (*ledgerView, error) {
	if k == nil {
		return nil, nil
	}
	v := &ledgerView{Path: k.l.Path(), State: ledgerUnknown}
	t, err := k.l.Token(ctx, jwtinspect.Fingerprint(jwtinspect.Normalize(token)))
	switch {
	case errors.Is(err, audit.ErrNotFound):
		return v, nil
	case err != nil:
		return nil, ledgerError(err)
	}
	text := func(s string) *string { return &s }
	when := func(t time.Time) *string { return timeText(&t) }
	v.State, v.CData = string(t.State), text(t.CData)
	v.IssuedAt, v.IssuedBy, v.IssuedSeq = when(t.IssuedAt), text(t.IssuedBy), &t.IssuedSeq
	v.FirstSeenAt = when(t.FirstSeenAt)
	if t.State == audit.StateRevoked {
		v.RevokedAt, v.RevokedBy, v.RevokedSeq = when(t.RevokedAt), text(t.RevokedBy), t.RevokedSeq
	}
	return v, nil
}

// addJSON adds the "ledger" member to the JSON object that ends out (from
// start), before its closing brace.
func (k *tokenLedger) addJSON(ctx context.Context, out []byte, start int, token string) ([]byte, error) {
	v, err := k.view(ctx, token)
	if err != nil {
		return out, err
	}
	member := ledgerNull
	if v != nil {
		b, err := marshalNoEscape(v)
		if err != nil {
			return out, err
		}
		member = append([]byte(`,"ledger":`), bytes.TrimSpace(b)...)
	}
	i := bytes.LastIndexByte(out[start:], '}')
	if i < 0 {
		return out, errors.New("no JSON object to add the ledger to")
	}
	// What follows the brace is "}" and a newline at most: keep it aside
	// and append, rather than move the whole line.
	var tail [8]byte
	n := copy(tail[:], out[start+i:])
	if n < len(out)-start-i {
		return slices.Insert(out, start+i, member...), nil
	}
	out = append(out[:start+i], member...)
	return append(out, tail[:n]...), nil
}

// ledgerNull is the "ledger" member when there is no ledger.
var ledgerNull = []byte(`,"ledger":null`)

// lines says what the ledger knows of a token, for people, as named rows.
func (v *ledgerView) lines() [][2]string {
	switch v.State {
	case ledgerUnknown:
		return [][2]string{{"state", "unknown: the ledger has no record of this token"}}
	}
	rows := [][2]string{
		{"state", fmt.Sprintf("%s since %s", v.State, *v.IssuedAt)},
		{"issued by", fmt.Sprintf("%s (seq %d)", *v.IssuedBy, *v.IssuedSeq)},
	}
	if v.FirstSeenAt != nil && *v.FirstSeenAt != *v.IssuedAt {
		rows = append(rows, [2]string{"first seen", *v.FirstSeenAt + " (the token's own iat)"})
	}
	if v.State == string(audit.StateRevoked) {
		rows[0][1] = fmt.Sprintf("revoked at %s", *v.RevokedAt)
		rows = append(rows, [2]string{"revoked by", fmt.Sprintf("%s (seq %d)", *v.RevokedBy, *v.RevokedSeq)})
		rows = append(rows, [2]string{"issued at", *v.IssuedAt})
	}
	return rows
}

// addText appends, after a token's text, what the ledger knows of it: an
// indented section on a terminal, a sheet in CSV and Markdown. With
// section unset (verify's table), the rows continue the list above.
func (k *tokenLedger) addText(ctx context.Context, out []byte, token string, format output.Format, style output.Style, section bool) ([]byte, error) {
	v, err := k.view(ctx, token)
	if err != nil || v == nil {
		return out, err
	}
	buf := bytes.NewBuffer(out)
	if format != output.Table {
		s := &output.Sheet{Title: "Ledger " + v.Path, Header: []string{"field", "value"}}
		for _, r := range v.lines() {
			s.Append(r[0], r[1])
		}
		if err := s.Write(buf, format); err != nil {
			return out, err
		}
		buf.WriteString("\n")
		return buf.Bytes(), nil
	}
	if section {
		fmt.Fprintf(buf, "%s %s\n", style.Bold("Ledger"), style.Dim(output.Clean(v.Path)))
	}
	for i, r := range v.lines() {
		name, value := r[0], r[1]
		switch {
		case section:
		case i == 0:
			name = "ledger" // verify's list: "ledger  active since …"
		default:
			name, value = "", r[0]+": "+r[1]
		}
		fmt.Fprintf(buf, "  %-12s %s\n", name, output.Clean(value))
	}
	if section {
		buf.WriteString("\n")
	}
	return buf.Bytes(), nil
}
