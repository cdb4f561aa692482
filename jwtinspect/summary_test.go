package jwtinspect

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// checkSummaryAgrees asserts that s.Parse(input) agrees with Parse(input)
// in everything a Summary says, and returns Parse's token (nil on error).
func checkSummaryAgrees(t *testing.T, s *Summary, input string, opts ...Option) *Token {
	t.Helper()
	tok, perr := Parse(input, opts...)
	serr := s.Parse(input, opts...)
	if (serr == nil) != (perr == nil) || serr != nil && serr.Error() != perr.Error() {
		t.Fatalf("Summary.Parse error %v, Parse error %v", serr, perr)
	}
	if perr != nil {
		var pe *ParseError
		if !errors.As(serr, &pe) {
			t.Fatalf("Summary.Parse error %v is a %T, not a *ParseError", serr, serr)
		}
		return nil
	}
	if s.Raw() != tok.Raw || s.Kind() != tok.Kind || s.Alg() != tok.Alg() || s.HasClaims() != (tok.Claims != nil) {
		t.Fatalf("Summary raw/kind/alg/claims %.20q %s %q %v; Parse %.20q %s %q %v",
			s.Raw(), s.Kind(), s.Alg(), s.HasClaims(), tok.Raw, tok.Kind, tok.Alg(), tok.Claims != nil)
	}
	if !bytes.Equal(s.RawHeader(), tok.RawHeader) || !bytes.Equal(s.Payload(), tok.Payload) ||
		(s.Payload() == nil) != (tok.Payload == nil) || !bytes.Equal(s.Signature(), tok.Signature) {
		t.Fatalf("decoded parts differ: header %q/%q payload %q/%q signature %x/%x",
			s.RawHeader(), tok.RawHeader, s.Payload(), tok.Payload, s.Signature(), tok.Signature)
	}
	if !reflect.DeepEqual(s.Times(), tok.Times) {
		t.Fatalf("times %+v, Parse %+v", s.Times(), tok.Times)
	}
	if got := s.Findings(); len(got) != len(tok.Findings) || len(got) > 0 && !reflect.DeepEqual(got, tok.Findings) {
		t.Fatalf("findings\n%+v\nParse gives\n%+v", got, tok.Findings)
	}
	sc, sok := s.CData()
	if pc, pok := tok.CData(); sc != pc || sok != pok {
		t.Fatalf("cdata %q %v, Parse %q %v", sc, sok, pc, pok)
	}
	if s.Fingerprint() != tok.Fingerprint() || string(s.AppendFingerprint([]byte("x"))) != "x"+tok.Fingerprint() {
		t.Fatalf("fingerprint %s / %s, Parse %s", s.Fingerprint(), s.AppendFingerprint(nil), tok.Fingerprint())
	}
	if s.ExpiryStatus(fixedNow) != tok.ExpiryStatus(fixedNow) {
		t.Fatalf("status %s, Parse %s", s.ExpiryStatus(fixedNow), tok.ExpiryStatus(fixedNow))
	}
	for _, f := range tok.Findings {
		if !s.HasFinding(f.ID) {
			t.Fatalf("HasFinding(%s) is false", f.ID)
		}
	}
	return tok
}

