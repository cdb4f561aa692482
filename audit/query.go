package audit

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// MinFingerprintPrefix is the fewest hex digits a fingerprint prefix may have.
const MinFingerprintPrefix = 8

// EventFilter selects events for [Ledger.Events]. The zero value selects
// every event, oldest first. Fields combine with AND.
type EventFilter struct {
	// Kinds keeps events of these kinds; empty keeps every kind.
	Kinds []Kind
	// Fingerprint keeps the events of one token: a full fingerprint, or a
	// prefix of at least MinFingerprintPrefix hex digits, with or without
	// "sha256:".
	Fingerprint string
	// CData keeps events whose cdata equals it (or starts with it, when
	// CDataPrefix is set). Empty keeps all.
	CData string
	// CDataPrefix makes CData a prefix match.
	CDataPrefix bool
	// Subject keeps events whose subject equals it.
	Subject string
	// Actor keeps events whose actor equals it.
	Actor string
	// Since keeps events recorded at or after it, when not zero.
	Since time.Time
	// Until keeps events recorded before it, when not zero.
	Until time.Time
	// FromSeq keeps events with seq >= FromSeq (to list events after seq s,
	// set FromSeq to s+1).
	FromSeq int64
	// Limit caps the number of events; 0 means no limit.
	Limit int
	// Newest lists the newest events first.
	Newest bool
}

// State is a token's state in the tokens view.
type State string

// The token states.
const (
	// StateActive: the token's latest state-changing event is its issue or
	// import, or a seen_live event (the server listed it after it was
	// recorded revoked). Tokens never expire: an active token works.
	StateActive State = "active"
	// StateRevoked: the token's latest state-changing event is a revoke or
	// revoked_elsewhere event.
	StateRevoked State = "revoked"
)

// Token is one row of the view tokens: a token the ledger knows, born by
// its first issue or import event, in the state of its latest
// state-changing event (see [State]). The JSON names are the column names.
type Token struct {
	// Fingerprint identifies the token.
	Fingerprint string `json:"fingerprint"`
	// CData is the token's cdata: who it was handed to.
	CData string `json:"cdata"`
	// Subject is the token's "sub" claim.
	Subject string `json:"subject"`
	// IssuedAt is when the issue (or import) was recorded.
	IssuedAt time.Time `json:"issued_at"`
	// IssuedBy is the actor of the issue (or import).
	IssuedBy string `json:"issued_by"`
	// IssuedSeq is the seq of the issue (or import) event.
	IssuedSeq int64 `json:"issued_seq"`
	// RevokedAt is when the revocation was recorded; zero when active.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// RevokedBy is the actor of the revocation; empty when active.
	RevokedBy string `json:"revoked_by,omitempty"`
	// RevokedSeq is the seq of the revocation event; nil when active.
	RevokedSeq *int64 `json:"revoked_seq,omitempty"`
	// State is active or revoked.
	State State `json:"state"`
	// APIURL is the API the token came from, as its issue or import event
	// recorded it ("" when unknown, as for a file import without an API).
	APIURL string `json:"api_url"`
	// TokenIAT is the token's own iat claim, when it says the token is older
	// than its record (at least a minute before it).
	TokenIAT time.Time `json:"token_iat,omitzero"`
	// FirstSeenAt is the earliest evidence of the token: the earlier of
	// IssuedAt and TokenIAT. Ages are counted from it.
	FirstSeenAt time.Time `json:"first_seen_at"`
	// StateSeq is the seq of the event that set the token's state.
	StateSeq int64 `json:"state_seq"`
}

// APIIdentity returns the API identity of the token's issue or import
// event, as recorded in its actor ("USER@HOST via IDENTITY"), or "".
func (t Token) APIIdentity() string { return actorIdentity(t.IssuedBy) }

// actorIdentity returns the IDENTITY of an actor "USER@HOST via IDENTITY".
func actorIdentity(actor string) string {
	_, id, _ := strings.Cut(actor, " via ")
	return id
}

// Age returns how long the token has existed at time now, counted from
// the earliest evidence of it (FirstSeenAt).
func (t Token) Age(now time.Time) time.Duration { return now.Sub(t.FirstSeenAt) }

