package jwtinspect

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Why [Verify] refused a token. Test for them with [errors.Is].
var (
	// ErrSignatureInvalid: a key that may verify the signature does not.
	ErrSignatureInvalid = errors.New("signature not valid")
	// ErrNoMatchingKey: no key has the token's kid, or none can verify its alg.
	ErrNoMatchingKey = errors.New("no matching key")
	// ErrAlgNotAllowed: alg is none, missing, not one this package verifies,
	// not in [VerifyOptions.Algorithms], or not the key's own alg.
	ErrAlgNotAllowed = errors.New("algorithm not allowed")
	// ErrAlgConfusion: an HS* token checked against a public key, the shape
	// of a forgery that MACs the token with the public key's bytes. It is
	// refused, never tried.
	ErrAlgConfusion = errors.New("algorithm confusion: an HMAC token checked against a public key (possible forgery)")
	// ErrWeakHMACKey: the HMAC secret is shorter than the hash (RFC 7518 §3.2).
	ErrWeakHMACKey = errors.New("HMAC secret shorter than the hash")
	// ErrExpired: the signature is good but exp has passed (beyond the leeway).
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: the signature is good but nbf, or iat, is in the future.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrClaimsInvalid: the signature is good but a time claim is unreadable,
	// or iss or aud is not the one expected.
	ErrClaimsInvalid = errors.New("claims not valid")
	// ErrNotSigned: the token is a JWE, which is encrypted, not signed.
	ErrNotSigned = errors.New("not a signed token")
)

// Finding IDs that [Verify] reports in [VerifyResult.Findings].
const (
	FindingAlgConfusion   = "alg-confusion"
	FindingWeakHMACKey    = "weak-hmac-key"
	FindingWeakHMACSecret = "weak-hmac-secret"
)

// DefaultLeeway is the clock skew that Verify grants on exp, nbf and iat.
const DefaultLeeway = 60 * time.Second

// VerifyOptions configures [Verify]. The zero value is usable.
type VerifyOptions struct {
	// Algorithms, when not empty, are the only algorithms accepted. The
	// keys' types (and their own alg) narrow them further; none never verifies.
	Algorithms []string
	// Leeway is the clock skew granted on exp, nbf and iat: 0 means
	// DefaultLeeway, a negative value none.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Issuer, when not empty, must equal the iss claim.
	Issuer string
	// Audience, when not empty, must be the aud claim or one of its elements.
	Audience string
	// CheckWeakSecrets also tries, on HS* signatures, a short list of
	// well-known secrets ("secret", "your-256-bit-secret", …), reporting a
	// weak-hmac-secret finding when one verifies.
	CheckWeakSecrets bool
	// RequireAllSignatures makes a JWS JSON serialization with several
	// signatures valid only when every one verifies; by default one is enough.
	RequireAllSignatures bool
	// DetachedPayload is the payload of a token whose payload is detached
	// (RFC 7515 Appendix F); nil when it is not.
	DetachedPayload []byte
}

// VerifyResult says how a token was verified.
type VerifyResult struct {
	// Verified is true when the signature check passed (one signature, or
	// all with RequireAllSignatures); the times and claims may still fail.
	Verified bool `json:"verified"`
	// Alg, KeyID and Key describe the first signature that verified: its
	// algorithm, the token's kid, and which key verified it.
	Alg   string `json:"alg,omitempty"`
	KeyID string `json:"kid,omitempty"`
	Key   string `json:"key,omitempty"`
	// Status is the token's validity at the clock, with the leeway.
	Status ExpiryStatus `json:"status"`
	// Signatures holds one result per signature, in order.
	Signatures []SignatureResult `json:"signatures"`
	// Findings are what verification noticed: alg-confusion,
	// weak-hmac-key, weak-hmac-secret.
	Findings []Finding `json:"findings"`
}

