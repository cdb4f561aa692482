package jwtinspect

import (
	"os"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	golangjwt "github.com/golang-jwt/jwt/v5"
)

// The benchmarks run jwtinspect side by side with go-jose v4 and golang-jwt
// v5 on the same tokens, in one `go test -bench` run:
//
//	go test -run '^$' -bench . -benchmem -count 5 ./jwtinspect/
//
// Sub-benchmark names end in /jwtinspect, /gojose or /golangjwt so that
// benchstat can compare them (-col /lib).

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
			b.ReportAllocs()
			for b.Loop() {
				t, err := Parse(tc.token)
				if err != nil || t.Claims == nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("token="+tc.name+"/lib=gojose", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				t, err := josejwt.ParseSigned(tc.token, allJOSEAlgs)
				if err != nil {
					b.Fatal(err)
				}
				var claims map[string]any
				if err := t.UnsafeClaimsWithoutVerification(&claims); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("token="+tc.name+"/lib=golangjwt", func(b *testing.B) {
			b.ReportAllocs()
			p := golangjwt.NewParser()
			for b.Loop() {
				if _, _, err := p.ParseUnverified(tc.token, golangjwt.MapClaims{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCData reads the cdata claim: jwtinspect.CData against a full
// unverified parse plus a map lookup in go-jose and golang-jwt.
func BenchmarkCData(b *testing.B) {
	token := readFile(b, "testdata/woleet.jwt")
	const want = "acme-corp/ci-deploy"
	b.Run("token=woleet/lib=jwtinspect", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, ok, err := CData(token)
			if err != nil || !ok || c != want {
				b.Fatal(c, ok, err)
			}
		}
	})
	b.Run("token=woleet/lib=gojose", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
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
		}
	})
	b.Run("token=woleet/lib=golangjwt", func(b *testing.B) {
		b.ReportAllocs()
		p := golangjwt.NewParser()
		for b.Loop() {
			t, _, err := p.ParseUnverified(token, golangjwt.MapClaims{})
			if err != nil {
				b.Fatal(err)
			}
			if c, _ := t.Claims.(golangjwt.MapClaims)["cdata"].(string); c != want {
				b.Fatal(c)
			}
		}
	})
}
