package jwtinspect

import (
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// beforeExp is a clock before the RFC tokens' exp (2011-03-22T18:43:00Z).
var beforeExp = time.Unix(1300819000, 0)

func atBeforeExp() time.Time { return beforeExp }

func mustParse(tb testing.TB, token string) *Token {
	tb.Helper()
	tok, err := Parse(token)
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return tok
}

func mustKeys(tb testing.TB, name string) *KeySet {
	tb.Helper()
	set, err := LoadKeyFile(filepath.Join("testdata", "vectors", name))
	if err != nil {
		tb.Fatalf("LoadKeyFile(%s): %v", name, err)
	}
	return set
}

// signedVectors maps every signed token among the vectors to the key files
// that verify it, and the number of its signatures.
var signedVectors = []struct {
	token string
	keys  []string
	sigs  int
}{
	{"rfc7515_A.1.jwsc", []string{"rfc7515_A.1.jwk"}, 1},
	{"rfc7515_A.2.jwsc", []string{"rfc7515_A.2.jwk", "rfc7515_A.2.pub.pem"}, 1},
	{"rfc7515_A.3.jwsc", []string{"rfc7515_A.3.jwk", "rfc7515_A.3.pub.pem"}, 1},
	{"rfc7515_A.4.jwsc", []string{"rfc7515_A.4.jwk"}, 1},
	{"rfc7515_A.6.jwsg", []string{"rfc7515_A.6.jwkset"}, 2},
	{"rfc7515_A.7.jwsf", []string{"rfc7515_A.7.jwk"}, 1},
	{"rfc7520_4.1.jwsc", []string{"rfc7520_4.1.jwk"}, 1},
	{"rfc7520_4.1.jwsf", []string{"rfc7520_4.1.jwk"}, 1},
	{"rfc7520_4.1.jwsg", []string{"rfc7520_4.1.jwk"}, 1},
	{"rfc7520_4.2.jwsc", []string{"rfc7520_4.2.jwk"}, 1},
	{"rfc7520_4.2.jwsg", []string{"rfc7520_4.2.jwk"}, 1},
	{"rfc7520_4.3.jwsc", []string{"rfc7520_4.3.jwk"}, 1},
	{"rfc7520_4.3.jwsf", []string{"rfc7520_4.3.jwk"}, 1},
	{"rfc7520_4.4.jwsc", []string{"rfc7520_4.4.jwk"}, 1},
	{"rfc7520_4.4.jwsg", []string{"rfc7520_4.4.jwk"}, 1},
	{"rfc7520_4.6.jwsf", []string{"rfc7520_4.6.jwk"}, 1},
	{"rfc7520_4.7.jwsg", []string{"rfc7520_4.7.jwk"}, 1},
	{"rfc7520_4.8.jwsg", []string{"rfc7520_4.8.jwkset"}, 3},
}

// sameMaterial reports whether two keys hold the same key.
func sameMaterial(a, b *Key) bool {
	if a.Type() == KeyHMAC || b.Type() == KeyHMAC {
		return a.Type() == b.Type() && string(a.material.([]byte)) == string(b.material.([]byte))
	}
	eq, ok := a.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b.Public())
}

func TestVerifyVectors(t *testing.T) {
	keyFiles, _ := filepath.Glob("testdata/vectors/*.jwk*")
	pems, _ := filepath.Glob("testdata/vectors/*.pem")
	keyFiles = append(keyFiles, pems...)
	opts := VerifyOptions{Now: atBeforeExp}
	for _, tc := range signedVectors {
		t.Run(tc.token, func(t *testing.T) {
			raw := readFile(t, "testdata/vectors/"+tc.token)
			tok := mustParse(t, raw)
			var good []*Key
			for _, name := range tc.keys {
				set := mustKeys(t, name)
				good = append(good, set.Keys...)
				res, err := Verify(tok, set, opts)
				if err != nil {
					t.Fatalf("with %s: %v", name, err)
				}
				if !res.Verified || len(res.Signatures) != tc.sigs || res.Alg != tok.Alg() || res.Key == "" {
					t.Fatalf("with %s: result %+v", name, res)
				}
				for _, s := range res.Signatures {
					if !s.Verified || s.Err != nil || !strings.Contains(s.Key, name) {
						t.Errorf("with %s: signature %d: %+v", name, s.Index, s)
					}
				}
			}
			// Every other key fails.
			for _, path := range keyFiles {
				set, err := LoadKeyFile(path)
				if err != nil {
					continue // a file with no usable key
				}
				if slices.ContainsFunc(set.Keys, func(k *Key) bool {
					return slices.ContainsFunc(good, func(g *Key) bool { return sameMaterial(k, g) })
				}) {
					continue // the same key under another name
				}
				res, err := Verify(tok, set, opts)
				if err == nil || res.Verified {
					t.Errorf("verified with the wrong key file %s", filepath.Base(path))
				}
				if errors.Is(err, ErrExpired) || errors.Is(err, ErrNotYetValid) {
					t.Errorf("%s: a time error %v instead of a signature error", filepath.Base(path), err)
				}
			}
			// A flipped payload byte fails.
			flipped := flipPayload(t, raw)
			res, err := Verify(mustParse(t, flipped), mustKeys(t, tc.keys[0]), opts)
			if !errors.Is(err, ErrSignatureInvalid) || res.Verified {
				t.Errorf("flipped payload: %v", err)
			}
		})
	}
}

