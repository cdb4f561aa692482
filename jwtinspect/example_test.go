package jwtinspect_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// A Woleet token: HS256, claims sub, iat, jti and cdata, no exp.
const woleetToken = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
	"eyJzdWIiOiI1ZjBjM2ExZS04YjJkLTRjN2UtOWExNC0zZDZiMmY4ZTFjOTAiLCJpYXQiOjE3MzI3ODA4MDAsImp0aSI6ImI3ZTRkMmMxLTZhM2YtNGU4Yi05ZDA1LTJjMWY3YTllM2I2NCIsImNkYXRhIjoiYWNtZS1jb3JwL2NpLWRlcGxveSJ9." +
	"ZjhMM3lTTof-LGjw4CwL0enoL-zHaE9O8vmwQzUp8Bo"

func ExampleParse() {
	tok, err := jwtinspect.Parse("Bearer " + woleetToken)
	if err != nil {
		fmt.Println(err)
		return
	}
	cdata, _ := tok.CData()
	sub, _ := tok.Subject()
	fmt.Println(tok.Kind, tok.Alg(), sub)
	fmt.Println("cdata:", cdata)
	fmt.Println("issued:", tok.Times.IssuedAt.Format(time.RFC3339))
	fmt.Println("status:", tok.ExpiryStatus(time.Now()))
	fmt.Println("iat as written:", tok.Claims["iat"])
	for _, f := range tok.Findings {
		fmt.Println(f.Severity, f.ID)
	}
	// Output:
	// jws HS256 5f0c3a1e-8b2d-4c7e-9a14-3d6b2f8e1c90
	// cdata: acme-corp/ci-deploy
	// issued: 2024-11-28T08:00:00Z
	// status: no-expiry
	// iat as written: 1732780800
	// low no-expiry
}

func ExampleParse_error() {
	// The payload has a '!' at byte 57.
	_, err := jwtinspect.Parse(woleetToken[:57] + "!" + woleetToken[58:])
	var pe *jwtinspect.ParseError
	if errors.As(err, &pe) {
		fmt.Println(pe.Segment, pe.Offset, errors.Is(err, jwtinspect.ErrBase64))
	}
	fmt.Println(err)
	// Output:
	// payload 57 true
	// payload: illegal base64url data at byte 57
}

func ExampleCData() {
	cdata, ok, err := jwtinspect.CData(woleetToken)
	fmt.Println(cdata, ok, err)
	// Output:
	// acme-corp/ci-deploy true <nil>
}

func ExampleFingerprint() {
	fp := jwtinspect.Fingerprint(woleetToken)
	fmt.Println(fp)
	fmt.Println(jwtinspect.ShortFingerprint(fp))
	// The same token pasted as a header line has the same identity.
	fmt.Println(jwtinspect.Fingerprint("Authorization: Bearer "+woleetToken) == fp)
	// Output:
	// sha256:5adcd239cb06bfb8b6986c0ae348662c73e128f98c4b231e424c3c9d492d2cab
	// 5adcd239cb06
	// true
}

func ExampleVerify() {
	tok, err := jwtinspect.Parse(woleetToken)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The secret would come from a file or the environment (HMACKeyFromEnv).
	key, err := jwtinspect.NewHMACKey([]byte("woleet-example-hs256-secret-0032"), jwtinspect.SecretRaw, "$WOLEET_SECRET")
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := jwtinspect.Verify(tok, jwtinspect.NewKeySet(key), jwtinspect.VerifyOptions{})
	fmt.Println(err)
	fmt.Println(res.Alg, "verified by", res.Key)
	fmt.Println("status:", res.Status)
	// Output:
	// <nil>
	// HS256 verified by HMAC secret from $WOLEET_SECRET (32 bytes)
	// status: no-expiry
}

func ExampleVerify_algorithmConfusion() {
	// An HS256 token checked against an RSA public key is refused, never
	// tried: its MAC could have been made with the public key's bytes.
	keys, err := jwtinspect.LoadKeyFile("testdata/vectors/rfc7515_A.2.pub.pem")
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, _ := jwtinspect.Parse(woleetToken)
	res, err := jwtinspect.Verify(tok, keys, jwtinspect.VerifyOptions{})
	fmt.Println(errors.Is(err, jwtinspect.ErrAlgConfusion), res.Verified)
	for _, f := range res.Findings {
		fmt.Println(f.Severity, f.ID)
	}
	// Output:
	// true false
	// critical alg-confusion
}

func ExampleParseKeys() {
	jwks := `{"keys":[
		{"kty":"oct","kid":"k1","k":"d29sZWV0LWV4YW1wbGUtaHMyNTYtc2VjcmV0LTAwMzI"},
		{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}]}`
	keys, err := jwtinspect.ParseKeys([]byte(jwks), "jwks.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, k := range keys.Keys {
		fmt.Println(k.ID, k.Description, k.Algorithms())
	}
	fmt.Println(len(keys.Skipped), "skipped")
	// Output:
	// k1 key 1 of jwks.json (HMAC, 32 bytes) [HS256 HS384 HS512]
	// 1 skipped
}

// A Summary reused over a stream of tokens: the header and claims come as
// JSON text, and the loop allocates almost nothing.
func ExampleSummary() {
	var s jwtinspect.Summary
	for _, input := range []string{woleetToken, "not.a.token"} {
		if err := s.Parse(input); err != nil {
			fmt.Println("error:", err)
			continue
		}
		cdata, _ := s.CData()
		fmt.Println(s.Kind(), s.Alg(), cdata, s.HasClaims(), len(s.Signature()))
		fmt.Printf("%s\n", s.RawHeader())
		fmt.Println(string(s.AppendFingerprint(nil)) == jwtinspect.Fingerprint(input))
	}
	// Output:
	// jws HS256 acme-corp/ci-deploy true 32
	// {"alg":"HS256","typ":"JWT"}
	// true
	// error: payload: illegal base64url data at byte 4
}
