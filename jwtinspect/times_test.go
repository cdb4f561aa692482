package jwtinspect

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestNumericDate(t *testing.T) {
	exp := time.Date(2011, 3, 22, 18, 43, 0, 0, time.UTC)
	tests := []struct {
		v    any
		want time.Time
		why  string
	}{
		{json.Number("1300819380"), exp, ""},
		{json.Number("1300819380.5"), exp.Add(500 * time.Millisecond), ""},
		{json.Number("1.30081938e9"), exp, ""},
		{json.Number("13008193800E-1"), exp, ""},
		{json.Number("0"), time.Unix(0, 0).UTC(), ""},
		{json.Number("-0"), time.Unix(0, 0).UTC(), ""},
		{json.Number("253402300799"), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), ""},
		{json.Number("253402300800"), time.Time{}, "is out of range"},
		{json.Number("-1"), time.Time{}, "is out of range"},
		{json.Number("-0.5"), time.Time{}, "is out of range"},
		{json.Number("1e400"), time.Time{}, "is out of range"},
		{json.Number("99999999999999999999"), time.Time{}, "is out of range"},
		{json.Number("999999999999999999"), time.Time{}, "is out of range"},  // 18 digits
		{json.Number("9223372036854775807"), time.Time{}, "is out of range"}, // 19
		{json.Number("0001300819380"), exp, ""},
		{"1300819380", time.Time{}, "is a string, not a number"},
		{true, time.Time{}, "is a boolean, not a number"},
		{nil, time.Time{}, "is null, not a number"},
		{[]any{}, time.Time{}, "is an array, not a number"},
		{map[string]any{}, time.Time{}, "is an object, not a number"},
	}
	for _, tc := range tests {
		got, why := numericDate(tc.v)
		if !got.Equal(tc.want) || why != tc.why {
			t.Errorf("numericDate(%#v) = %v, %q; want %v, %q", tc.v, got, why, tc.want, tc.why)
		}
	}
}

func TestExpiryStatus(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	tests := []struct {
		name   string
		times  Times
		leeway time.Duration
		want   ExpiryStatus
	}{
		{"no exp", Times{}, 0, ExpiryNone},
		{"no exp, only iat", Times{IssuedAt: at(-time.Hour)}, 0, ExpiryNone},
		{"exp ahead", Times{Expires: at(time.Second)}, 0, ExpiryValid},
		{"exp now", Times{Expires: at(0)}, 0, ExpiryExpired},
		{"exp passed", Times{Expires: at(-time.Second)}, 0, ExpiryExpired},
		{"exp passed within leeway", Times{Expires: at(-time.Second)}, time.Minute, ExpiryValid},
		{"exp passed beyond leeway", Times{Expires: at(-61 * time.Second)}, time.Minute, ExpiryExpired},
		{"nbf ahead", Times{NotBefore: at(time.Second), Expires: at(time.Hour)}, 0, ExpiryNotYetValid},
		{"nbf ahead within leeway", Times{NotBefore: at(time.Second)}, time.Minute, ExpiryNone},
		{"nbf ahead, no exp", Times{NotBefore: at(time.Second)}, 0, ExpiryNotYetValid},
		{"nbf now", Times{NotBefore: at(0), Expires: at(time.Hour)}, 0, ExpiryValid},
		{"both: expiry first", Times{NotBefore: at(time.Hour), Expires: at(-time.Hour)}, 0, ExpiryExpired},
	}
	for _, tc := range tests {
		if got := tc.times.Status(now, tc.leeway); got != tc.want {
			t.Errorf("%s: Status = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestTokenTimes(t *testing.T) {
	tok, err := Parse(jws(okHeader, `{"iat":1300819000,"nbf":1300819100,"exp":1300819380.25,"sub":"x"}`, "s"), withFixedNow())
	if err != nil {
		t.Fatal(err)
	}
	ts := tok.Times
	if ts.IssuedAt == nil || ts.NotBefore == nil || ts.Expires == nil {
		t.Fatalf("Times = %+v", ts)
	}
	if got := ts.Expires.Format(time.RFC3339Nano); got != "2011-03-22T18:43:00.25Z" {
		t.Errorf("exp = %s", got)
	}
	if got := ts.IssuedAt.Unix(); got != 1300819000 {
		t.Errorf("iat = %d", got)
	}
	if tok.ExpiryStatus(fixedNow) != ExpiryExpired || tok.ExpiryStatus(time.Unix(1300819200, 0)) != ExpiryValid ||
		tok.ExpiryStatus(time.Unix(1300819050, 0)) != ExpiryNotYetValid {
		t.Error("ExpiryStatus is wrong at one of three times")
	}
	// The clock option decides the findings.
	early, err := Parse(tok.Raw, WithNow(func() time.Time { return time.Unix(1300819200, 0) }))
	if err != nil {
		t.Fatal(err)
	}
	if early.HasFinding(FindingExpired) || !tok.HasFinding(FindingExpired) {
		t.Errorf("expired finding: %q at 1300819200, %q at fixedNow", findingIDs(early), findingIDs(tok))
	}
	// An invalid date is left out of Times.
	bad, err := Parse(jws(okHeader, `{"exp":"tomorrow","iat":1}`, "s"), withFixedNow())
	if err != nil {
		t.Fatal(err)
	}
	if bad.Times.Expires != nil || bad.Times.IssuedAt == nil || bad.HasFinding(FindingNoExpiry) {
		t.Errorf("Times %+v, findings %q", bad.Times, findingIDs(bad))
	}
	if !strings.Contains(bad.Findings[0].Message, `"exp"`) {
		t.Errorf("message %q does not name the claim", bad.Findings[0].Message)
	}
}

func TestWithNowNilAndMaxSizeZero(t *testing.T) {
	tok, err := Parse(jws(okHeader, `{"exp":1}`, "s"), WithNow(nil), WithMaxSize(0))
	if err != nil {
		t.Fatal(err)
	}
	if !tok.HasFinding(FindingExpired) {
		t.Error("WithNow(nil) must fall back to the real clock")
	}
	if _, err := Parse(strings.Repeat("a", DefaultMaxSize+1), WithMaxSize(-5)); err == nil || !strings.Contains(err.Error(), "16777216") {
		t.Errorf("WithMaxSize(-5) must restore the default cap: %v", err)
	}
}
