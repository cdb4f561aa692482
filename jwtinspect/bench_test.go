package jwtinspect

import (
	"os"
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

// benchTokens are the tokens the decoding benchmarks use.
func benchTokens(b *testing.B) []struct{ name, token string } {
	b.Helper()
	return []struct{ name, token string }{
		{"A.1-HS256", readFile(b, "testdata/vectors/rfc7515_A.1.jwsc")},
		{"A.2-RS256", readFile(b, "testdata/vectors/rfc7515_A.2.jwsc")},
		{"woleet", readFile(b, "testdata/woleet.jwt")},
	}
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
		b.Run("token="+tc.name+"/lib=jwtinspect", func(b *testing.B) {
			loop(b, func() {
				t, err := Parse(tc.token)
				if err != nil || t.Claims == nil {
					b.Fatal(err)
				}
			})
		})
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

// BenchmarkSummary: Summary.Parse, reused from token to token, against
// Parse, on the same tokens as BenchmarkParse.
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
	}
}

// BenchmarkCData reads the cdata claim: jwtinspect.CData against a full
// unverified parse plus a map lookup in go-jose and golang-jwt.
func BenchmarkCData(b *testing.B) {
	token := readFile(b, "testdata/woleet.jwt")
	const want = "acme-corp/ci-deploy"
	b.Run("token=woleet/lib=jwtinspect", func(b *testing.B) {
		loop(b, func() {
			c, ok, err := CData(token)
			if err != nil || !ok || c != want {
				b.Fatal(c, ok, err)
			}
		})
	})
	b.Run("token=woleet/lib=gojose", func(b *testing.B) {
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
	b.Run("token=woleet/lib=golangjwt", func(b *testing.B) {
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