// SignatureResult is the outcome for one signature.
type SignatureResult struct {
	Index    int    `json:"index"`           // the signature's place, from 0
	Alg      string `json:"alg"`             // the signature's alg
	KeyID    string `json:"kid,omitempty"`   // the signature's kid, if any
	Verified bool   `json:"verified"`        // whether a key verified it
	Key      string `json:"key,omitempty"`   // the key that verified it
	Err      error  `json:"-"`               // why it did not verify
	Error    string `json:"error,omitempty"` // Err as text
}

// verifiable are the algorithms go-jose verifies.
var verifiable = []string{
	"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
	"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA",
}

// weakSecrets are secrets from tutorials, defaults and documentation.
var weakSecrets = []string{
	"", "secret", "your-256-bit-secret", "your-384-bit-secret", "your-512-bit-secret",
	"password", "changeme", "change-me", "123456", "12345678", "jwt", "jwt-secret",
	"jwt_secret", "jwtsecret", "secretkey", "secret-key", "secret_key", "mysecret",
	"my-secret", "my_secret", "key", "test", "shhhhh", "supersecret", "default", "admin",
}

// Verify checks a parsed token's signature with keys, offline, then its
// time claims (with a leeway) and the expected issuer and audience. The
// cryptography is go-jose v4's. It returns the result and a nil error only
// when the token is genuine and valid now; otherwise the error wraps one of
// the Err* variables above and the result still says what was found.
//
// Keys are chosen per signature: with a kid, the keys with that kid, or if
// none has it the keys without any kid; without a kid, every key. A key
// only verifies the algorithms its type allows (see [Key.Algorithms]). An
// HS* signature is never checked against a public key: that is refused
// with [ErrAlgConfusion] and an alg-confusion finding. A token without exp
// (every Woleet token) is valid with the status [ExpiryNone].
func Verify(tok *Token, keys *KeySet, opts VerifyOptions) (*VerifyResult, error) {
	if tok == nil {
		return nil, errors.New("verify: nil token")
	}
	if keys == nil {
		keys = &KeySet{}
	}
	res := &VerifyResult{}
	if tok.Kind == KindJWE {
		return res, fmt.Errorf("verify: a JWE is encrypted, not signed: %w", ErrNotSigned)
	}
	v := verifier{tok: tok, keys: keys, opts: opts, res: res}
	var one [1]sigView // a compact token's, without an allocation
	sigs := tok.signatureViews(one[:0])
	res.Signatures = make([]SignatureResult, len(sigs))
	for i, s := range sigs {
		res.Signatures[i] = v.verifySignature(i, s)
	}
	if opts.CheckWeakSecrets {
		v.checkWeakSecrets(sigs)
	}
	sigErr := v.outcome()
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	leeway := opts.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		leeway = 0
	}
	res.Status = tok.Times.Status(now(), leeway)
	if sigErr != nil {
		return res, sigErr
	}
	if err := checkClaims(tok, now(), leeway, opts); err != nil {
		return res, err
	}
	return res, nil
}

// sigView is one signature with what verifying it needs.
type sigView struct {
	alg, kid           string
	protected, payload []byte
	signature          []byte
	unprotected        map[string]any
	hasProtected       bool
}

// signatureViews appends the token's signatures to views: one for a
// compact token.
func (t *Token) signatureViews(views []sigView) []sigView {
	if t.Kind != KindJWSJSON {
		return append(views, sigView{
			alg: headerString(t.Header, nil, "alg"), kid: headerString(t.Header, nil, "kid"),
			protected: t.RawHeader, payload: t.Payload, signature: t.Signature, hasProtected: true,
		})
	}
	for i := range t.Signatures {
		s := &t.Signatures[i]
		views = append(views, sigView{
			alg: s.Alg(), kid: s.Kid(), protected: s.RawProtected, payload: t.Payload,
			signature: s.Signature, unprotected: s.Unprotected, hasProtected: s.Protected != nil,
		})
	}
	return views
}

