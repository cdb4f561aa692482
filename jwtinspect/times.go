package jwtinspect

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Times holds a token's time claims (RFC 7519 §4.1.4–4.1.6), in UTC. A
// field is nil when the claim is absent or not a valid NumericDate (the
// latter also gets a numeric-date-invalid finding).
type Times struct {
	IssuedAt  *time.Time `json:"iat,omitempty"` // iat: when the token was issued
	NotBefore *time.Time `json:"nbf,omitempty"` // nbf: when it becomes valid
	Expires   *time.Time `json:"exp,omitempty"` // exp: when it expires
}

// ExpiryStatus says whether a token is valid at some time.
type ExpiryStatus string

// Expiry statuses.
const (
	ExpiryValid       ExpiryStatus = "valid"         // not before nbf, and before exp
	ExpiryExpired     ExpiryStatus = "expired"       // at or after exp
	ExpiryNotYetValid ExpiryStatus = "not-yet-valid" // before nbf
	ExpiryNone        ExpiryStatus = "no-expiry"     // no exp (every Woleet token): valid until revoked
)

// Status returns the status at now, with leeway (which may be 0) granted on
// both sides: expired when now ≥ exp+leeway, not yet valid when now <
// nbf−leeway. Expiry is checked first.
func (ts Times) Status(now time.Time, leeway time.Duration) ExpiryStatus {
	switch {
	case ts.Expires != nil && !now.Before(ts.Expires.Add(leeway)):
		return ExpiryExpired
	case ts.NotBefore != nil && now.Before(ts.NotBefore.Add(-leeway)):
		return ExpiryNotYetValid
	case ts.Expires == nil:
		return ExpiryNone
	}
	return ExpiryValid
}

// maxNumericDate is 9999-12-31T23:59:59Z, the last second a NumericDate may
// name here; values before 1970 are refused as well.
const maxNumericDate = 253402300799

// numericDate converts a claim value to a time, or says why it is not a
// valid NumericDate.
func numericDate(v any) (time.Time, string) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, "is " + jsonKind(v) + ", not a number"
	}
	return numberDate(string(n))
}

// numericDateText is numericDate of a value given as its JSON text, which
// the scanner accepted.
func numericDateText(text string) (time.Time, string) {
	var kind string
	switch text[0] {
	case '"':
		kind = "a string"
	case 't', 'f':
		kind = "a boolean"
	case 'n':
		kind = "null"
	case '[':
		kind = "an array"
	case '{':
		kind = "an object"
	default:
		return numberDate(text)
	}
	return time.Time{}, "is " + kind + ", not a number"
}

// numberDate converts the text of a JSON number to a time.
func numberDate(s string) (time.Time, string) {
	if sec, ok := smallUint(s); ok {
		// The common case: seconds as a plain integer, read as ParseInt
		// would read it, with less work.
		if sec > maxNumericDate {
			return time.Time{}, "is out of range"
		}
		return time.Unix(sec, 0).UTC(), ""
	}
	if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
		if sec < 0 || sec > maxNumericDate {
			return time.Time{}, "is out of range"
		}
		return time.Unix(sec, 0).UTC(), ""
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > maxNumericDate || math.IsNaN(f) {
		return time.Time{}, "is out of range"
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), ""
}

// jsonKind names the JSON type of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "a number"
}

// timeClaimNames are the time claims, in the order checkTimes reads them.
var timeClaimNames = [...]string{"iat", "nbf", "exp"}

// checkTimes fills t.Times from the claims and adds the time findings,
// reading the clock only when exp or nbf needs it.
func (t *Token) checkTimes(clock func() time.Time) {
	t.checkTimesOf(clock, func(i int) (time.Time, string, bool) {
		v, ok := t.Claims[timeClaimNames[i]]
		if !ok {
			return time.Time{}, "", false
		}
		tm, why := numericDate(v)
		return tm, why, true
	})
}

// checkTimesOf is checkTimes with the claims read by claim, which returns
// numericDate of claim timeClaimNames[i], or false when it is absent.
func (t *Token) checkTimesOf(clock func() time.Time, claim func(i int) (tm time.Time, why string, ok bool)) {
	hasExp := false
	for i, dst := range [...]**time.Time{&t.Times.IssuedAt, &t.Times.NotBefore, &t.Times.Expires} {
		tm, why, ok := claim(i)
		if !ok {
			continue
		}
		name := timeClaimNames[i]
		hasExp = hasExp || name == "exp"
		if why != "" {
			t.add(FindingNumericDateInvalid, SeverityMedium,
				fmt.Sprintf("claim %q %s: it must be seconds since 1970 (RFC 7519 NumericDate) up to year 9999", name, why))
			continue
		}
		t.timesBuf[i] = tm
		*dst = &t.timesBuf[i]
	}
	ts := t.Times
	if !hasExp {
		t.add(FindingNoExpiry, SeverityLow, "no exp claim: the token never expires and stays valid until it is revoked")
	}
	if ts.Expires == nil && ts.NotBefore == nil {
		return
	}
	now := clock().UTC()
	if ts.Expires != nil && !now.Before(*ts.Expires) {
		t.add(FindingExpired, SeverityInfo, timeMessage("expired at ", *ts.Expires))
	}
	if ts.NotBefore != nil && now.Before(*ts.NotBefore) {
		t.add(FindingNotYetValid, SeverityInfo, timeMessage("not valid before ", *ts.NotBefore))
	}
	if ts.Expires != nil && ts.IssuedAt != nil && ts.Expires.Before(*ts.IssuedAt) {
		t.add(FindingExpBeforeIat, SeverityLow,
			"exp ("+rfc3339(*ts.Expires)+") is before iat ("+rfc3339(*ts.IssuedAt)+"): the token was issued already expired")
	}
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// timeMessage returns prefix followed by the time in RFC 3339, in one allocation.
func timeMessage(prefix string, t time.Time) string {
	var buf [64]byte
	return string(t.UTC().AppendFormat(append(buf[:0], prefix...), time.RFC3339Nano))
}

// smallUint returns the value of s when it is 1 to 18 decimal digits (so
// that it cannot overflow).
func smallUint(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
