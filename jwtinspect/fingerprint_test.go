package jwtinspect

import (
	"testing"
)

func TestNormalize(t *testing.T) {
	const tok = "eyJ.eyJ.sig"
	tests := []struct{ in, want string }{
		{tok, tok},
		{"  " + tok + "\n", tok},
		{"Bearer " + tok, tok},
		{"bearer\t" + tok, tok},
		{"BEARER   " + tok, tok},
		{"Authorization: Bearer " + tok, tok},
		{"authorization:bearer " + tok, tok},
		{"AUTHORIZATION:  BeArEr  " + tok + " \r\n", tok},
		{" \u00a0Bearer " + tok, tok}, // Unicode white space
		// Only a whole "Bearer" word followed by white space is removed.
		{"Bearer" + tok, "Bearer" + tok},
		{"Bearer", "Bearer"},
		{"Bearer   ", "Bearer"},
		{"Authorization: Bearer", "Authorization: Bearer"},
		// Another scheme is left alone, so the token is refused, not mangled.
		{"Authorization: Basic dXNlcg==", "Authorization: Basic dXNlcg=="},
		{"Bearer Bearer " + tok, "Bearer " + tok},
		{"", ""},
	}
	for _, tc := range tests {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
		got, off := normalize(tc.in)
		if got != tc.want || (got != "" && tc.in[off:off+len(got)] != got) {
			t.Errorf("normalize(%q) = %q at %d: not where the input holds it", tc.in, got, off)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a1 := readFile(t, "testdata/vectors/rfc7515_A.1.jwsc")
	// sha256sum of the file, which has no trailing newline.
	const want = "sha256:8d4ef6536dc8895f256c1e0d95dcd19763036732d64a095e44a90ed444267ad3"
	for _, in := range []string{a1, " " + a1 + "\n", "Bearer " + a1, "Authorization: Bearer " + a1} {
		if got := Fingerprint(in); got != want {
			t.Errorf("Fingerprint(%.20q…) = %s, want %s", in, got, want)
		}
		tok, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Fingerprint(); got != want {
			t.Errorf("Token.Fingerprint() = %s, want %s", got, want)
		}
	}
	if Fingerprint(a1+"x") == want {
		t.Error("a different token has the same fingerprint")
	}
	// Any text has a fingerprint, even one that does not parse.
	if got := Fingerprint("not a token"); len(got) != len(want) || got[:7] != FingerprintPrefix {
		t.Errorf("Fingerprint of junk = %q", got)
	}
}

func TestShortFingerprint(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sha256:8d4ef6536dc8895f256c1e0d95dcd19763036732d64a095e44a90ed444267ad3", "8d4ef6536dc8"},
		{"8d4ef6536dc8895f256c1e0d95dcd19763036732d64a095e44a90ed444267ad3", "8d4ef6536dc8"},
		{"sha256:abc", "abc"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := ShortFingerprint(tc.in); got != tc.want {
			t.Errorf("ShortFingerprint(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNormalizeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	in := "Authorization: Bearer " + readFile(t, "testdata/vectors/rfc7515_A.1.jwsc")
	var out string
	if n := testing.AllocsPerRun(100, func() { out = Normalize(in) }); n != 0 || out != in[22:] {
		t.Errorf("Normalize allocates %v times (result %.10q…)", n, out)
	}
}
