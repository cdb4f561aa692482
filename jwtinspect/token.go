package jwtinspect

import (
	"crypto/sha256"
	"time"
)

// Kind is the serialization of a token.
type Kind string

// Kinds of token.
const (
	KindJWS       Kind = "jws"       // JWS compact serialization (RFC 7515 §7.1)
	KindJWSJSON   Kind = "jws-json"  // JWS JSON serialization, flattened or general (RFC 7515 §7.2)
	KindJWE       Kind = "jwe"       // JWE, compact or JSON (RFC 7516): only the header is readable
	KindUnsecured Kind = "unsecured" // compact, alg "none" and an empty signature (RFC 7519 §6)
)

// Token is a decoded token. Parse fills it; nothing in it is verified.
type Token struct {
	// Raw is the token as parsed: the input after [Normalize].
	Raw string `json:"-"`
	// Kind is the serialization.
	Kind Kind `json:"kind"`
	// Header is the protected header (for a JWS JSON serialization, the
	// first signature's; nil when that signature has none), with numbers as
	// [encoding/json.Number]. Of duplicate members the last one wins.
	Header map[string]any `json:"header"`
	// RawHeader is the decoded protected header, as bytes.
	RawHeader []byte `json:"-"`
	// Payload is the decoded payload (nil for a JWE, whose payload is encrypted).
	Payload []byte `json:"-"`
	// Claims is the payload as a JSON object, or nil when the payload is not
	// one. Numbers are [encoding/json.Number], so they re-marshal exactly as
	// written; of duplicate members the last one wins.
	Claims map[string]any `json:"claims"`
	// Signature is the decoded signature (for a JWS JSON serialization, the
	// first signature's).
	Signature []byte `json:"-"`
	// Signatures lists every signature of a JWS JSON serialization, in order;
	// it is nil for the other kinds (a compact JWS has one signature: Header
	// and Signature).
	Signatures []Signature `json:"signatures,omitempty"`
	// Times holds the time claims.
	Times Times `json:"times"`
	// Findings lists what is noteworthy about the token, in a stable order.
	Findings []Finding `json:"findings"`

	// Storage that saves Parse allocations for the common case.
	timesBuf    [3]time.Time
	findingsBuf [2]Finding

	// arena holds the decoded strings of the claims that had escapes:
	// the claims point into it, so it is never written again once handed
	// out (see scanner.decodeLit).
	arena []byte

	start    int    // offset of Raw in the input to Parse
	cdata    string // the cdata claim, see CData
	hasCData bool
}

// Signature is one signature of a JWS JSON serialization.
type Signature struct {
	// Protected is the protected header, nil when absent.
	Protected map[string]any `json:"protected,omitempty"`
	// RawProtected is the decoded protected header, as bytes.
	RawProtected []byte `json:"-"`
	// Unprotected is the unprotected header ("header" member), nil when absent.
	Unprotected map[string]any `json:"header,omitempty"`
	// Signature is the decoded signature.
	Signature []byte `json:"-"`
}

// Alg returns the signature's "alg": the protected header's, or else the
// unprotected header's; "" when neither is a string.
func (s *Signature) Alg() string { return headerString(s.Protected, s.Unprotected, "alg") }

// Kid returns the signature's "kid", looked up as [Signature.Alg] does.
func (s *Signature) Kid() string { return headerString(s.Protected, s.Unprotected, "kid") }

func headerString(protected, unprotected map[string]any, name string) string {
	if v, ok := protected[name]; ok {
		s, _ := v.(string)
		return s
	}
	s, _ := unprotected[name].(string)
	return s
}

// Alg returns the "alg" header parameter, or "" when it is absent or not a
// string. For a JWS JSON serialization it is the first signature's.
func (t *Token) Alg() string {
	if len(t.Signatures) > 0 {
		return t.Signatures[0].Alg()
	}
	s, _ := t.Header["alg"].(string)
	return s
}

// Kid returns the "kid" header parameter, or "" (as [Token.Alg] does).
func (t *Token) Kid() string {
	if len(t.Signatures) > 0 {
		return t.Signatures[0].Kid()
	}
	s, _ := t.Header["kid"].(string)
	return s
}

// CData returns the token's cdata claim, as [CData] does: ok is false when
// the claim is absent (or the payload is not a JSON object).
func (t *Token) CData() (string, bool) { return t.cdata, t.hasCData }

// Subject returns the "sub" claim when it is a string.
func (t *Token) Subject() (string, bool) {
	s, ok := t.Claims["sub"].(string)
	return s, ok
}

// Fingerprint returns [Fingerprint] of the input that Parse was given.
func (t *Token) Fingerprint() string { return fingerprintNormalized(t.Raw) }

// ExpiryStatus returns the token's status at now, without leeway.
func (t *Token) ExpiryStatus(now time.Time) ExpiryStatus { return t.Times.Status(now, 0) }

// fingerprintNormalized is Fingerprint of a token that is already normalized.
func fingerprintNormalized(raw string) string {
	var buf [len(FingerprintPrefix) + 2*sha256.Size]byte
	return string(appendFingerprint(buf[:0], raw))
}