// flipPayload changes one base64url character of a token's payload (not its
// last, which may only hold padding bits).
func flipPayload(t *testing.T, token string) string {
	t.Helper()
	i := strings.IndexByte(token, '.') + 3
	if strings.HasPrefix(token, "{") {
		i = strings.Index(token, `"payload":"`) + len(`"payload":"`) + 2
	}
	c := byte('A')
	if token[i] == 'A' {
		c = 'B'
	}
	return replaceAt(token, i, c)
}

func TestVerifyExpiry(t *testing.T) {
	a1 := mustParse(t, readFile(t, "testdata/vectors/rfc7515_A.1.jwsc"))
	keys := mustKeys(t, "rfc7515_A.1.jwk")
	exp := time.Unix(1300819380, 0)
	tests := []struct {
		now    time.Time
		leeway time.Duration
		err    error
		status ExpiryStatus
	}{
		{beforeExp, 0, nil, ExpiryValid},
		{exp.Add(59 * time.Second), 0, nil, ExpiryValid}, // within the default leeway
		{exp.Add(61 * time.Second), 0, ErrExpired, ExpiryExpired},
		{exp.Add(time.Second), -1, ErrExpired, ExpiryExpired}, // no leeway
		{exp.Add(time.Hour), 2 * time.Hour, nil, ExpiryValid},
		{fixedNow, 0, ErrExpired, ExpiryExpired},
	}
	for _, tc := range tests {
		res, err := Verify(a1, keys, VerifyOptions{Now: func() time.Time { return tc.now }, Leeway: tc.leeway})
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) || res.Status != tc.status || !res.Verified {
			t.Errorf("at %s leeway %s: err %v status %s verified %v; want %v %s", tc.now, tc.leeway, err, res.Status, res.Verified, tc.err, tc.status)
		}
	}
}