type verifier struct {
	tok  *Token
	keys *KeySet
	opts VerifyOptions
	res  *VerifyResult
}

// parsedSig is go-jose's parse of one signature, made at most once.
type parsedSig struct {
	obj  *jose.JSONWebSignature
	err  error
	done bool
}

func (v *verifier) finding(id string, sev Severity, msg string) {
	f := Finding{ID: id, Severity: sev, Message: msg}
	if !slices.Contains(v.res.Findings, f) {
		v.res.Findings = append(v.res.Findings, f)
	}
}

// hashSize returns the output size in bytes of an HS* algorithm's hash.
func hashSize(alg string) int {
	switch alg {
	case "HS384":
		return 48
	case "HS512":
		return 64
	}
	return 32
}

func isHMACAlg(alg string) bool { return strings.HasPrefix(alg, "HS") }

// candidates returns the keys a signature with this kid may be checked with.
func (v *verifier) candidates(kid string) []*Key {
	if kid == "" {
		return v.keys.Keys
	}
	var byID, noID []*Key
	for _, k := range v.keys.Keys {
		switch k.ID {
		case kid:
			byID = append(byID, k)
		case "":
			noID = append(noID, k)
		}
	}
	if len(byID) > 0 {
		return byID
	}
	return noID
}

func (v *verifier) verifySignature(i int, s sigView) SignatureResult {
	r := SignatureResult{Index: i, Alg: s.alg, KeyID: s.kid}
	fail := func(err error) SignatureResult {
		r.Err, r.Error = err, err.Error()
		return r
	}
	switch {
	case s.alg == "":
		return fail(fmt.Errorf("the header has no alg: %w", ErrAlgNotAllowed))
	case strings.EqualFold(s.alg, "none"):
		return fail(fmt.Errorf("alg %s never verifies: %w", quoteShort(s.alg), ErrAlgNotAllowed))
	case !slices.Contains(verifiable, s.alg):
		return fail(fmt.Errorf("alg %s is not one this tool verifies: %w", quoteShort(s.alg), ErrAlgNotAllowed))
	case len(v.opts.Algorithms) > 0 && !slices.Contains(v.opts.Algorithms, s.alg):
		return fail(fmt.Errorf("alg %s is not among the allowed %s: %w", s.alg, strings.Join(v.opts.Algorithms, ", "), ErrAlgNotAllowed))
	}
	cands := v.candidates(s.kid)
	if len(cands) == 0 {
		if s.kid != "" && len(v.keys.Keys) > 0 {
			return fail(fmt.Errorf("no key has kid %s: %w", quoteShort(s.kid), ErrNoMatchingKey))
		}
		return fail(fmt.Errorf("no keys to verify with: %w", ErrNoMatchingKey))
	}
	var confusion, weak, invalid, narrowed *Key
	var lastErr error
	var parsed parsedSig
	for _, k := range cands {
		switch {
		case isHMACAlg(s.alg) && k.Type() != KeyHMAC:
			confusion = first(confusion, k)
		case !slices.Contains(k.Algorithms(), s.alg):
			if k.Alg != "" && slices.Contains(k.typeAlgorithms(), s.alg) {
				narrowed = first(narrowed, k)
			}
		case k.Type() == KeyHMAC && len(k.material.([]byte)) < hashSize(s.alg):
			weak = first(weak, k)
		default:
			err := v.joseVerify(&parsed, s, k)
			if err == nil {
				r.Verified, r.Key = true, k.Description
				return r
			}
			invalid, lastErr = first(invalid, k), err
		}
	}
	switch {
	case confusion != nil:
		v.finding(FindingAlgConfusion, SeverityCritical, fmt.Sprintf(
			"an %s token was checked against %s, a public key: possible forgery with the public key's bytes as the HMAC secret; refused", s.alg, confusion))
		return fail(fmt.Errorf("%s signature, key %s: %w", s.alg, confusion, ErrAlgConfusion))
	case weak != nil:
		n := len(weak.material.([]byte))
		v.finding(FindingWeakHMACKey, SeverityHigh, fmt.Sprintf(
			"%s is %d bytes; %s needs a secret of at least %d bytes (RFC 7518 section 3.2)", weak, n, s.alg, hashSize(s.alg)))
		return fail(fmt.Errorf("%s is %d bytes, %s needs at least %d: %w", weak, n, s.alg, hashSize(s.alg), ErrWeakHMACKey))
	case invalid != nil:
		if errors.Is(lastErr, ErrSignatureInvalid) {
			return fail(lastErr)
		}
		return fail(fmt.Errorf("%s signature does not verify with %s: %w", s.alg, invalid, ErrSignatureInvalid))
	case narrowed != nil:
		return fail(fmt.Errorf("%s allows only %s, not %s: %w", narrowed, narrowed.Alg, s.alg, ErrAlgNotAllowed))
	}
	return fail(fmt.Errorf("none of the %d keys can verify %s: %w", len(cands), s.alg, ErrNoMatchingKey))
}

