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
