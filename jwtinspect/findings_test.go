package jwtinspect

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

// b64 encodes s as canonical base64url.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// jws builds a compact token from a header and payload text and a signature.
func jws(header, payload, sig string) string {
	return b64(header) + "." + b64(payload) + "." + b64(sig)
}

// woleetClaims are the claims of a Woleet token: no exp.
const woleetClaims = `{"sub":"u1","iat":1732780800,"jti":"j1","cdata":"acme"}`

// okHeader is a header with no finding.
const okHeader = `{"alg":"HS256","typ":"JWT"}`

// okClaims are claims with no finding at fixedNow.
const okClaims = `{"sub":"u1","iat":1732780800,"exp":1893456000}`

// findingTest is a token that must have a finding.
type findingTest struct {
	name  string
	token string
	id    string
	sev   Severity
	// in is a word the message must contain.
	in string
}

// findingTests returns a token for every finding Parse reports, and for
// most of the ways to get it.
func findingTests(t testing.TB) []findingTest {
	longKid := strings.Repeat("k", 257)
	return []findingTest{
		{"alg none", jws(`{"alg":"none"}`, okClaims, ""), FindingAlgNone, SeverityCritical, `"none"`},
		{"alg none in another case", jws(`{"alg":"nOnE"}`, okClaims, ""), FindingAlgNone, SeverityCritical, `"nOnE"`},
		{"alg missing", jws(`{"typ":"JWT"}`, okClaims, "s"), FindingAlgMissing, SeverityHigh, "alg"},
		{"alg unknown", jws(`{"alg":"HS1024"}`, okClaims, "s"), FindingAlgUnknown, SeverityMedium, `"HS1024"`},
		{"alg lower case", jws(`{"alg":"hs256"}`, okClaims, "s"), FindingAlgUnknown, SeverityMedium, `"hs256"`},
		{"alg not a string", jws(`{"alg":256}`, okClaims, "s"), FindingAlgUnknown, SeverityMedium, "not a string"},
		{"none with signature", jws(`{"alg":"none"}`, okClaims, "sig"), FindingNoneWithSignature, SeverityHigh, "signature"},
		{"crit", jws(`{"alg":"HS256","crit":["exp"],"exp":1}`, okClaims, "s"), FindingCritUnknown, SeverityHigh, `"exp"`},
		{"crit malformed", jws(`{"alg":"HS256","crit":"exp"}`, okClaims, "s"), FindingCritUnknown, SeverityHigh, "not a non-empty list"},
		{"crit empty", jws(`{"alg":"HS256","crit":[]}`, okClaims, "s"), FindingCritUnknown, SeverityHigh, "not a non-empty list"},
		{"kid traversal", jws(`{"alg":"HS256","kid":"../../../dev/null"}`, okClaims, "s"), FindingKidSuspicious, SeverityHigh, "path traversal"},
		{"kid absolute path", jws(`{"alg":"HS256","kid":"/etc/passwd"}`, okClaims, "s"), FindingKidSuspicious, SeverityHigh, "path traversal"},
		{"kid quote", jws(`{"alg":"HS256","kid":"x' OR '1'='1"}`, okClaims, "s"), FindingKidSuspicious, SeverityHigh, "quote"},
		{"kid control", jws(`{"alg":"HS256","kid":"a\u0000b"}`, okClaims, "s"), FindingKidSuspicious, SeverityHigh, "control character"},
		{"kid sql", jws(`{"alg":"HS256","kid":"1 OR 1=1"}`, okClaims, "s"), FindingKidSuspicious, SeverityHigh, "SQL"},
		{"kid union", jws(`{"alg":"HS256","kid":"k UNION SELECT secret"}`, okClaims, "s"), FindingKidSuspicious, SeverityHigh, "SQL"},
		{"kid shell", jws(`{"alg":"HS256","kid":"k|cat /x"}`, okClaims, "s"), FindingKidSuspicious, SeverityHigh, "SQL or a shell"},
		{"kid long", jws(`{"alg":"HS256","kid":"`+longKid+`"}`, okClaims, "s"), FindingKidSuspicious, SeverityHigh, "256 bytes"},
		{"kid not a string", jws(`{"alg":"HS256","kid":7}`, okClaims, "s"), FindingKidSuspicious, SeverityHigh, "not a string"},
		{"jku", jws(`{"alg":"RS256","jku":"https://evil.example/jwks"}`, okClaims, "s"), FindingJKUPresent, SeverityMedium, "jku"},
		{"x5u", jws(`{"alg":"RS256","x5u":"https://evil.example/cert"}`, okClaims, "s"), FindingX5UPresent, SeverityMedium, "x5u"},
		{"jwk", jws(`{"alg":"RS256","jwk":{"kty":"oct","k":"AA"}}`, okClaims, "s"), FindingJWKEmbedded, SeverityHigh, "jwk"},
		{"duplicate header member", jws(`{"alg":"HS256","alg":"HS256"}`, okClaims, "s"), FindingDuplicateMember, SeverityMedium, `"alg"`},
		{"duplicate claim", jws(okHeader, `{"sub":"a","sub":"b","exp":1893456000}`, "s"), FindingDuplicateMember, SeverityMedium, `"sub"`},
		{"duplicate nested claim", jws(okHeader, `{"x":{"a":1,"a":2},"exp":1893456000}`, "s"), FindingDuplicateMember, SeverityMedium, "nested"},
		{"padding", base64.URLEncoding.EncodeToString([]byte(`{"alg":"HS256"} `)) + "." + b64(okClaims) + "." + b64("s"),
			FindingNonCanonicalBase64, SeverityMedium, "header"},
		{"standard alphabet", jws(okHeader, okClaims, "") + "ab+/", FindingNonCanonicalBase64, SeverityMedium, "signature"},
		{"trailing bits", jws(okHeader, okClaims, "") + "AB", FindingNonCanonicalBase64, SeverityMedium, "signature"},
		{"invalid utf-8 claim", jws(okHeader, "{\"sub\":\"\xff\",\"exp\":1893456000}", "s"), FindingInvalidUTF8, SeverityMedium, "claims"},
		{"invalid utf-8 header", jws("{\"alg\":\"HS256\",\"x\":\"\xc3\"}", okClaims, "s"), FindingInvalidUTF8, SeverityMedium, "header"},
		{"no expiry", jws(okHeader, woleetClaims, "s"), FindingNoExpiry, SeverityLow, "never expires"},
		{"expired", jws(okHeader, `{"exp":1300819380}`, "s"), FindingExpired, SeverityInfo, "2011-03-22T18:43:00Z"},
		{"not yet valid", jws(okHeader, `{"nbf":1893456000,"exp":1893456001}`, "s"), FindingNotYetValid, SeverityInfo, "2030-01-01T00:00:00Z"},
		{"exp a string", jws(okHeader, `{"exp":"1893456000"}`, "s"), FindingNumericDateInvalid, SeverityMedium, "a string"},
		{"iat a boolean", jws(okHeader, `{"iat":true,"exp":1893456000}`, "s"), FindingNumericDateInvalid, SeverityMedium, "a boolean"},
		{"nbf negative", jws(okHeader, `{"nbf":-1,"exp":1893456000}`, "s"), FindingNumericDateInvalid, SeverityMedium, "out of range"},
		{"exp past 9999", jws(okHeader, `{"exp":1e20}`, "s"), FindingNumericDateInvalid, SeverityMedium, "out of range"},
		{"exp before iat", jws(okHeader, `{"iat":1893456000,"exp":1893455999}`, "s"), FindingExpBeforeIat, SeverityLow, "before iat"},
		{"jwe", readFile(t, "testdata/vectors/rfc7519_A.1.jwe"), FindingJWE, SeverityInfo, "encrypted"},
		{"payload not JSON", jws(okHeader, "hello", "s"), FindingNotJSONPayload, SeverityInfo, "not JSON"},
		{"payload a JSON array", jws(okHeader, "[1,2]", "s"), FindingNotJSONPayload, SeverityInfo, "not an object"},
		{"payload empty", jws(okHeader, "", "s"), FindingNotJSONPayload, SeverityInfo, "empty"},
		{"cdata too long", jws(okHeader, `{"exp":1893456000,"cdata":"`+strings.Repeat("é", 65)+`"}`, "s"), FindingCDataTooLong, SeverityLow, "65 characters"},
		{"second signature alg none", `{"payload":"` + b64(okClaims) + `","signatures":[{"protected":"` + b64(`{"alg":"HS256"}`) +
			`","signature":"AA"},{"protected":"` + b64(`{"alg":"none"}`) + `","signature":""}]}`, FindingAlgNone, SeverityCritical, "signature 2"},
		{"parameter in both headers", `{"payload":"` + b64(okClaims) + `","protected":"` + b64(`{"alg":"HS256"}`) +
			`","header":{"alg":"none"},"signature":"AA"}`, FindingDuplicateMember, SeverityMedium, "both the protected and the unprotected"},
		{"duplicate serialization member", `{"payload":"` + b64(okClaims) + `","protected":"` + b64(`{"alg":"HS256"}`) +
			`","signature":"AA","signature":"AA"}`, FindingDuplicateMember, SeverityMedium, `"signature"`},
		{"jwe alg unknown", b64(`{"alg":"RSA-OAEP-1024","enc":"A128GCM"}`) + "..AA.AA.AA", FindingAlgUnknown, SeverityMedium, "JWE"},
	}
}