// summaryInputs returns tokens that take every branch of Summary.Parse:
// the fast path, each reason to hand a token to Parse, and each error.
func summaryInputs(t testing.TB) []string {
	woleet := strings.TrimSpace(readFile(t, "testdata/woleet.jwt"))
	in := []string{
		woleet,
		"  Authorization: Bearer " + woleet + "\r\n",
		woleet[:len(woleet)-1], // trailing bits in the signature
		jws(okHeader, okClaims, "sig"),
		jws(` { "alg" : "HS256" } `, " {\"cdata\" : [1, \"x\"] ,\n\"exp\": 1893456000.5} ", "s"),
		jws(`{"alg":"HS\u0032\u0035\u0036","k\u0069d":"k1"}`, `{"c\u0064ata":"esc\u00e9"}`, "s"),
		jws(`{"alg":""}`, `{}`, ""),
		jws(`{"alg":"ES256K"}`, `{"cdata":null,"iat":"x","nbf":[1],"exp":{}}`, "s"),
		jws(okHeader, `{"cdata":{"a":1}}`, "s"),
		jws(okHeader, `{"cdata":"`+strings.Repeat("x", 64)+`"}`, "s"),
		jws(okHeader, "{\"cdata\":\"\u2028\"}", "s"),
		jws(okHeader, "[1,{\"a\":1,\"a\":2},\"\xff\"]", "s"),
		jws(okHeader, `{"a":1} x`, "s"),
		jws(okHeader, `{"a":1,}`, "s"),
		jws(okHeader, "{\"\xff\":1}", "s"),
		jws(okHeader, `{"a":1,"a":1}`, "s"),
		jws(okHeader, `{"a":[[[]]]}`, "s"),
		jws(okHeader, "{"+manyMembers(linearDupCheck)+"}", "s"),
		jws(okHeader, "{"+manyMembers(linearDupCheck+1)+"}", "s"),
		jws(okHeader, "{"+manyMembers(100)+"}", "s"),
		jws("{"+manyMembers(linearDupCheck+1)+"}", okClaims, "s"),
		// Duplicates, found by pair or by sorting, at the top or nested.
		jws(okHeader, "{"+manyMembers(linearDupCheck-1)+`,"mxx":2}`, "s"),
		jws(okHeader, "{"+manyMembers(linearDupCheck)+`,"mxx":2}`, "s"),
		jws(okHeader, "{"+manyMembers(100)+`,"m":2}`, "s"),
		jws(okHeader, `{"a":{"b":[{"c":1,"d":{"e":1,"e":2}}]},"exp":1}`, "s"),
		jws(okHeader, `{"a":{"x":1,"\u0078":2},"a2":{"x":1}}`, "s"),
		jws(okHeader, `{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":1}],"x":1}`, "s"),
		jws(okHeader, `{"a":{"\u00e9":1,"é":2}}`, "s"),
		jws(okHeader, `{"n\u00e9":1,"n\u00e8":2,"n\u00e9\u00e9":3,"cdata":"x"}`, "s"),
		jws(`{"alg":"HS256","jwk":{"kty":"oct","k":"AA"}}`, `{"a":{"b":{"c":{}}},"cdata":{"x":[1,{"y":2}]}}`, "s"),
		jws(`{"alg":"HS256","jwk":{"kty":"oct","kty":"x"}}`, okClaims, "s"),
		jws(okHeader, "{\"a\":{\"\xff\":1}}", "s"),
		jws(okHeader, `{"a":{"b":1,}}`, "s"),
		jws(okHeader, `{"a":{"b":1,"b":2,}}`, "s"),
		jws(okHeader, `{"a":{"b":1,"b":2}} x`, "s"),
		jws(okHeader, `{"iat":{"a":1},"nbf":[{}],"exp":{"b":{}}}`, "s"),
		jws(`{"alg":"HS256","typ":"JWT","b":true,"n":null,"x":-1.5e3,"c":[]}`, okClaims, "s"),
		jws(`{"alg":"HS256","crit":["b64"],"b64":false}`, okClaims, "s"),
		// Faults, in each segment.
		"", "   ", "Bearer", "a.b", "a.b.c.d", "a.b.c.d.e.f", "e30.e30.e30 x", "a b.c.d",
		"!!.e30.", "e30.!!.", "e30.e30.!!", b64(`[]`) + ".e30.", b64(`{"a":`) + ".e30.", b64(`{} x`) + ".e30.",
		b64(`"s"`) + ".e30.", "." + b64(okClaims) + ".", b64(`{"a":1,"a":`) + ".e30.",
		// Handed to Parse.
		b64(`{"alg":"RSA-OAEP","enc":"A128GCM"}`) + ".AA.AA.AA.AA",
		`{"payload":"` + b64(okClaims) + `","protected":"` + b64(okHeader) + `","signature":"AA"}`,
		`{"payload":`,
		base64.StdEncoding.EncodeToString([]byte(okHeader)) + "." + b64(okClaims) + ".",
	}
	for _, ft := range findingTests(t) {
		in = append(in, ft.token)
	}
	files, _ := filepath.Glob("testdata/vectors/*.jw*")
	for _, path := range files {
		in = append(in, readFile(t, path))
	}
	return in
}

// manyMembers returns n distinct object members, without the braces.
func manyMembers(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `"m` + strings.Repeat("x", i) + `":1`
	}
	return strings.Join(parts, ",")
}

