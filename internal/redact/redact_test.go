package redact

import (
	"strings"
	"testing"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

func TestJWTs(t *testing.T) {
	const tok = "eyJhbGciOiJIUzI1NiJ9.eyJjZGF0YSI6ImFjbWUifQ.c2lnbmF0dXJl"
	const unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
	short := "[token sha256:" + jwtinspect.ShortFingerprint(jwtinspect.Fingerprint(tok)) + "]"
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"no token here: eyJ alone, eyJa.b", "no token here: eyJ alone, eyJa.b"},
		{`400 Bad Request: {"token":"` + tok + `"}`, `400 Bad Request: {"token":"` + short + `"}`},
		{tok + " and " + tok, short + " and " + short},
		{"a=" + unsigned + "!", "a=[token sha256:" + jwtinspect.ShortFingerprint(jwtinspect.Fingerprint(unsigned)) + "]!"},
	} {
		got := JWTs(tc.in)
		if got != tc.want {
			t.Errorf("JWTs(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "c2lnbmF0dXJl") {
			t.Errorf("JWTs(%q) kept the signature", tc.in)
		}
	}
}
