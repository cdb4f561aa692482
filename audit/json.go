package audit

import (
	"encoding/json"
	"time"
)

// TimeFormat is the layout of every time the ledger stores (the column ts,
// and created_at in meta) and of every time in its JSON: RFC 3339 in UTC
// with exactly six fractional digits, so that text order is time order.
// encoding/json's own form of a time.Time drops trailing zeros
// ("…48.51855Z" sorts after "…48.518551Z"), so the types below that hold a
// time marshal it in this form instead.
const TimeFormat = tsFormat

// jsonTime is a time.Time that marshals in [TimeFormat]; the zero time is
// zero for omitzero.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeFormat)+2)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, TimeFormat)
	return append(b, '"'), nil
}

func (t jsonTime) IsZero() bool { return time.Time(t).IsZero() }

// The plain* types have the fields of the types below but not their
// methods, so that MarshalJSON can marshal the fields without calling
// itself. A field of the outer struct hides the embedded field that has
// the same JSON name (encoding/json prefers the shallower one).
type (
	plainEvent  Event
	plainToken  Token
	plainReport Report
	plainInfo   Info
)

// tokenJSON is a Token's JSON form, which AgedToken extends.
type tokenJSON struct {
	plainToken
	IssuedAt    jsonTime `json:"issued_at"`
	RevokedAt   jsonTime `json:"revoked_at,omitzero"`
	TokenIAT    jsonTime `json:"token_iat,omitzero"`
	FirstSeenAt jsonTime `json:"first_seen_at"`
}

func newTokenJSON(t Token) tokenJSON {
	return tokenJSON{plainToken: plainToken(t), IssuedAt: jsonTime(t.IssuedAt), RevokedAt: jsonTime(t.RevokedAt),
		TokenIAT: jsonTime(t.TokenIAT), FirstSeenAt: jsonTime(t.FirstSeenAt)}
}

// MarshalJSON writes the event with the column names as keys and ts in
// [TimeFormat].
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainEvent
		TS jsonTime `json:"ts"`
	}{plainEvent(e), jsonTime(e.TS)})
}

// MarshalJSON writes the token with the column names as keys and its
// times in [TimeFormat].
func (t Token) MarshalJSON() ([]byte, error) { return json.Marshal(newTokenJSON(t)) }

// MarshalJSON writes the token as [Token.MarshalJSON] does, with its age.
func (t AgedToken) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		tokenJSON
		AgeSeconds int64 `json:"age_seconds"`
	}{newTokenJSON(t.Token), t.AgeSeconds})
}

// MarshalJSON writes the report with its times in [TimeFormat].
func (r Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainReport
		GeneratedAt jsonTime `json:"generated_at"`
	}{plainReport(r), jsonTime(r.GeneratedAt)})
}

// MarshalJSON writes the ledger's description with created_at in
// [TimeFormat].
func (i Info) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainInfo
		CreatedAt jsonTime `json:"created_at"`
	}{plainInfo(i), jsonTime(i.CreatedAt)})
}