func first(have, k *Key) *Key {
	if have != nil {
		return have
	}
	return k
}

// joseVerify has go-jose verify one signature with one key.
func (v *verifier) joseVerify(p *parsedSig, s sigView, k *Key) error {
	if !p.done {
		p.obj, p.err = v.parse(s)
		p.done = true
	}
	if p.err != nil {
		return fmt.Errorf("go-jose refused the %s signature (%v): %w", s.alg, p.err, ErrSignatureInvalid)
	}
	if _, err := p.obj.Verify(k.material); err != nil {
		return fmt.Errorf("%s signature does not verify with %s: %w", s.alg, k, ErrSignatureInvalid)
	}
	return nil
}

// parse has go-jose parse one signature alone. It is given the canonical
// base64url form, which is what go-jose computes the signing input from.
func (v *verifier) parse(s sigView) (*jose.JSONWebSignature, error) {
	algs := []jose.SignatureAlgorithm{jose.SignatureAlgorithm(s.alg)}
	enc := base64.RawURLEncoding
	payload := s.payload
	if v.opts.DetachedPayload != nil {
		payload = v.opts.DetachedPayload
	}
	var obj *jose.JSONWebSignature
	var err error
	switch {
	case v.tok.Kind != KindJWSJSON && v.opts.DetachedPayload != nil:
		obj, err = jose.ParseDetached(enc.EncodeToString(s.protected)+".."+enc.EncodeToString(s.signature), payload, algs)
	case v.tok.Kind != KindJWSJSON:
		compact := v.tok.Raw
		if v.tok.HasFinding(FindingNonCanonicalBase64) {
			compact = enc.EncodeToString(s.protected) + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString(s.signature)
		}
		obj, err = jose.ParseSignedCompact(compact, algs)
	default:
		flat := struct {
			Payload   string         `json:"payload"`
			Protected string         `json:"protected,omitempty"`
			Header    map[string]any `json:"header,omitempty"`
			Signature string         `json:"signature"`
		}{enc.EncodeToString(payload), "", s.unprotected, enc.EncodeToString(s.signature)}
		if s.hasProtected {
			flat.Protected = enc.EncodeToString(s.protected)
		}
		var text []byte
		if text, err = json.Marshal(flat); err == nil {
			obj, err = jose.ParseSignedJSON(string(text), algs)
		}
	}
	return obj, err
}