// TokenFilter selects tokens for [Ledger.Tokens]. The zero value selects
// every token, in the order they were recorded. Fields combine with AND.
type TokenFilter struct {
	// State keeps tokens in this state; empty keeps both.
	State State
	// Fingerprint keeps one token: a full fingerprint or a prefix of at
	// least MinFingerprintPrefix hex digits, with or without "sha256:".
	Fingerprint string
	// CData keeps tokens whose cdata equals it (or starts with it, when
	// CDataPrefix is set). Empty keeps all.
	CData string
	// CDataPrefix makes CData a prefix match.
	CDataPrefix bool
	// Subject keeps tokens whose subject equals it.
	Subject string
	// IssuedBefore keeps tokens issued before it, when not zero.
	IssuedBefore time.Time
	// IssuedSince keeps tokens issued at or after it, when not zero.
	IssuedSince time.Time
	// MinAge keeps tokens at least this old by the ledger's clock (see
	// [WithNow]), when positive: "older than 90 days". Age counts from the
	// earliest evidence of the token (first_seen_at: the earlier of the
	// ledger's record and the token's own iat).
	MinAge time.Duration
	// MaxAge keeps tokens younger than this (first_seen_at after now-MaxAge),
	// when positive: "newer than 7 days".
	MaxAge time.Duration
	// Limit caps the number of tokens; 0 means no limit.
	Limit int
	// Newest lists the most recently issued tokens first.
	Newest bool
}

// where accumulates SQL conditions and their arguments.
type where struct {
	conds []string
	args  []any
	db    backend // for prefixEnd
}

// add appends a condition with its arguments.
func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// String renders the WHERE clause, or nothing.
func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// query renders a whole query: selection, conditions, order (descending
// when newest) and limit (none when 0).
func (w *where) query(selection, order string, newest bool, limit int) string {
	q := selection + w.String() + " ORDER BY " + order
	if newest {
		q += " DESC"
	}
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	return q
}

// fingerprintRange turns a fingerprint or prefix into the range of stored
// fingerprints it matches: lo <= fingerprint < hi, or, for a full
// fingerprint, lo itself and an empty hi.
func fingerprintRange(q string) (lo, hi string, err error) {
	h := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(q)), jwtinspect.FingerprintPrefix)
	switch {
	case !isLowerHex(h):
		return "", "", fmt.Errorf("fingerprint %q is not hex", truncate(q, 80))
	case len(h) < MinFingerprintPrefix:
		return "", "", fmt.Errorf("fingerprint prefix %q is shorter than %d hex digits", q, MinFingerprintPrefix)
	case len(h) > 64:
		return "", "", fmt.Errorf("fingerprint %q is longer than 64 hex digits", truncate(q, 80))
	}
	lo = jwtinspect.FingerprintPrefix + h
	if len(h) == 64 {
		return lo, "", nil
	}
	return lo, lo + "\xff", nil
}

// fingerprintKey returns the fingerprint_key of the fingerprint fp
// ("sha256:" and 64 hex digits): the first 8 hex digits of the hash, then
// its last 8, read as a big-endian 64-bit number and kept as its signed
// two's-complement pattern (see v3Indexes).
func fingerprintKey(fp string) int64 {
	h := fp[len(jwtinspect.FingerprintPrefix):]
	u, _ := strconv.ParseUint(h[:8]+h[len(h)-8:], 16, 64)
	return int64(u)
}

// keyRange returns the range of fingerprint_key, klo <= key <= khi, of
// the fingerprints starting with lo ("sha256:" and at least 8 hex digits,
// as fingerprintRange returns it). A full fingerprint has one key; a
// prefix fixes the high half, its sign among it, so that the range is the
// same in signed order.
func keyRange(lo string) (klo, khi int64) {
	h := lo[len(jwtinspect.FingerprintPrefix):]
	if len(h) == 64 {
		k := fingerprintKey(lo)
		return k, k
	}
	high, _ := strconv.ParseUint(h[:8], 16, 64)
	return int64(high << 32), int64(high<<32 | 0xffffffff)
}

// addFingerprint adds a match on a full fingerprint or a prefix: on
// fingerprint_key, which the indexes hold, and on the text, which tells
// apart fingerprints sharing a key.
func (w *where) addFingerprint(q string) error {
	lo, hi, err := fingerprintRange(q)
	if err != nil {
		return err
	}
	klo, khi := keyRange(lo)
	if hi == "" {
		w.add("fingerprint_key = ? AND fingerprint = ?", klo, lo)
	} else {
		w.add("fingerprint_key BETWEEN ? AND ? AND fingerprint >= ? AND fingerprint < ?", klo, khi, lo, w.db.prefixEnd(lo))
	}
	return nil
}

// addText adds an exact or prefix match on a text column.
func (w *where) addText(col, v string, prefix bool) {
	if v == "" {
		return
	}
	if prefix {
		// Every string starting with v sorts in [v, prefixEnd(v)); this
		// range uses the column's index.
		w.add(col+" >= ? AND "+col+" < ?", v, w.db.prefixEnd(v))
		return
	}
	w.add(col+" = ?", v)
}

