package jwtinspect

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fixedNow is the clock of the tests: after the RFC tokens' exp (2011).
var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func withFixedNow() Option { return WithNow(func() time.Time { return fixedNow }) }

// claimsA1 are the claims of RFC 7515 A.1–A.7, as encoding/json re-marshals
// them: the number stays exactly as written.
const claimsA1 = `{"exp":1300819380,"http://example.com/is_root":true,"iss":"joe"}`

// frodo is the payload of RFC 7520 section 4.
const frodo = "It’s a dangerous business, Frodo, going out your door. You step onto the road, and if you don't keep your feet, there’s no knowing where you might be swept off to."

type vectorWant struct {
	kind     Kind
	alg      string
	header   string // Header re-marshalled; "null" when absent
	claims   string // Claims re-marshalled; "null" when the payload is not an object
	payload  string // the decoded payload, when it is not claimsA1
	sigLens  []int  // length of each signature
	kids     []string
	findings []string
}

// vectorWants covers every token among the test vectors (testdata/vectors
// holds byte-identical copies of ../shared/testvectors).
var vectorWants = map[string]vectorWant{
	"rfc7515_A.1.jwsc":          {KindJWS, "HS256", `{"alg":"HS256","typ":"JWT"}`, claimsA1, "", []int{32}, nil, []string{FindingExpired}},
	"rfc7519_3.1.jwt":           {KindJWS, "HS256", `{"alg":"HS256","typ":"JWT"}`, claimsA1, "", []int{32}, nil, []string{FindingExpired}},
	"rfc7515_A.2.jwsc":          {KindJWS, "RS256", `{"alg":"RS256"}`, claimsA1, "", []int{256}, nil, []string{FindingExpired}},
	"rfc7515_A.3.jwsc":          {KindJWS, "ES256", `{"alg":"ES256"}`, claimsA1, "", []int{64}, nil, []string{FindingExpired}},
	"rfc7515_A.4.jwsc":          {KindJWS, "ES512", `{"alg":"ES512"}`, "null", "Payload", []int{132}, nil, []string{FindingNotJSONPayload}},
	"rfc7515_A.5.jwsc":          {KindUnsecured, "none", `{"alg":"none"}`, claimsA1, "", []int{0}, nil, []string{FindingAlgNone, FindingExpired}},
	"rfc7519_6.1.unsecured.jwt": {KindUnsecured, "none", `{"alg":"none"}`, claimsA1, "", []int{0}, nil, []string{FindingAlgNone, FindingExpired}},
	"rfc7515_A.6.jwsg": {KindJWSJSON, "RS256", `{"alg":"RS256"}`, claimsA1, "", []int{256, 64},
		[]string{"2010-12-29", "e9bc097a-ce51-4036-9562-d2ade882db0d"}, []string{FindingExpired}},
	"rfc7515_A.7.jwsf": {KindJWSJSON, "ES256", `{"alg":"ES256"}`, claimsA1, "", []int{64},
		[]string{"e9bc097a-ce51-4036-9562-d2ade882db0d"}, []string{FindingExpired}},

	"rfc7520_4.1.jwsc": {KindJWS, "RS256", `{"alg":"RS256","kid":"bilbo.baggins@hobbiton.example"}`, "null", frodo, []int{256}, nil, []string{FindingNotJSONPayload}},
	"rfc7520_4.1.jwsf": {KindJWSJSON, "RS256", `{"alg":"RS256","kid":"bilbo.baggins@hobbiton.example"}`, "null", frodo, []int{256},
		[]string{"bilbo.baggins@hobbiton.example"}, []string{FindingNotJSONPayload}},
	"rfc7520_4.1.jwsg": {KindJWSJSON, "RS256", `{"alg":"RS256","kid":"bilbo.baggins@hobbiton.example"}`, "null", frodo, []int{256},
		[]string{"bilbo.baggins@hobbiton.example"}, []string{FindingNotJSONPayload}},
	"rfc7520_4.2.jwsf": {KindJWSJSON, "PS384", `{"alg":"PS384","kid":"bilbo.baggins@hobbiton.example"}`, "null", frodo, []int{256},
		[]string{"bilbo.baggins@hobbiton.example"}, []string{FindingNotJSONPayload}},
	"rfc7520_4.2.jwsg": {KindJWSJSON, "PS384", `{"alg":"PS384","kid":"bilbo.baggins@hobbiton.example"}`, "null", frodo, []int{256},
		[]string{"bilbo.baggins@hobbiton.example"}, []string{FindingNotJSONPayload}},
	"rfc7520_4.3.jwsf": {KindJWSJSON, "ES512", `{"alg":"ES512","kid":"bilbo.baggins@hobbiton.example"}`, "null", frodo, []int{132},
		[]string{"bilbo.baggins@hobbiton.example"}, []string{FindingNotJSONPayload}},
	"rfc7520_4.3.jwsg": {KindJWSJSON, "ES512", `{"alg":"ES512","kid":"bilbo.baggins@hobbiton.example"}`, "null", frodo, []int{132},
		[]string{"bilbo.baggins@hobbiton.example"}, []string{FindingNotJSONPayload}},
	"rfc7520_4.4.jwsf": {KindJWSJSON, "HS256", `{"alg":"HS256","kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}`, "null", frodo, []int{32},
		[]string{"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}, []string{FindingNotJSONPayload}},
	"rfc7520_4.4.jwsg": {KindJWSJSON, "HS256", `{"alg":"HS256","kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}`, "null", frodo, []int{32},
		[]string{"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}, []string{FindingNotJSONPayload}},
	"rfc7520_4.2.jwsc": {KindJWS, "PS384", `{"alg":"PS384","kid":"bilbo.baggins@hobbiton.example"}`, "null", frodo, []int{256}, nil, []string{FindingNotJSONPayload}},
	"rfc7520_4.3.jwsc": {KindJWS, "ES512", `{"alg":"ES512","kid":"bilbo.baggins@hobbiton.example"}`, "null", frodo, []int{132}, nil, []string{FindingNotJSONPayload}},
	"rfc7520_4.4.jwsc": {KindJWS, "HS256", `{"alg":"HS256","kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}`, "null", frodo, []int{32}, nil, []string{FindingNotJSONPayload}},
	// 4.5: detached content; the payload is empty (compact) or absent (JSON).
	"rfc7520_4.5.jwsc": {KindJWS, "HS256", `{"alg":"HS256","kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}`, "null", "", []int{32}, nil, []string{FindingNotJSONPayload}},
	"rfc7520_4.5.jwsf": {KindJWSJSON, "HS256", `{"alg":"HS256","kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}`, "null", "", []int{32},
		[]string{"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}, []string{FindingNotJSONPayload}},
	"rfc7520_4.5.jwsg": {KindJWSJSON, "HS256", `{"alg":"HS256","kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}`, "null", "", []int{32},
		[]string{"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}, []string{FindingNotJSONPayload}},
	// 4.6: kid only in the unprotected header; 4.7: no protected header at all.
	"rfc7520_4.6.jwsf": {KindJWSJSON, "HS256", `{"alg":"HS256"}`, "null", frodo, []int{32},
		[]string{"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}, []string{FindingNotJSONPayload}},
	"rfc7520_4.6.jwsg": {KindJWSJSON, "HS256", `{"alg":"HS256"}`, "null", frodo, []int{32},
		[]string{"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}, []string{FindingNotJSONPayload}},
	"rfc7520_4.7.jwsf": {KindJWSJSON, "HS256", `null`, "null", frodo, []int{32},
		[]string{"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}, []string{FindingNotJSONPayload}},
	"rfc7520_4.7.jwsg": {KindJWSJSON, "HS256", `null`, "null", frodo, []int{32},
		[]string{"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}, []string{FindingNotJSONPayload}},
	"rfc7520_4.8.jwsg": {KindJWSJSON, "RS256", `{"alg":"RS256"}`, "null", frodo, []int{256, 132, 32},
		[]string{"bilbo.baggins@hobbiton.example", "bilbo.baggins@hobbiton.example", "018c0ae5-4d9b-471b-bfd6-eef314bc7037"},
		[]string{FindingNotJSONPayload}},

	"rfc7520_5.1.jwec":       {KindJWE, "RSA1_5", `{"alg":"RSA1_5","enc":"A128CBC-HS256","kid":"frodo.baggins@hobbiton.example"}`, "null", "", nil, nil, []string{FindingJWE}},
	"rfc7520_5.1.jwef":       {KindJWE, "RSA1_5", `{"alg":"RSA1_5","enc":"A128CBC-HS256","kid":"frodo.baggins@hobbiton.example"}`, "null", "", nil, nil, []string{FindingJWE}},
	"rfc7520_5.1.jweg":       {KindJWE, "RSA1_5", `{"alg":"RSA1_5","enc":"A128CBC-HS256","kid":"frodo.baggins@hobbiton.example"}`, "null", "", nil, nil, []string{FindingJWE}},
	"rfc7520_5.9.jwec":       {KindJWE, "A128KW", `{"alg":"A128KW","enc":"A128GCM","kid":"81b20965-8332-43d9-a468-82160ad91ac8","zip":"DEF"}`, "null", "", nil, nil, []string{FindingJWE}},
	"rfc7520_5.13.jweg":      {KindJWE, "", `{"enc":"A128CBC-HS256"}`, "null", "", nil, nil, []string{FindingJWE}},
	"rfc7519_A.1.jwe":        {KindJWE, "RSA1_5", `{"alg":"RSA1_5","enc":"A128CBC-HS256"}`, "null", "", nil, nil, []string{FindingJWE}},
	"rfc7519_A.2.nested.jwe": {KindJWE, "RSA1_5", `{"alg":"RSA1_5","cty":"JWT","enc":"A128CBC-HS256"}`, "null", "", nil, nil, []string{FindingJWE}},
}

func findingIDs(t *Token) []string {
	ids := make([]string, len(t.Findings))
	for i, f := range t.Findings {
		ids[i] = f.ID
	}
	return ids
}

func marshal(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestVectors(t *testing.T) {
	files, err := filepath.Glob("testdata/vectors/*")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, path := range files {
		name := filepath.Base(path)
		want, ok := vectorWants[name]
		if !ok {
			continue
		}
		seen++
		t.Run(name, func(t *testing.T) {
			input := readFile(t, path)
			tok, err := Parse(input, withFixedNow())
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tok.Kind != want.kind {
				t.Errorf("Kind = %q, want %q", tok.Kind, want.kind)
			}
			if got := tok.Alg(); got != want.alg && tok.Kind != KindJWE {
				t.Errorf("Alg() = %q, want %q", got, want.alg)
			}
			if got := marshal(t, tok.Header); got != want.header {
				t.Errorf("Header = %s, want %s", got, want.header)
			}
			if got := marshal(t, tok.Claims); got != want.claims {
				t.Errorf("Claims = %s, want %s", got, want.claims)
			}
			wantPayload := want.payload
			if want.claims == claimsA1 {
				wantPayload = "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"
			}
			if string(tok.Payload) != wantPayload {
				t.Errorf("Payload = %q, want %q", tok.Payload, wantPayload)
			}
			if tok.Kind == KindJWSJSON {
				var lens []int
				var kids []string
				for _, s := range tok.Signatures {
					lens = append(lens, len(s.Signature))
					kids = append(kids, s.Kid())
				}
				if !slices.Equal(lens, want.sigLens) || !slices.Equal(kids, want.kids) {
					t.Errorf("signatures: lengths %v kids %q, want %v %q", lens, kids, want.sigLens, want.kids)
				}
				if len(tok.Signature) != want.sigLens[0] {
					t.Errorf("Signature is %d bytes, want the first signature's %d", len(tok.Signature), want.sigLens[0])
				}
			} else if want.sigLens != nil && len(tok.Signature) != want.sigLens[0] {
				t.Errorf("Signature is %d bytes, want %d", len(tok.Signature), want.sigLens[0])
			}
			if got := findingIDs(tok); !slices.Equal(got, want.findings) {
				t.Errorf("findings = %q, want %q", got, want.findings)
			}
			if tok.Raw != input {
				t.Error("Raw differs from the input, which needs no normalizing")
			}
			if got, want := tok.Fingerprint(), Fingerprint(input); got != want {
				t.Errorf("Fingerprint() = %s, want %s", got, want)
			}
			c1, ok1 := tok.CData()
			c2, ok2, err := CData(input)
			if err != nil || c1 != c2 || ok1 != ok2 || ok1 {
				t.Errorf("cdata: Parse (%q, %v), CData (%q, %v, %v); want none from both", c1, ok1, c2, ok2, err)
			}
		})
	}
	if seen != len(vectorWants) {
		t.Errorf("tested %d vectors, want %d: a file is missing from testdata/vectors", seen, len(vectorWants))
	}
}

// TestVectorsMatchShared checks the copies in testdata against the shared
// folder when it is present (it need not be).
func TestVectorsMatchShared(t *testing.T) {
	shared := filepath.Join("..", "..", "shared", "testvectors")
	if _, err := os.Stat(shared); err != nil {
		t.Skip("the shared test vectors are not here")
	}
	files, _ := filepath.Glob("testdata/vectors/*")
	for _, path := range files {
		want, err := os.ReadFile(filepath.Join(shared, filepath.Base(path)))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if got := readFile(t, path); got != string(want) {
			t.Errorf("%s differs from the shared copy", path)
		}
	}
}

// TestVectorsAllCovered makes sure every token file copied is in the table.
func TestVectorsAllCovered(t *testing.T) {
	files, _ := filepath.Glob("testdata/vectors/*")
	for _, path := range files {
		name := filepath.Base(path)
		ext := filepath.Ext(name)
		isToken := strings.HasPrefix(ext, ".jws") || strings.HasPrefix(ext, ".jwe") || ext == ".jwt"
		if _, ok := vectorWants[name]; isToken && !ok {
			t.Errorf("%s is a token without expectations", name)
		}
	}
}