// checkWeakSecrets tries the well-known secrets on every HS* signature. The
// secrets are shorter than go-jose accepts, so this uses crypto/hmac.
func (v *verifier) checkWeakSecrets(sigs []sigView) {
	for _, s := range sigs {
		var h func() hash.Hash
		switch s.alg {
		case "HS256":
			h = sha256.New
		case "HS384":
			h = sha512.New384
		case "HS512":
			h = sha512.New
		default:
			continue
		}
		enc := base64.RawURLEncoding
		payload := s.payload
		if v.opts.DetachedPayload != nil {
			payload = v.opts.DetachedPayload
		}
		input := []byte(enc.EncodeToString(s.protected) + "." + enc.EncodeToString(payload))
		for _, secret := range weakSecrets {
			mac := hmac.New(h, []byte(secret))
			mac.Write(input)
			if hmac.Equal(mac.Sum(nil), s.signature) {
				v.finding(FindingWeakHMACSecret, SeverityCritical, fmt.Sprintf(
					"the %s signature verifies with the well-known secret %q: anyone can forge this issuer's tokens", s.alg, secret))
				break
			}
		}
	}
}

// errRank orders signature errors from the most telling.
func errRank(err error) int {
	for i, e := range []error{ErrAlgConfusion, ErrWeakHMACKey, ErrSignatureInvalid, ErrAlgNotAllowed, ErrNoMatchingKey} {
		if errors.Is(err, e) {
			return i
		}
	}
	return 99
}

// outcome sets the result's summary and returns the signature error, if any.
func (v *verifier) outcome() error {
	sigs := v.res.Signatures
	var worst *SignatureResult
	verified := 0
	for i := range sigs {
		s := &sigs[i]
		if s.Verified {
			verified++
			if verified == 1 {
				v.res.Alg, v.res.KeyID, v.res.Key = s.Alg, s.KeyID, s.Key
			}
		} else if worst == nil || errRank(s.Err) < errRank(worst.Err) {
			worst = s
		}
	}
	v.res.Verified = verified == len(sigs) || verified > 0 && !v.opts.RequireAllSignatures
	if v.res.Verified {
		return nil
	}
	if len(sigs) == 1 {
		return fmt.Errorf("verify: %w", worst.Err)
	}
	return fmt.Errorf("verify: %d of %d signatures verified; signature %d: %w", verified, len(sigs), worst.Index+1, worst.Err)
}

// checkClaims checks the time claims and the expected issuer and audience
// of a token whose signature verified.
func checkClaims(tok *Token, now time.Time, leeway time.Duration, opts VerifyOptions) error {
	ts := tok.Times
	for _, c := range []struct {
		name string
		t    *time.Time
	}{{"exp", ts.Expires}, {"nbf", ts.NotBefore}, {"iat", ts.IssuedAt}} {
		if _, ok := tok.Claims[c.name]; ok && c.t == nil {
			return fmt.Errorf("verify: claim %s is not a valid NumericDate: %w", c.name, ErrClaimsInvalid)
		}
	}
	switch ts.Status(now, leeway) {
	case ExpiryExpired:
		return fmt.Errorf("verify: expired at %s: %w", rfc3339(*ts.Expires), ErrExpired)
	case ExpiryNotYetValid:
		return fmt.Errorf("verify: not valid before %s: %w", rfc3339(*ts.NotBefore), ErrNotYetValid)
	}
	if ts.IssuedAt != nil && ts.IssuedAt.After(now.Add(leeway)) {
		return fmt.Errorf("verify: issued in the future, at %s: %w", rfc3339(*ts.IssuedAt), ErrNotYetValid)
	}
	if opts.Issuer != "" {
		if iss, _ := tok.Claims["iss"].(string); iss != opts.Issuer {
			return fmt.Errorf("verify: issuer is %s, want %s: %w", quoteShort(iss), quoteShort(opts.Issuer), ErrClaimsInvalid)
		}
	}
	if opts.Audience != "" && !hasAudience(tok.Claims["aud"], opts.Audience) {
		return fmt.Errorf("verify: audience %s is not in the token: %w", quoteShort(opts.Audience), ErrClaimsInvalid)
	}
	return nil
}

// hasAudience reports whether an aud claim (a string or an array of them) holds want.
func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		return slices.Contains(a, any(want))
	}
	return false
}