// TestSummaryAgreesWithParse: on every input, a Summary says what Parse
// says; one Summary reused for all of them, and a fresh one for each.
func TestSummaryAgreesWithParse(t *testing.T) {
	var reused Summary
	woleet := readFile(t, "testdata/woleet.jwt")
	for _, in := range summaryInputs(t) {
		checkSummaryAgrees(t, &reused, in, withFixedNow())
		checkSummaryAgrees(t, new(Summary), in, withFixedNow())
		// What the input left behind must not show in the next token.
		checkSummaryAgrees(t, &reused, woleet, withFixedNow())
	}
	checkSummaryAgrees(t, &reused, woleet, WithMaxSize(100))
}

// TestSummaryFastPath: the tokens Woleet issues are read without maps, and
// with no allocation but the cdata string.
func TestSummaryFastPath(t *testing.T) {
	tokens := map[string]string{
		"woleet":      readFile(t, "testdata/woleet.jwt"),
		"no cdata":    jws(okHeader, okClaims, "sig"),
		"white space": jws(` { "alg" : "HS256" } `, " {\"cdata\" : [1, \"x\"]} ", "s"),
		"alg none":    jws(`{"alg":"none"}`, woleetClaims, ""),
		"nested":      jws(okHeader, `{"a":{"b":[{"c":{}}]},"cdata":"x"}`, "s"),
		"jwk":         jws(`{"alg":"HS256","jwk":{"kty":"oct"}}`, okClaims, "s"),
		"many":        jws(okHeader, "{"+manyMembers(100)+"}", "s"),
	}
	for _, tc := range shapeTokens() {
		tokens[tc.name] = tc.token
	}
	var s Summary
	for name, tok := range tokens {
		if err := s.Parse(tok, withFixedNow()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.tok.Header != nil || s.tok.Claims != nil {
			t.Errorf("%s: handed to Parse", name)
		}
	}
	for _, in := range []string{
		jws(okHeader, `{"a":1,"a":2}`, "s"),
		jws(okHeader, `{"a":[{"b":1,"b":2}]}`, "s"),
		jws(`{"alg":"HS256","jwk":{"k":1,"k":2}}`, okClaims, "s"),
		jws(okHeader, "{\"a\":{\"\xff\":1}}", "s"),
	} {
		if err := s.Parse(in, withFixedNow()); err != nil || s.tok.Claims == nil {
			t.Errorf("%q: not handed to Parse (err %v)", in, err)
		}
	}
	if raceEnabled {
		return
	}
	opt := withFixedNow()
	woleet := tokens["woleet"]
	if n := testing.AllocsPerRun(200, func() { _ = s.Parse(woleet, opt) }); n > 1 {
		t.Errorf("Summary.Parse of a Woleet token: %v allocations, want at most 1 (the cdata)", n)
	}
	for _, tc := range shapeTokens() {
		if n := testing.AllocsPerRun(200, func() { _ = s.Parse(tc.token, opt) }); n > 1 {
			t.Errorf("Summary.Parse of the %s token: %v allocations, want at most 1 (the cdata)", tc.name, n)
		}
	}
	buf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(200, func() { buf = s.AppendFingerprint(buf[:0]) }); n != 0 {
		t.Errorf("AppendFingerprint: %v allocations, want 0", n)
	}
}

// TestSummaryNestingAllocations: however deep the claims nest, and however
// many escaped names they hold, Summary.Parse reads them without a map and
// with no allocation but the cdata, once its memory has grown.
func TestSummaryNestingAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	opt := withFixedNow()
	for _, depth := range []int{1, 10, 100, 1000} {
		var b strings.Builder
		for i := range depth {
			fmt.Fprintf(&b, `{"n\u00e9%d":[1,"x"],"m":`, i)
		}
		b.WriteString("{}")
		b.WriteString(strings.Repeat("}", depth))
		claims := `{"cdata":"c\"d","deep":` + b.String() + `,"exp":1893456000}`
		token := jws(okHeader, claims, "s")
		var s Summary
		checkSummaryAgrees(t, &s, token, opt)
		if s.tok.Claims != nil {
			t.Fatalf("depth %d: handed to Parse", depth)
		}
		if n := testing.AllocsPerRun(50, func() { _ = s.Parse(token, opt) }); n > 1 {
			t.Errorf("depth %d: %v allocations, want at most 1 (the cdata)", depth, n)
		}
	}
}
