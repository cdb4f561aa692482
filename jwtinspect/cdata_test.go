package jwtinspect

import (
	"fmt"
	"strings"
	"testing"
)

// checkCDataAgrees asserts that CData and Parse+Token.CData give the same
// answer on input, and returns it.
func checkCDataAgrees(t *testing.T, input string) (string, bool, error) {
	t.Helper()
	c, ok, err := CData(input)
	tok, perr := Parse(input)
	if (err == nil) != (perr == nil) || (err != nil && err.Error() != perr.Error()) {
		t.Fatalf("CData error %v, Parse error %v", err, perr)
	}
	if perr == nil {
		pc, pok := tok.CData()
		if pc != c || pok != ok {
			t.Fatalf("CData = %q, %v; Parse gives %q, %v", c, ok, pc, pok)
		}
	}
	return c, ok, err
}

func TestCData(t *testing.T) {
	big := strings.Repeat("x", 3000)
	tests := []struct {
		name    string
		payload string
		want    string
		ok      bool
	}{
		{"a string", `{"sub":"u","cdata":"acme-corp/ci-deploy"}`, "acme-corp/ci-deploy", true},
		{"escapes", `{"cdata":"a\"b\\c\u00e9\ud83d\ude00\n"}`, "a\"b\\cé😀\n", true},
		{"white space kept inside", `{"cdata":"  two  words "}`, "  two  words ", true},
		{"empty string", `{"cdata":""}`, "", true},
		{"a number as written", `{"cdata":1.50}`, "1.50", true},
		{"a big number", `{"cdata":123456789012345678901234567890}`, "123456789012345678901234567890", true},
		{"null", `{"cdata":null}`, "null", true},
		{"true", `{"cdata":true}`, "true", true},
		{"an object, compacted", "{\"cdata\": { \"b\" : [1, 2] ,\n \"a\":\"x y\" } }", `{"b":[1,2],"a":"x y"}`, true},
		{"an array", `{"cdata":[ "a" , 1 ]}`, `["a",1]`, true},
		{"exact case", `{"CDATA":"x","CData":"y"}`, "", false},
		{"absent", `{"sub":"u"}`, "", false},
		{"last one wins", `{"cdata":"first","cdata":"last"}`, "last", true},
		{"escaped name", `{"c\u0064ata":"escaped"}`, "escaped", true},
		{"nested is not top level", `{"x":{"cdata":"nested"}}`, "", false},
		{"after a nested one", `{"x":{"cdata":"nested"},"cdata":"top"}`, "top", true},
		{"invalid JSON", `{"cdata":"x"`, "", false},
		{"invalid JSON after cdata", `{"cdata":"x",}`, "", false},
		{"trailing data", `{"cdata":"x"} 1`, "", false},
		{"an array payload", `[{"cdata":"x"}]`, "", false},
		{"not JSON", `cdata`, "", false},
		{"empty payload", ``, "", false},
		{"invalid UTF-8", "{\"cdata\":\"a\xffb\"}", "a\uFFFDb", true},
		{"larger than the stack buffer", `{"pad":"` + big + `","cdata":"deep"}`, "deep", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, input := range []string{
				jws(okHeader, tc.payload, "sig"),
				"Bearer " + jws(okHeader, tc.payload, ""),
				`{"payload":"` + b64(tc.payload) + `","protected":"` + b64(okHeader) + `","signature":"AA"}`,
			} {
				c, ok, err := checkCDataAgrees(t, input)
				if err != nil || c != tc.want || ok != tc.ok {
					t.Errorf("CData(%.30q…) = %q, %v, %v; want %q, %v", input, c, ok, err, tc.want, tc.ok)
				}
			}
		})
	}
}

func TestCDataJWE(t *testing.T) {
	for _, f := range []string{"rfc7519_A.1.jwe", "rfc7520_5.1.jwec", "rfc7520_5.1.jweg"} {
		c, ok, err := checkCDataAgrees(t, readFile(t, "testdata/vectors/"+f))
		if err != nil || ok || c != "" {
			t.Errorf("%s: CData = %q, %v, %v; want nothing", f, c, ok, err)
		}
	}
}

func TestCDataTooLarge(t *testing.T) {
	_, _, err := CData(strings.Repeat("a", DefaultMaxSize+1))
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("err = %v", err)
	}
}

// TestCDataAllocations: the fast path allocates at most the returned string.
func TestCDataAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, tc := range []struct {
		payload string
		max     float64
	}{
		{`{"sub":"u","iat":1732780800,"jti":"j","cdata":"acme-corp/ci-deploy"}`, 1},
		{`{"cdata":"\u00e9scaped"}`, 1},
		{`{"cdata": {"a": [1, 2]}}`, 1},
		{`{"sub":"u"}`, 0},
		{`not json`, 0},
	} {
		token := jws(okHeader, tc.payload, "signature-bytes-signature-bytes!")
		if n := testing.AllocsPerRun(200, func() { _, _, _ = CData(token) }); n > tc.max {
			t.Errorf("%s: %v allocations, want at most %v", tc.payload, n, tc.max)
		}
	}
	// Larger tokens: the benchmark's shapes, and payloads on either side of
	// each stack buffer's size, up to the largest.
	tokens := shapeTokens()
	for _, size := range []int{2 << 10, 8 << 10, cdataStack} {
		for _, n := range []int{size - 200, size + 200} {
			payload := `{"pad":"` + strings.Repeat("x", n) + `","cdata":"c\u00e9"}`
			tokens = append(tokens, benchToken{fmt.Sprintf("%d-byte payload", len(payload)), jws(okHeader, payload, "s")})
		}
	}
	for _, tc := range tokens {
		want := 1.0
		if len(tc.token) > cdataStack*4/3 {
			want = 2 // the decode buffer as well
		}
		if c, ok, err := checkCDataAgrees(t, tc.token); err != nil || !ok || c == "" {
			t.Fatalf("%s: CData = %q, %v, %v", tc.name, c, ok, err)
		}
		if n := testing.AllocsPerRun(50, func() { _, _, _ = CData(tc.token) }); n > want {
			t.Errorf("%s: %v allocations, want at most %v", tc.name, n, want)
		}
	}
}