// eventColumns are the columns of events, in the order scanEvent reads them.
const eventColumns = "seq, ts, kind, fingerprint, cdata, subject, actor, api_url, http_status, request_seq, error, detail, leaf_hash"

// insertColumns are the columns of events AppendBatch writes, in the order
// of appendEventArgs: eventColumns and fingerprint_key.
const insertColumns = eventColumns + ", fingerprint_key"

// scanEvent reads one row of eventColumns.
func scanEvent(rows *sql.Rows) (Event, error) {
	var (
		e            Event
		ts           string
		status, reqs sql.NullInt64
		detail       string
		leaf         []byte
	)
	if err := rows.Scan(&e.Seq, &ts, &e.Kind, &e.Fingerprint, &e.CData, &e.Subject, &e.Actor, &e.APIURL,
		&status, &reqs, &e.Error, &detail, &leaf); err != nil {
		return Event{}, err
	}
	var err error
	if e.TS, err = parseTS(ts); err != nil {
		return Event{}, fmt.Errorf("seq %d: %w", e.Seq, err)
	}
	e.HTTPStatus = int(status.Int64)
	if reqs.Valid {
		e.RequestSeq = &reqs.Int64
	}
	e.Detail = []byte(detail)
	e.LeafHash = hex.EncodeToString(leaf)
	return e, nil
}

// eventQuery builds the SQL for f on SQLite, whose plans TestQueryPlans reads.
func eventQuery(f EventFilter) (string, []any, error) { return eventQueryOn(sqliteBackend{}, f) }

