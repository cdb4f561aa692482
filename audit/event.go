package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tokenaudit/tokenaudit/internal/tokentext"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// Kind is what an event records. The ledger accepts only the kinds below;
// the tokens view is built from them (see the package documentation).
type Kind string

// The event kinds.
const (
	// KindIssueRequested is written, and committed, before the API is asked
	// for a token. An issue_requested event with no later issue or
	// issue_failed event whose request_seq points at it means the outcome
	// is unknown.
	KindIssueRequested Kind = "issue_requested"
	// KindIssue records a token the API issued: fingerprint, cdata, sub
	// and the claims (never the token). request_seq names the request.
	KindIssue Kind = "issue"
	// KindIssueFailed records that an issue request failed; the detail says
	// "outcome": "unknown" when a token may nonetheless exist.
	KindIssueFailed Kind = "issue_failed"
	// KindRevoke records a token revoked through the API.
	KindRevoke Kind = "revoke"
	// KindRevokeFailed records a revocation the API refused or did not
	// answer. The token stays active in the tokens view.
	KindRevokeFailed Kind = "revoke_failed"
	// KindImport records a token issued outside tokenaudit (by import, or
	// found by reconcile on the server).
	KindImport Kind = "import"
	// KindRevokedElsewhere records that reconcile found a token the ledger
	// held as active missing from the server's list: it was revoked by
	// someone or something other than tokenaudit.
	KindRevokedElsewhere Kind = "revoked_elsewhere"
	// KindSeenLive records that reconcile found a token the ledger held as
	// revoked in the server's list of live tokens: it works, and the
	// tokens view shows it active again.
	KindSeenLive Kind = "seen_live"
	// KindSettled records what a complete reconcile found about an
	// outcome that was unknown: request_seq names the event left pending
	// (an issue_requested with no answer, or an issue_failed or
	// revoke_failed with outcome unknown) and the detail says what was
	// found ("outcome"). A pending revoke the server no longer lists is
	// settled by a revoke event instead, and a pending issue whose token
	// reconcile found by an import event, each with that request_seq.
	KindSettled Kind = "settled"
	// KindReconciled records that a complete reconcile with Apply ran (see
	// [ReconcileOptions.Summary]): the detail counts what it compared and
	// recorded. It is about no token and changes no state; the newest one
	// says when the ledger was last known to agree with the API.
	KindReconciled Kind = "reconciled"
)

// Kinds lists every event kind the ledger accepts, in a stable order.
func Kinds() []Kind {
	return []Kind{KindIssueRequested, KindIssue, KindIssueFailed, KindRevoke,
		KindRevokeFailed, KindImport, KindRevokedElsewhere, KindSeenLive, KindSettled, KindReconciled}
}

// Valid reports whether k is one of [Kinds].
func (k Kind) Valid() bool {
	switch k {
	case KindIssueRequested, KindIssue, KindIssueFailed, KindRevoke,
		KindRevokeFailed, KindImport, KindRevokedElsewhere, KindSeenLive, KindSettled, KindReconciled:
		return true
	}
	return false
}

// needsFingerprint reports whether events of kind k are about one token.
func (k Kind) needsFingerprint() bool {
	switch k {
	case KindIssue, KindRevoke, KindRevokeFailed, KindImport, KindRevokedElsewhere, KindSeenLive:
		return true
	}
	return false
}

// Event is one row of the table events. The JSON names are the column names.
//
// When appending, the ledger sets Seq, TS and LeafHash, and Actor when it is
// empty; the caller sets the rest. No field may hold a raw token: [Ledger.Append]
// refuses text that looks like a compact JWT.
type Event struct {
	// Seq is the event's position, dense from 0; it is the Merkle leaf index.
	Seq int64 `json:"seq"`
	// TS is when the ledger recorded the event, UTC, microsecond precision.
	TS time.Time `json:"ts"`
	// Kind is what happened.
	Kind Kind `json:"kind"`
	// Fingerprint identifies the token ("sha256:" + 64 hex digits), or is
	// empty for events not about one token (issue_requested, issue_failed).
	Fingerprint string `json:"fingerprint"`
	// CData is the token's cdata (or, for issue_requested, the one asked for).
	CData string `json:"cdata"`
	// Subject is the token's "sub" claim, if any.
	Subject string `json:"subject"`
	// Actor says who acted: "USER@HOST", then " via " and the API identity
	// when the API was involved (see [LocalActor]).
	Actor string `json:"actor"`
	// APIURL is the API base URL the action went to, if any.
	APIURL string `json:"api_url"`
	// HTTPStatus is the API's HTTP status, or 0 (NULL) when there was none.
	HTTPStatus int `json:"http_status,omitempty"`
	// RequestSeq, for issue and issue_failed, is the seq of the
	// issue_requested event answered; nil (NULL) otherwise.
	RequestSeq *int64 `json:"request_seq,omitempty"`
	// Error is the error text of a failed action, with no token in it.
	Error string `json:"error"`
	// Detail is a JSON object with kind-specific data (claims, outcome,
	// source); "{}" when there is nothing.
	Detail json.RawMessage `json:"detail"`
	// LeafHash is the lowercase hex RFC 6962 leaf hash of the event's leaf
	// encoding (see [Event.LeafBytes]).
	LeafHash string `json:"leaf_hash"`
}

