package jwtinspect

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	golangjwt "github.com/golang-jwt/jwt/v5"

	"github.com/tokenaudit/tokenaudit/internal/cputime"
)

// The benchmarks run jwtinspect side by side with go-jose v4 and golang-jwt
// v5 on the same tokens, in one `go test -bench` run:
//
//	go test -run '^$' -bench . -benchmem -count 5 ./jwtinspect/
//
// Sub-benchmark names end in /jwtinspect, /gojose or /golangjwt so that
// benchstat can compare them (-col /lib).

// loop runs f as the benchmark's body, reporting allocations and, where the
// system says, the process CPU time per operation as "cpu-ns/op".
func loop(b *testing.B, f func()) {
	b.ReportAllocs()
	start, ok := cputime.Process()
	for b.Loop() {
		f()
	}
	if end, _ := cputime.Process(); ok {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}

// benchToken is a token the decoding benchmarks use.
type benchToken struct{ name, token string }

// benchTokens are the tokens the decoding benchmarks use: three small ones
// from files, then the generated shapes of shapeTokens.
func benchTokens(b *testing.B) []benchToken {
	b.Helper()
	return append([]benchToken{
		{"A.1-HS256", readFile(b, "testdata/vectors/rfc7515_A.1.jwsc")},
		{"A.2-RS256", readFile(b, "testdata/vectors/rfc7515_A.2.jwsc")},
		{"woleet", readFile(b, "testdata/woleet.jwt")},
	}, shapeTokens()...)
}

// shapeTokens are HS256 tokens of the shapes real tokens take beyond the
// small ones: claims whose strings are full of escapes, nested claims, and
// many flat claims, each 1–3 KB, every one with a cdata that holds escapes.
func shapeTokens() []benchToken {
	const header = `{"alg":"HS256","typ":"JWT"}`
	secret := []byte("tokenaudit benchmark secret, 32B")
	return []benchToken{
		{"escapes", hs256(header, escapeClaims(), secret)},
		{"nested", hs256(header, nestedClaims(), secret)},
		{"flat", hs256(header, flatClaims(), secret)},
	}
}

// benchCData is the cdata of every generated shape, as written in the JSON
// text: quotes, a backslash, an escaped slash, a two-byte and a four-byte
// character (a surrogate pair).
const benchCData = `"acme \"corp\" \/ ci\\deploy caf\u00e9 \ud83d\ude80"`

// escapeClaims returns about 1.4 KB of claims whose strings, and some
// names, are full of escapes.
func escapeClaims() string {
	const esc = `line\none \"two\"\tC:\\dir\\x \/api\/v1 caf\u00e9 na\u00efve \ud83d\ude00 \u2028`
	var b strings.Builder
	b.WriteString(`{"sub":"user\/5f0c3a1e","iat":1732780800,"cdata":` + benchCData)
	for i := range 14 {
		if i%3 == 0 {
			fmt.Fprintf(&b, `,"n\u00f8te%d":"%s #%d"`, i, esc, i)
		} else {
			fmt.Fprintf(&b, `,"note%d":"%s #%d"`, i, esc, i)
		}
	}
	b.WriteString("}")
	return b.String()
}

// nestedClaims returns about 2.8 KB of claims that nest objects and arrays
// of objects four levels deep.
func nestedClaims() string {
	var b strings.Builder
	b.WriteString(`{"sub":"5f0c3a1e-8b2d-4c7e-9a14-3d6b2f8e1c90","iat":1732780800,"cdata":` + benchCData + `,"org":{"id":"o-1","name":"Acme","teams":[`)
	for t := range 4 {
		if t > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":"team-%d","name":"Team %d","members":[`, t, t)
		for m := range 3 {
			if m > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"id":"u-%d-%d","roles":["admin","deploy"],"meta":{"since":%d,"active":true,"score":%d.5}}`, t, m, 2015+m, 10*t+m)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]},"perms":[`)
	for p := range 11 {
		if p > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"resource":"projects/acme/repo-%d","actions":["read","write","admin"],"scope":{"env":"prod","region":"eu-west-%d"}}`, p, p%3)
	}
	b.WriteString(`],"jti":"b7e4d2c1-6a3f-4e8b-9d05-2c1f7a9e3b64"}`)
	return b.String()
}

// flatClaims returns about 2.8 KB of claims that are strings, numbers and
// booleans, none nested.
func flatClaims() string {
	var b strings.Builder
	b.WriteString(`{"sub":"5f0c3a1e-8b2d-4c7e-9a14-3d6b2f8e1c90","iat":1732780800,"cdata":` + benchCData)
	for i := range 72 {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, `,"attribute_%02d":"value %d of the flat claims, plain text, no escapes"`, i, i)
		case 1:
			fmt.Fprintf(&b, `,"counter_%02d":%d`, i, 1732780800+i*7919)
		default:
			fmt.Fprintf(&b, `,"flag_%02d":%t`, i, i%2 == 0)
		}
	}
	b.WriteString("}")
	return b.String()
}

// wantCData returns the cdata of a token as encoding/json decodes it.
func wantCData(tb testing.TB, token string) string {
	tb.Helper()
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err != nil {
		tb.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		tb.Fatal(err)
	}
	c, ok := claims["cdata"].(string)
	if !ok {
		tb.Fatal("no cdata string")
	}
	return c
}

func readFile(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// allJOSEAlgs lets go-jose parse any signed token, as Parse does.
var allJOSEAlgs = []jose.SignatureAlgorithm{
	jose.HS256, jose.HS384, jose.HS512, jose.RS256, jose.RS384, jose.RS512,
	jose.ES256, jose.ES384, jose.ES512, jose.PS256, jose.PS384, jose.PS512, jose.EdDSA,
}

// BenchmarkParse decodes header and claims into maps: jwtinspect.Parse,
// go-jose's jwt.ParseSigned + UnsafeClaimsWithoutVerification, golang-jwt's
// ParseUnverified with MapClaims.
func BenchmarkParse(b *testing.B) {
	for _, tc := range benchTokens(b) {
		b.Run("token="+tc.name+"/lib=jwtinspect", func(b *testing.B) { benchParse(b, tc.token) })
		b.Run("token="+tc.name+"/lib=gojose", func(b *testing.B) {
			loop(b, func() {
				t, err := josejwt.ParseSigned(tc.token, allJOSEAlgs)
				if err != nil {
					b.Fatal(err)
				}
				var claims map[string]any
				if err := t.UnsafeClaimsWithoutVerification(&claims); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run("token="+tc.name+"/lib=golangjwt", func(b *testing.B) {
			p := golangjwt.NewParser()
			loop(b, func() {
				if _, _, err := p.ParseUnverified(tc.token, golangjwt.MapClaims{}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// benchParse is the body of the Parse benchmarks.
func benchParse(b *testing.B, token string) {
	loop(b, func() {
		t, err := Parse(token)
		if err != nil || t.Claims == nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkSummary: Summary.Parse, reused from token to token, against
// Parse (lib=jwtinspect), on the same tokens as BenchmarkParse.
func BenchmarkSummary(b *testing.B) {
	for _, tc := range benchTokens(b) {
		b.Run("token="+tc.name+"/lib=jwtinspect-summary", func(b *testing.B) {
			var s Summary
			loop(b, func() {
				if err := s.Parse(tc.token); err != nil || !s.HasClaims() {
					b.Fatal(err)
				}
			})
		})
		b.Run("token="+tc.name+"/lib=jwtinspect", func(b *testing.B) { benchParse(b, tc.token) })
	}
}

// BenchmarkCData reads the cdata claim: jwtinspect.CData against a full
// unverified parse plus a map lookup in go-jose and golang-jwt, on the
// Woleet token and the generated shapes.
func BenchmarkCData(b *testing.B) {
	tokens := append([]benchToken{{"woleet", readFile(b, "testdata/woleet.jwt")}}, shapeTokens()...)
	for _, tc := range tokens {
		token, want := tc.token, wantCData(b, tc.token)
		b.Run("token="+tc.name+"/lib=jwtinspect", func(b *testing.B) {
			loop(b, func() {
				c, ok, err := CData(token)
				if err != nil || !ok || c != want {
					b.Fatal(c, ok, err)
				}
			})
		})
		b.Run("token="+tc.name+"/lib=gojose", func(b *testing.B) {
			loop(b, func() {
				t, err := josejwt.ParseSigned(token, allJOSEAlgs)
				if err != nil {
					b.Fatal(err)
				}
				var claims map[string]any
				if err := t.UnsafeClaimsWithoutVerification(&claims); err != nil {
					b.Fatal(err)
				}
				if c, _ := claims["cdata"].(string); c != want {
					b.Fatal(c)
				}
			})
		})
		b.Run("token="+tc.name+"/lib=golangjwt", func(b *testing.B) {
			p := golangjwt.NewParser()
			loop(b, func() {
				t, _, err := p.ParseUnverified(token, golangjwt.MapClaims{})
				if err != nil {
					b.Fatal(err)
				}
				if c, _ := t.Claims.(golangjwt.MapClaims)["cdata"].(string); c != want {
					b.Fatal(c)
				}
			})
		})
	}
}

// BenchmarkVerify verifies HS256, RS256 and ES256 tokens: jwtinspect.Verify
// on a parsed token (lib=jwtinspect) and Parse+Verify from the token text
// (lib=jwtinspect-parse), against go-jose's ParseSignedCompact + Verify and
// golang-jwt's Parse with a key function and the algorithm pinned.
func BenchmarkVerify(b *testing.B) {
	cases := []struct {
		name, token, key string
		hmac             bool
		at               time.Time // a time at which the token is valid
	}{
		{"HS256", "testdata/woleet.jwt", "testdata/woleet.key", true, fixedNow},
		{"RS256", "testdata/vectors/rfc7515_A.2.jwsc", "testdata/vectors/rfc7515_A.2.pub.pem", false, beforeExp},
		{"ES256", "testdata/vectors/rfc7515_A.3.jwsc", "testdata/vectors/rfc7515_A.3.pub.pem", false, beforeExp},
	}
	for _, tc := range cases {
		now := func() time.Time { return tc.at }
		token := readFile(b, tc.token)
		var keys *KeySet
		var material any
		if tc.hmac {
			k, err := LoadHMACKeyFile(tc.key, SecretRaw)
			if err != nil {
				b.Fatal(err)
			}
			keys, material = NewKeySet(k), k.material
		} else {
			var err error
			if keys, err = LoadKeyFile(tc.key); err != nil {
				b.Fatal(err)
			}
			material = keys.Keys[0].Public()
		}
		opts := VerifyOptions{Now: now}
		b.Run("alg="+tc.name+"/lib=jwtinspect", func(b *testing.B) {
			tok := mustParse(b, token)
			loop(b, func() {
				if _, err := Verify(tok, keys, opts); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run("alg="+tc.name+"/lib=jwtinspect-parse", func(b *testing.B) {
			loop(b, func() {
				tok, err := Parse(token)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Verify(tok, keys, opts); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run("alg="+tc.name+"/lib=gojose", func(b *testing.B) {
			algs := []jose.SignatureAlgorithm{jose.SignatureAlgorithm(tc.name)}
			loop(b, func() {
				obj, err := jose.ParseSignedCompact(token, algs)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := obj.Verify(material); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run("alg="+tc.name+"/lib=golangjwt", func(b *testing.B) {
			p := golangjwt.NewParser(golangjwt.WithValidMethods([]string{tc.name}), golangjwt.WithTimeFunc(now))
			keyFunc := func(*golangjwt.Token) (any, error) { return material, nil }
			loop(b, func() {
				if _, err := p.Parse(token, keyFunc); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