func TestFindings(t *testing.T) {
	for _, tc := range findingTests(t) {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Parse(tc.token, withFixedNow())
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			i := slices.IndexFunc(tok.Findings, func(f Finding) bool { return f.ID == tc.id })
			if i < 0 {
				t.Fatalf("no %s finding; findings %q", tc.id, findingIDs(tok))
			}
			f := tok.Findings[i]
			if f.Severity != tc.sev {
				t.Errorf("severity %s, want %s", f.Severity, tc.sev)
			}
			if !strings.Contains(f.Message, tc.in) {
				t.Errorf("message %q does not mention %q", f.Message, tc.in)
			}
			if !tok.HasFinding(tc.id) {
				t.Error("HasFinding is false")
			}
		})
	}
}

// TestNoFindings: a well-formed token, valid at fixedNow, has none, and a
// harmless kid is not suspicious.
func TestNoFindings(t *testing.T) {
	for _, kid := range []string{"2010-12-29", "bilbo.baggins@hobbiton.example", "018c0ae5-4d9b-471b-bfd6-eef314bc7037",
		"https://keys.example/k1", "drop-box key", "key_for_orders"} {
		tok, err := Parse(jws(`{"alg":"ES256","typ":"JWT","kid":"`+kid+`"}`, okClaims, "sig"), withFixedNow())
		if err != nil {
			t.Fatal(err)
		}
		if len(tok.Findings) != 0 || tok.MaxSeverity() != "" {
			t.Errorf("kid %q: findings %+v", kid, tok.Findings)
		}
	}
}