// eventQueryOn builds the SQL for f on backend db.
func eventQueryOn(db backend, f EventFilter) (string, []any, error) {
	w := where{db: db}
	if len(f.Kinds) > 0 {
		marks := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			if !k.Valid() {
				return "", nil, fmt.Errorf("unknown event kind %q", k)
			}
			marks[i] = "?"
			w.args = append(w.args, string(k))
		}
		w.conds = append(w.conds, "kind IN ("+strings.Join(marks, ", ")+")")
	}
	if f.Fingerprint != "" {
		if err := w.addFingerprint(f.Fingerprint); err != nil {
			return "", nil, err
		}
	}
	w.addText("cdata", f.CData, f.CDataPrefix)
	w.addText("subject", f.Subject, false)
	w.addText("actor", f.Actor, false)
	if !f.Since.IsZero() {
		w.add("ts >= ?", formatTS(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("ts < ?", formatTS(f.Until))
	}
	if f.FromSeq > 0 {
		w.add("seq >= ?", f.FromSeq)
	}
	return w.query("SELECT "+eventColumns+" FROM events", "seq", f.Newest, f.Limit), w.args, nil
}

// Events streams the events f selects, in seq order (newest first with
// f.Newest), from one read snapshot. Iteration stops at the first error,
// which is yielded with a zero Event; breaking out of the loop releases the
// snapshot.
//
//	for e, err := range ledger.Events(ctx, audit.EventFilter{CData: "acme"}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(e.Seq, e.Kind, e.Fingerprint)
//	}
func (l *Ledger) Events(ctx context.Context, f EventFilter) iter.Seq2[Event, error] {
	q, args, err := eventQueryOn(l.db, f)
	if err != nil {
		return failed[Event](fmt.Errorf("audit: events: %w", err))
	}
	return stream(ctx, l, "events", q, args, scanEvent)
}

// tokenColumns are the columns of the view tokens, in scanToken's order.
const tokenColumns = "fingerprint, cdata, subject, issued_at, issued_by, issued_seq, revoked_at, revoked_by, revoked_seq, state, api_url, token_iat, first_seen_at, state_seq"

// scanToken reads one row of tokenColumns.
func scanToken(rows *sql.Rows) (Token, error) {
	var (
		t                            Token
		issued, firstSeen            string
		revoked, revokedBy, tokenIAT sql.NullString
		revokedSeq                   sql.NullInt64
	)
	if err := rows.Scan(&t.Fingerprint, &t.CData, &t.Subject, &issued, &t.IssuedBy, &t.IssuedSeq,
		&revoked, &revokedBy, &revokedSeq, &t.State, &t.APIURL, &tokenIAT, &firstSeen, &t.StateSeq); err != nil {
		return Token{}, err
	}
	var err error
	if t.IssuedAt, err = parseTS(issued); err != nil {
		return Token{}, fmt.Errorf("token issued at seq %d: %w", t.IssuedSeq, err)
	}
	if revoked.Valid {
		if t.RevokedAt, err = parseTS(revoked.String); err != nil {
			return Token{}, fmt.Errorf("token revoked at seq %d: %w", revokedSeq.Int64, err)
		}
	}
	if tokenIAT.Valid {
		if t.TokenIAT, err = parseTS(tokenIAT.String); err != nil {
			return Token{}, fmt.Errorf("token issued at seq %d: token_iat: %w", t.IssuedSeq, err)
		}
	}
	if t.FirstSeenAt, err = parseTS(firstSeen); err != nil {
		return Token{}, fmt.Errorf("token issued at seq %d: first_seen_at: %w", t.IssuedSeq, err)
	}
	t.RevokedBy = revokedBy.String
	if revokedSeq.Valid {
		t.RevokedSeq = &revokedSeq.Int64
	}
	return t, nil
}

// tokenQuery builds the SQL for f, at time now, on SQLite (see eventQuery).
func tokenQuery(f TokenFilter, now time.Time) (string, []any, error) {
	return tokenQueryOn(sqliteBackend{}, f, now)
}

// tokenQueryOn builds the SQL for f at time now on backend db.
func tokenQueryOn(db backend, f TokenFilter, now time.Time) (string, []any, error) {
	w := where{db: db}
	switch f.State {
	case "":
	case StateActive, StateRevoked:
		w.add("state = ?", string(f.State))
	default:
		return "", nil, fmt.Errorf("unknown token state %q (want %q or %q)", f.State, StateActive, StateRevoked)
	}
	if f.Fingerprint != "" {
		if err := w.addFingerprint(f.Fingerprint); err != nil {
			return "", nil, err
		}
	}
	w.addText("cdata", f.CData, f.CDataPrefix)
	w.addText("subject", f.Subject, false)
	before := f.IssuedBefore
	if !before.IsZero() {
		w.add("issued_at < ?", formatTS(before))
	}
	if f.MinAge > 0 {
		w.add("first_seen_at < ?", formatTS(now.Add(-f.MinAge)))
	}
	if f.MaxAge > 0 {
		w.add("first_seen_at > ?", formatTS(now.Add(-f.MaxAge)))
	}
	if !f.IssuedSince.IsZero() {
		w.add("issued_at >= ?", formatTS(f.IssuedSince))
	}
	return w.query("SELECT "+tokenColumns+" FROM tokens", "issued_seq", f.Newest, f.Limit), w.args, nil
}

// Tokens streams the tokens f selects from the view tokens, in the order
// they were recorded (newest first with f.Newest), from one read snapshot.
// Iteration stops at the first error, yielded with a zero Token.
func (l *Ledger) Tokens(ctx context.Context, f TokenFilter) iter.Seq2[Token, error] {
	q, args, err := tokenQueryOn(l.db, f, l.now())
	if err != nil {
		return failed[Token](fmt.Errorf("audit: tokens: %w", err))
	}
	return stream(ctx, l, "tokens", q, args, scanToken)
}

// Token returns the token with the given fingerprint, or the one token
// whose fingerprint starts with the given prefix (at least
// MinFingerprintPrefix hex digits). It returns [ErrNotFound] when none
// matches and [ErrAmbiguous] when several do.
func (l *Ledger) Token(ctx context.Context, fingerprint string) (Token, error) {
	var found []Token
	for t, err := range l.Tokens(ctx, TokenFilter{Fingerprint: fingerprint, Limit: 2}) {
		if err != nil {
			return Token{}, err
		}
		found = append(found, t)
	}
	switch len(found) {
	case 0:
		return Token{}, fmt.Errorf("%w: no token with fingerprint %s", ErrNotFound, fingerprint)
	case 1:
		return found[0], nil
	default:
		return Token{}, fmt.Errorf("%w: %s matches more than one token", ErrAmbiguous, fingerprint)
	}
}

// failed returns a sequence that yields only err.
func failed[T any](err error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		yield(zero, err)
	}
}

// stream runs a query on the read pool and yields each scanned row.
func stream[T any](ctx context.Context, l *Ledger, what, q string, args []any, scan func(*sql.Rows) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		r, err := l.reader()
		if err != nil {
			yield(zero, err)
			return
		}
		rows, err := r.QueryContext(ctx, q, args...)
		if err != nil {
			yield(zero, fmt.Errorf("audit: %s: %w", what, classify(err)))
			return
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				yield(zero, fmt.Errorf("audit: %s: %w", what, err))
				return
			}
			if !yield(v, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(zero, fmt.Errorf("audit: %s: %w", what, classify(err)))
		}
	}
}