// hs256 signs a compact HS256 token with secret.
func hs256(header, claims string, secret []byte) string {
	input := b64(header) + "." + b64(claims)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func hmacKey(t *testing.T, secret, id string) *Key {
	t.Helper()
	k, err := NewHMACKey([]byte(secret), SecretRaw, "test")
	if err != nil {
		t.Fatal(err)
	}
	k.ID = id
	return k
}

const secret32 = "0123456789abcdef0123456789abcdef"

func TestVerifyWoleetToken(t *testing.T) {
	key, err := LoadHMACKeyFile("testdata/woleet.key", SecretRaw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(mustParse(t, readFile(t, "testdata/woleet.jwt")), NewKeySet(key), VerifyOptions{})
	if err != nil || !res.Verified || res.Status != ExpiryNone || res.Alg != "HS256" {
		t.Fatalf("err %v, result %+v", err, res)
	}
	if res.Key != "HMAC secret from testdata/woleet.key (32 bytes)" {
		t.Errorf("Key = %q", res.Key)
	}
}

func TestVerifyTimeClaims(t *testing.T) {
	now := time.Unix(1800000000, 0)
	keys := NewKeySet(hmacKey(t, secret32, ""))
	tests := []struct {
		claims string
		opts   VerifyOptions
		err    error
	}{
		{`{"sub":"x"}`, VerifyOptions{}, nil},
		{`{"nbf":1800000600}`, VerifyOptions{}, ErrNotYetValid},
		{`{"nbf":1800000030}`, VerifyOptions{}, nil}, // within the leeway
		{`{"iat":1800000600}`, VerifyOptions{}, ErrNotYetValid},
		{`{"exp":"soon"}`, VerifyOptions{}, ErrClaimsInvalid},
		{`{"iat":-5}`, VerifyOptions{}, ErrClaimsInvalid},
		{`{"iss":"https://api.woleet.io"}`, VerifyOptions{Issuer: "https://api.woleet.io"}, nil},
		{`{"iss":"https://evil.example"}`, VerifyOptions{Issuer: "https://api.woleet.io"}, ErrClaimsInvalid},
		{`{}`, VerifyOptions{Issuer: "https://api.woleet.io"}, ErrClaimsInvalid},
		{`{"aud":"cli"}`, VerifyOptions{Audience: "cli"}, nil},
		{`{"aud":["web","cli"]}`, VerifyOptions{Audience: "cli"}, nil},
		{`{"aud":["web"]}`, VerifyOptions{Audience: "cli"}, ErrClaimsInvalid},
	}
	for _, tc := range tests {
		tc.opts.Now = func() time.Time { return now }
		res, err := Verify(mustParse(t, hs256(okHeader, tc.claims, []byte(secret32))), keys, tc.opts)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) || !res.Verified {
			t.Errorf("%s: err %v verified %v, want %v", tc.claims, err, res.Verified, tc.err)
		}
	}
}

// TestVerifyAlgConfusion: the forgery that fools tools which use a public
// key file's bytes as an HMAC secret.
func TestVerifyAlgConfusion(t *testing.T) {
	pemBytes := readFile(t, "testdata/vectors/rfc7515_A.2.pub.pem")
	forged := mustParse(t, hs256(`{"alg":"HS256","typ":"JWT"}`, `{"sub":"admin","iat":1300819000}`, []byte(pemBytes)))
	keys := mustKeys(t, "rfc7515_A.2.pub.pem")
	res, err := Verify(forged, keys, VerifyOptions{})
	if !errors.Is(err, ErrAlgConfusion) || res.Verified {
		t.Fatalf("err %v, verified %v: the forgery must be refused as algorithm confusion", err, res.Verified)
	}
	if len(res.Findings) != 1 || res.Findings[0].ID != FindingAlgConfusion || res.Findings[0].Severity != SeverityCritical ||
		!strings.Contains(res.Findings[0].Message, "possible forgery") {
		t.Errorf("findings %+v", res.Findings)
	}
	if !strings.Contains(err.Error(), "rfc7515_A.2.pub.pem (RSA 2048)") {
		t.Errorf("error %q does not name the key", err)
	}
	// Only a caller who says the bytes are an HMAC secret gets them used as one.
	secret, err := NewHMACKey([]byte(pemBytes), SecretRaw, "pem-as-secret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(forged, NewKeySet(secret), VerifyOptions{}); err != nil {
		t.Errorf("with the bytes given as a secret: %v", err)
	}
	// An HMAC secret and the public key together: the secret is tried, the
	// public key never; the confusion is still reported when nothing verifies.
	both := NewKeySet(hmacKey(t, secret32, ""), keys.Keys[0])
	if _, err := Verify(forged, both, VerifyOptions{}); !errors.Is(err, ErrAlgConfusion) {
		t.Errorf("with a wrong secret and the public key: %v", err)
	}
}

func TestVerifyWeakHMACKey(t *testing.T) {
	short := "0123456789abcdef" // 16 bytes
	tok := mustParse(t, hs256(okHeader, woleetClaims, []byte(short)))
	res, err := Verify(tok, NewKeySet(hmacKey(t, short, "")), VerifyOptions{})
	if !errors.Is(err, ErrWeakHMACKey) || res.Verified {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(err.Error(), "16 bytes, HS256 needs at least 32") {
		t.Errorf("message %q", err)
	}
	if len(res.Findings) != 1 || res.Findings[0].ID != FindingWeakHMACKey {
		t.Errorf("findings %+v", res.Findings)
	}
}

func TestVerifyWeakSecrets(t *testing.T) {
	for _, s := range []string{"secret", "your-256-bit-secret", ""} {
		tok := mustParse(t, hs256(okHeader, woleetClaims, []byte(s)))
		res, err := Verify(tok, nil, VerifyOptions{CheckWeakSecrets: true})
		if !errors.Is(err, ErrNoMatchingKey) {
			t.Errorf("%q: err %v", s, err)
		}
		if len(res.Findings) != 1 || res.Findings[0].ID != FindingWeakHMACSecret || !strings.Contains(res.Findings[0].Message, `"`+s+`"`) {
			t.Errorf("%q: findings %+v", s, res.Findings)
		}
		// Off by default.
		if res, _ := Verify(tok, nil, VerifyOptions{}); len(res.Findings) != 0 {
			t.Errorf("%q: findings without the option: %+v", s, res.Findings)
		}
	}
	// A good secret is not reported.
	res, err := Verify(mustParse(t, hs256(okHeader, woleetClaims, []byte(secret32))), NewKeySet(hmacKey(t, secret32, "")),
		VerifyOptions{CheckWeakSecrets: true})
	if err != nil || len(res.Findings) != 0 {
		t.Errorf("err %v findings %+v", err, res.Findings)
	}
}

func TestVerifyKeySelection(t *testing.T) {
	other := strings.Repeat("z", 32)
	keys := NewKeySet(hmacKey(t, other, "a"), hmacKey(t, secret32, "b"))
	tests := []struct {
		header string
		err    error
	}{
		{`{"alg":"HS256","kid":"b"}`, nil},
		{`{"alg":"HS256","kid":"a"}`, ErrSignatureInvalid},
		{`{"alg":"HS256","kid":"c"}`, ErrNoMatchingKey},
		{`{"alg":"HS256"}`, nil}, // no kid: every key is tried
	}
	for _, tc := range tests {
		res, err := Verify(mustParse(t, hs256(tc.header, `{}`, []byte(secret32))), keys, VerifyOptions{})
		if !errors.Is(err, tc.err) || (tc.err == nil && (err != nil || res.KeyID != headerKid(tc.header))) {
			t.Errorf("%s: err %v, result %+v", tc.header, err, res)
		}
	}
	// A key without a kid serves a token with one when no key has that kid.
	noKid := NewKeySet(hmacKey(t, secret32, ""))
	if _, err := Verify(mustParse(t, hs256(`{"alg":"HS256","kid":"c"}`, `{}`, []byte(secret32))), noKid, VerifyOptions{}); err != nil {
		t.Errorf("kid c, key without kid: %v", err)
	}
}

func headerKid(h string) string {
	if i := strings.Index(h, `"kid":"`); i >= 0 {
		return h[i+7 : i+8]
	}
	return ""
}

func TestVerifyAlgorithms(t *testing.T) {
	a2 := mustParse(t, readFile(t, "testdata/vectors/rfc7515_A.2.jwsc"))
	rsa := mustKeys(t, "rfc7515_A.2.pub.pem")
	opts := VerifyOptions{Now: atBeforeExp}
	check := func(name string, tok *Token, keys *KeySet, opts VerifyOptions, want error) {
		t.Helper()
		if _, err := Verify(tok, keys, opts); !errors.Is(err, want) {
			t.Errorf("%s: err %v, want %v", name, err, want)
		}
	}
	check("allowed list excludes RS256", a2, rsa, VerifyOptions{Now: atBeforeExp, Algorithms: []string{"ES256", "RS512"}}, ErrAlgNotAllowed)
	check("allowed list includes RS256", a2, rsa, VerifyOptions{Now: atBeforeExp, Algorithms: []string{"RS256"}}, nil)
	check("alg none", mustParse(t, readFile(t, "testdata/vectors/rfc7515_A.5.jwsc")), rsa, opts, ErrAlgNotAllowed)
	check("alg none in capitals", mustParse(t, jws(`{"alg":"NONE"}`, `{}`, "")), NewKeySet(hmacKey(t, secret32, "")), opts, ErrAlgNotAllowed)
	check("no alg", mustParse(t, jws(`{"typ":"JWT"}`, `{}`, "s")), rsa, opts, ErrAlgNotAllowed)
	check("unsupported alg", mustParse(t, jws(`{"alg":"ES256K"}`, `{}`, "s")), rsa, opts, ErrAlgNotAllowed)
	check("RS256 with only an HMAC secret", a2, NewKeySet(hmacKey(t, secret32, "")), opts, ErrNoMatchingKey)
	check("RS256 with an EC key", a2, mustKeys(t, "rfc7515_A.3.pub.pem"), opts, ErrNoMatchingKey)
	check("no keys at all", a2, nil, opts, ErrNoMatchingKey)
	check("a JWE", mustParse(t, readFile(t, "testdata/vectors/rfc7519_A.1.jwe")), rsa, opts, ErrNotSigned)
	// A JWK's own alg narrows its key.
	jwk := strings.Replace(readFile(t, "testdata/vectors/rfc7515_A.2.jwk"), `{`, `{"alg":"RS512",`, 1)
	narrowed, err := ParseKeys([]byte(jwk), "rs512.jwk")
	if err != nil {
		t.Fatal(err)
	}
	check("key alg RS512", a2, narrowed, opts, ErrAlgNotAllowed)
}

func TestVerifyMultipleSignatures(t *testing.T) {
	a6 := mustParse(t, readFile(t, "testdata/vectors/rfc7515_A.6.jwsg"))
	rsaOnly := mustKeys(t, "rfc7515_A.2.pub.pem")
	res, err := Verify(a6, rsaOnly, VerifyOptions{Now: atBeforeExp})
	if err != nil || !res.Verified || !res.Signatures[0].Verified || res.Signatures[1].Verified ||
		!errors.Is(res.Signatures[1].Err, ErrNoMatchingKey) || res.KeyID != "2010-12-29" {
		t.Fatalf("err %v result %+v", err, res)
	}
	res, err = Verify(a6, rsaOnly, VerifyOptions{Now: atBeforeExp, RequireAllSignatures: true})
	if !errors.Is(err, ErrNoMatchingKey) || res.Verified || !strings.Contains(err.Error(), "1 of 2 signatures verified; signature 2") {
		t.Errorf("RequireAllSignatures: err %v", err)
	}
	// RFC 7520 4.8: RS256, ES512 (alg only in the unprotected header), HS256.
	res, err = Verify(mustParse(t, readFile(t, "testdata/vectors/rfc7520_4.8.jwsg")), mustKeys(t, "rfc7520_4.8.jwkset"),
		VerifyOptions{RequireAllSignatures: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range res.Signatures {
		got = append(got, s.Alg+" "+s.Key)
	}
	want := []string{
		"RS256 key 1 of testdata/vectors/rfc7520_4.8.jwkset (RSA 2048)",
		"ES512 key 2 of testdata/vectors/rfc7520_4.8.jwkset (EC P-521)",
		"HS256 key 3 of testdata/vectors/rfc7520_4.8.jwkset (HMAC, 32 bytes)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("signatures %q, want %q", got, want)
	}
}

func TestVerifyUnsupportedKeyInSet(t *testing.T) {
	set := strings.TrimSuffix(readFile(t, "testdata/vectors/rfc7515_A.6.jwkset"), "]}") +
		`,{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}` +
		`,{"kty":"PQC","x":"AA"}` +
		`,{"kty":"EC","crv":"P-256","use":"enc","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}`
	keys, err := ParseKeys([]byte(set), "mixed.jwks")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.Keys) != 2 || len(keys.Skipped) != 3 {
		t.Fatalf("%d keys, skipped %q", len(keys.Keys), keys.Skipped)
	}
	for i, want := range []string{"key 3 of mixed.jwks: unsupported or invalid OKP X25519 key", "key 4 of mixed.jwks: unsupported or invalid PQC key",
		`key 5 of mixed.jwks: EC P-256 key is for use "enc"`} {
		if !strings.HasPrefix(keys.Skipped[i], want) {
			t.Errorf("skipped[%d] = %q, want it to start %q", i, keys.Skipped[i], want)
		}
	}
	res, err := Verify(mustParse(t, readFile(t, "testdata/vectors/rfc7515_A.6.jwsg")), keys,
		VerifyOptions{Now: atBeforeExp, RequireAllSignatures: true})
	if err != nil || !res.Verified {
		t.Fatalf("err %v", err)
	}
}

func TestVerifyDetachedPayload(t *testing.T) {
	keys := mustKeys(t, "rfc7520_4.5.jwk")
	for _, name := range []string{"rfc7520_4.5.jwsc", "rfc7520_4.5.jwsg"} {
		tok := mustParse(t, readFile(t, "testdata/vectors/"+name))
		if _, err := Verify(tok, keys, VerifyOptions{DetachedPayload: []byte(frodo)}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := Verify(tok, keys, VerifyOptions{DetachedPayload: []byte(frodo + ".")}); !errors.Is(err, ErrSignatureInvalid) {
			t.Errorf("%s with another payload: %v", name, err)
		}
	}
}

// TestVerifyNonCanonical: a padded signature verifies as its canonical form
// does; the token keeps its non-canonical-base64 finding.
func TestVerifyNonCanonical(t *testing.T) {
	tok := mustParse(t, readFile(t, "testdata/vectors/rfc7515_A.1.jwsc")+"=")
	if !tok.HasFinding(FindingNonCanonicalBase64) {
		t.Fatal("no non-canonical finding")
	}
	if _, err := Verify(tok, mustKeys(t, "rfc7515_A.1.jwk"), VerifyOptions{Now: atBeforeExp}); err != nil {
		t.Error(err)
	}
}

func TestVerifyErrorsNameNoSecret(t *testing.T) {
	tok := mustParse(t, hs256(okHeader, woleetClaims, []byte(secret32)))
	wrong := strings.Repeat("w", 32)
	_, err := Verify(tok, NewKeySet(hmacKey(t, wrong, "")), VerifyOptions{})
	if !errors.Is(err, ErrSignatureInvalid) || strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), tok.Raw[:20]) {
		t.Errorf("error %q", err)
	}
}