func TestDuplicateMemberLastWins(t *testing.T) {
	tok, err := Parse(jws(`{"alg":"HS256","alg":"none"}`, `{"sub":"a","sub":"b"}`, ""), withFixedNow())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Alg() != "none" || tok.Claims["sub"] != "b" {
		t.Errorf("alg %q, sub %v: want the last values none, b", tok.Alg(), tok.Claims["sub"])
	}
	if tok.Kind != KindUnsecured || !tok.HasFinding(FindingAlgNone) || !tok.HasFinding(FindingDuplicateMember) {
		t.Errorf("kind %s findings %q", tok.Kind, findingIDs(tok))
	}
	if tok.MaxSeverity() != SeverityCritical {
		t.Errorf("MaxSeverity = %s", tok.MaxSeverity())
	}
}

func TestInvalidUTF8Replaced(t *testing.T) {
	tok, err := Parse(jws(okHeader, "{\"sub\":\"a\xffb\",\"cdata\":\"c\xfe\"}", "s"), withFixedNow())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Claims["sub"] != "a\uFFFDb" {
		t.Errorf("sub = %q", tok.Claims["sub"])
	}
	if c, _ := tok.CData(); c != "c\uFFFD" {
		t.Errorf("cdata = %q", c)
	}
}

func TestSeverityRank(t *testing.T) {
	order := []Severity{SeverityInfo, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}
	for i, s := range order {
		if s.Rank() != i {
			t.Errorf("%s.Rank() = %d, want %d", s, s.Rank(), i)
		}
	}
	if Severity("bogus").Rank() != -1 {
		t.Error("an unknown severity must rank -1")
	}
}

// TestFindingIDsDocumented: every ID constant is described in the package
// documentation, since scripts depend on them.
func TestFindingIDsDocumented(t *testing.T) {
	doc := readFile(t, "doc.go")
	for _, id := range allFindingIDs {
		if !strings.Contains(doc, "`"+id+"`") {
			t.Errorf("finding %s is not in doc.go", id)
		}
	}
}
