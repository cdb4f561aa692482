package jwtinspect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The seed corpora live in testdata/fuzz/FuzzXxx; the vectors are added too.

func addVectorSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/vectors/*.jw*")
	for _, path := range files {
		f.Add(readFile(f, path))
	}
	f.Add(readFile(f, "testdata/woleet.jwt"))
}

// FuzzParse: Parse never panics, refuses only with a *ParseError that
// leaks no input, and what it accepts is self-consistent and agrees with
// CData and with Summary.Parse (into a new Summary, and into one reused
// from input to input).
func FuzzParse(f *testing.F) {
	addVectorSeeds(f)
	var reused Summary
	f.Fuzz(func(t *testing.T, input string) {
		checkSummaryAgrees(t, new(Summary), input, withFixedNow())
		checkSummaryAgrees(t, &reused, input, withFixedNow())
		tok, err := Parse(input, withFixedNow())
		c, ok, cerr := CData(input)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is a %T, not a *ParseError", err, err)
			}
			if pe.Offset < -1 || pe.Offset > len(input) {
				t.Fatalf("offset %d outside the input (%d bytes)", pe.Offset, len(input))
			}
			if cerr == nil || cerr.Error() != err.Error() {
				t.Fatalf("Parse error %q, CData error %v", err, cerr)
			}
			return
		}
		if cerr != nil {
			t.Fatalf("Parse accepted, CData refused: %v", cerr)
		}
		if pc, pok := tok.CData(); pc != c || pok != ok {
			t.Fatalf("cdata: Parse %q %v, CData %q %v", pc, pok, c, ok)
		}
		if tok.Raw != Normalize(input) || tok.Fingerprint() != Fingerprint(input) {
			t.Fatal("Raw or fingerprint differ from Normalize/Fingerprint of the input")
		}
		for _, fd := range tok.Findings {
			if !slices.Contains(allFindingIDs, fd.ID) || fd.Severity.Rank() < 0 || fd.Message == "" {
				t.Fatalf("bad finding %+v", fd)
			}
		}
		if _, err := json.Marshal(tok); err != nil {
			t.Fatalf("the token does not marshal: %v", err)
		}
		if tok.Claims != nil && !json.Valid(tok.Payload) {
			t.Fatal("claims from a payload encoding/json finds invalid")
		}
		checkCompactRoundTrip(t, tok)
	})
}

// checkCompactRoundTrip: a canonical compact token is exactly the base64url
// of its decoded parts.
func checkCompactRoundTrip(t *testing.T, tok *Token) {
	if tok.Kind != KindJWS && tok.Kind != KindUnsecured || tok.HasFinding(FindingNonCanonicalBase64) {
		return
	}
	enc := base64.RawURLEncoding
	if got := enc.EncodeToString(tok.RawHeader) + "." + enc.EncodeToString(tok.Payload) + "." + enc.EncodeToString(tok.Signature); got != tok.Raw {
		t.Fatalf("re-encoded token %q differs from %q", got, tok.Raw)
	}
}

// FuzzCData builds tokens from a fuzzed header and payload, so that the
// JSON inside is exercised: CData and Summary.Parse agree with Parse, and
// Parse's header and claims equal what encoding/json decodes.
func FuzzCData(f *testing.F) {
	f.Add(okHeader, woleetClaims)
	f.Add(`{"alg":"none"}`, `{"cdata":{"a":[1, 2.50]},"cdata":"b"}`)
	f.Add(`{"alg":"HS256","alg":1}`, `{"c\u0064ata":"\ud83d\ude00 \u00e9"}`)
	f.Add(`[]`, `{"cdata":null}`)
	f.Fuzz(func(t *testing.T, header, payload string) {
		for _, input := range []string{
			jws(header, payload, "sig"),
			`{"payload":"` + b64(payload) + `","protected":"` + b64(header) + `","signature":""}`,
		} {
			checkCDataAgrees(t, input)
			checkSummaryAgrees(t, new(Summary), input, withFixedNow())
			tok, err := Parse(input)
			if err != nil {
				if _, serr := stdDecode(header); serr == nil && json.Valid([]byte(header)) && strings.HasPrefix(strings.TrimLeft(header, " \t\r\n"), "{") {
					t.Fatalf("header %q is a JSON object but Parse refused: %v", header, err)
				}
				continue
			}
			if want, _ := stdDecode(header); !reflect.DeepEqual(any(tok.Header), want) {
				t.Fatalf("header %#v, encoding/json gives %#v", tok.Header, want)
			}
			want, serr := stdDecode(payload)
			if m, isObj := want.(map[string]any); serr == nil && isObj && json.Valid([]byte(payload)) {
				if !reflect.DeepEqual(tok.Claims, m) {
					t.Fatalf("claims %#v, encoding/json gives %#v", tok.Claims, m)
				}
			} else if tok.Claims != nil {
				t.Fatalf("claims %#v from a payload that is not a JSON object", tok.Claims)
			}
		}
	})
}

// FuzzJSON compares the JSON parser and scanner with encoding/json.
func FuzzJSON(f *testing.F) {
	for _, s := range jsonCases {
		if len(s) < 1000 {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkJSONAgainstStdlib(t, s)
	})
}

// FuzzBase64 compares the decoder with encoding/base64.
func FuzzBase64(f *testing.F) {
	for _, s := range []string{"", "QQ", "QR", "QQ==", "+/+/", "-_-_", "QUFB QUFB", "Q=Q=", "QUFBQ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, canonical, bad := decodeString(s)
		if strings.ContainsAny(s, "\r\n") {
			// encoding/base64 skips line breaks; a token must not contain any.
			if bad < 0 {
				t.Fatalf("%q: a line break was accepted", s)
			}
			return
		}
		strict, serr := base64.RawURLEncoding.Strict().DecodeString(s)
		if (serr == nil) != (bad < 0 && canonical) {
			t.Fatalf("%q: canonical %v bad %d, but encoding/base64 strict says %v", s, canonical, bad, serr)
		}
		if serr == nil && !bytes.Equal(got, strict) {
			t.Fatalf("%q: %x, want %x", s, got, strict)
		}
		if bad >= 0 {
			if bad >= len(s) && len(s) > 0 {
				t.Fatalf("%q: bad index %d outside the input", s, bad)
			}
			return
		}
		// A non-canonical text decodes as its canonical spelling does, leniently.
		norm := strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(s), "=")
		lenient, err := base64.RawURLEncoding.DecodeString(norm)
		if err != nil || !bytes.Equal(got, lenient) {
			t.Fatalf("%q: %x, lenient stdlib %x (%v)", s, got, lenient, err)
		}
		if n, c, b := decodeB64(nil, s); n != len(got) || c != canonical || b != bad {
			t.Fatalf("%q: validate-only disagrees", s)
		}
	})
}

// FuzzParseKeys: loading keys never panics, and every key it returns can
// say what it verifies.
func FuzzParseKeys(f *testing.F) {
	files, _ := filepath.Glob("testdata/vectors/*.jwk*")
	pems, _ := filepath.Glob("testdata/vectors/*.pem")
	for _, path := range append(files, pems...) {
		f.Add(readFile(f, path))
	}
	f.Fuzz(func(t *testing.T, data string) {
		set, err := ParseKeys([]byte(data), "fuzz")
		if err != nil {
			return
		}
		for _, k := range set.Keys {
			if len(k.Algorithms()) == 0 || k.Description == "" || k.Size() <= 0 {
				t.Fatalf("key %+v verifies nothing", k)
			}
		}
	})
}