// maxFieldLen bounds every text field of an event (detail included).
const maxFieldLen = 1 << 20

// normalize fills defaults (an empty detail becomes "{}") and compacts the
// detail JSON, so that what is stored and hashed is canonical.
func (e *Event) normalize() error {
	if len(e.Detail) == 0 {
		e.Detail = json.RawMessage("{}")
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, e.Detail); err != nil {
		return fmt.Errorf("detail is not valid JSON: %w", err)
	}
	if buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return errors.New("detail must be a JSON object")
	}
	e.Detail = buf.Bytes()
	return nil
}

// recordable reports whether Append would accept e, as far as that can be
// told before it has a seq: the checks of validate, on a normalized copy.
func (e Event) recordable() error {
	c := e
	c.Seq, c.RequestSeq = 0, nil
	c.Detail = append(json.RawMessage(nil), e.Detail...)
	if err := c.normalize(); err != nil {
		return err
	}
	return c.validate()
}

// validate checks what the ledger requires of an event before it is
// appended (or accepts from a leaf): a known kind, a well-formed fingerprint
// where one is needed, UTF-8 text without NUL, bounded sizes, and no raw
// token anywhere.
func (e *Event) validate() error {
	if !e.Kind.Valid() {
		return fmt.Errorf("unknown event kind %q", e.Kind)
	}
	if e.Seq < 0 {
		return fmt.Errorf("negative seq %d", e.Seq)
	}
	if e.Fingerprint != "" && !validFingerprint(e.Fingerprint) {
		return fmt.Errorf("fingerprint %q is not %s followed by 64 lowercase hex digits", truncate(e.Fingerprint, 80), jwtinspect.FingerprintPrefix)
	}
	if e.Kind.needsFingerprint() && e.Fingerprint == "" {
		return fmt.Errorf("a %s event needs a fingerprint", e.Kind)
	}
	if e.HTTPStatus != 0 && (e.HTTPStatus < 100 || e.HTTPStatus > 599) {
		return fmt.Errorf("http_status %d is not an HTTP status", e.HTTPStatus)
	}
	if e.RequestSeq != nil && (*e.RequestSeq < 0 || *e.RequestSeq >= e.Seq) {
		return fmt.Errorf("request_seq %d does not name an earlier event", *e.RequestSeq)
	}
	for _, f := range []struct{ name, v string }{
		{"cdata", e.CData}, {"subject", e.Subject}, {"actor", e.Actor},
		{"api_url", e.APIURL}, {"error", e.Error}, {"detail", string(e.Detail)},
	} {
		if len(f.v) > maxFieldLen {
			return fmt.Errorf("%s is longer than %d bytes", f.name, maxFieldLen)
		}
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("%s is not valid UTF-8", f.name)
		}
		if strings.IndexByte(f.v, 0) >= 0 {
			return fmt.Errorf("%s contains a NUL byte", f.name)
		}
		if containsJWT(f.v) {
			return fmt.Errorf("%s looks like it contains a raw token; the ledger stores only fingerprints", f.name)
		}
	}
	return nil
}

// validFingerprint reports whether fp is "sha256:" and 64 lowercase hex digits.
func validFingerprint(fp string) bool {
	h, ok := strings.CutPrefix(fp, jwtinspect.FingerprintPrefix)
	return ok && len(h) == 64 && isLowerHex(h)
}

// isLowerHex reports whether s is made of 0-9 and a-f only.
func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// truncate shortens s to at most n bytes, on a rune boundary, for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// containsJWT reports whether s contains something shaped like a compact JWS
// or JWE (see [tokentext.Find]). It is the ledger's last line of defence
// against a credential being written into it.
func containsJWT(s string) bool { return tokentext.Contains(s) }

// redactJWTs replaces everything in s shaped like a token by
// "[token sha256:…]" with its short fingerprint ([tokentext.Redact]), so
// that a message can be recorded without the credential in it.
func redactJWTs(s string) string { return tokentext.Redact(s) }
