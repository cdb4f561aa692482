package tokentext

import (
	"strings"
	"testing"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

func TestContains(t *testing.T) {
	for s, want := range map[string]bool{
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig":        true,
		"token=eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. rest": true,
		"a.eyJ.b.c":                            true,
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0": false,
		"eyJ":                                  false,
		"eyJ..":                                false,
		"eyJhbGciOiJIUzI1NiJ9 eyJzdWIiOiIxIn0.sig":            false,
		"plain cdata, acme-prod":                              false,
		"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b": false,
		"eyJeyJeyJ.x.": true,
	} {
		if got := Contains(s); got != want {
			t.Errorf("Contains(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestRedactNamesTheFingerprint: the placeholder names the token as the
// ledger and the CLI do (jwtinspect's short fingerprint).
func TestRedactNamesTheFingerprint(t *testing.T) {
	tok := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"
	got := Redact(`{"token":"` + tok + `"}`)
	want := `{"token":"[token sha256:` + jwtinspect.ShortFingerprint(jwtinspect.Fingerprint(tok)) + `]"}`
	if got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
}

func TestOpaque(t *testing.T) {
	for s, want := range map[string]bool{
		"token":                                true,
		"tok_0123456789abcdef":                 true,
		"a+b/c=~!@#$%^&*()[]<>?|;:,'\"`-_":     true,
		strings.Repeat("x", MaxOpaqueLength):   true,
		strings.Repeat("x", MaxOpaqueLength+1): false,
		"":                                     false,
		"two words":                            false,
		"tab\there":                            false,
		"new\nline":                            false,
		"caf\u00e9":                            false,
		"nul\x00":                              false,
		"del\x7f":                              false,
		"a.b":                                  false, // a dot: a JWT's, mangled
		"eyJhbGciOiJIUzI1NiJ9":                 false, // a JWT's header alone
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln": false, // a JWT is not opaque
		`{"payload":"x","signature":"y"}`:           false, // a JSON serialization
	} {
		if got := Opaque(s); got != want {
			t.Errorf("Opaque(%.40q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzRedactJWTs checks that what Redact returns never looks like a token,
// and that text without a token passes through unchanged.
func FuzzRedactJWTs(f *testing.F) {
	for _, s := range []string{
		"",
		"woleet: generate token: 500 Internal Server Error",
		"bad token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln here",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
		"eyJeyJ.eyJ.eyJ.eyJ",
		"a.eyJ.b.c eyJx.y.z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Redact(s)
		if Contains(out) {
			t.Fatalf("Redact(%q) = %q still holds a token", s, out)
		}
		if !Contains(s) && out != s {
			t.Fatalf("Redact(%q) = %q changed text without a token", s, out)
		}
	})
}
