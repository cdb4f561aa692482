package jwtinspect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// decodeString is decodeB64 into a fresh buffer.
func decodeString(s string) ([]byte, bool, int) {
	buf := make([]byte, decodedLen(len(s)))
	n, canonical, bad := decodeB64(buf, s)
	return buf[:n], canonical, bad
}

func TestBase64MatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 100; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		enc := base64.RawURLEncoding.EncodeToString(b)
		got, canonical, bad := decodeString(enc)
		if !bytes.Equal(got, b) || !canonical || bad != -1 {
			t.Fatalf("len %d: decode = %x canonical %v bad %d", n, got, canonical, bad)
		}
		if m, canonical, bad := decodeB64(nil, enc); m != n || !canonical || bad != -1 {
			t.Fatalf("len %d: validate-only gives %d %v %d", n, m, canonical, bad)
		}
		// The padded and standard-alphabet forms decode to the same bytes,
		// flagged as non-canonical.
		for _, other := range []string{base64.URLEncoding.EncodeToString(b), base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b)} {
			got, canonical, bad := decodeString(other)
			if !bytes.Equal(got, b) || bad != -1 {
				t.Fatalf("%q: decode = %x bad %d", other, got, bad)
			}
			if canonical != (other == enc) {
				t.Fatalf("%q: canonical = %v", other, canonical)
			}
		}
	}
}

func TestBase64NonCanonicalAndInvalid(t *testing.T) {
	tests := []struct {
		in        string
		want      string
		canonical bool
		bad       int
	}{
		{"", "", true, -1},
		{"QQ", "A", true, -1},
		{"QR", "A", false, -1},  // trailing bits 0001
		{"QUE", "AA", true, -1}, // 2 bytes
		{"QUF", "AA", false, -1},
		{"QQ==", "A", false, -1},
		{"QUE=", "AA", false, -1},
		{"-_-_", "\xfb\xff\xbf", true, -1},
		{"+/+/", "\xfb\xff\xbf", false, -1},
		{"Q", "", false, 0},     // one character cannot encode a byte
		{"QUFBQ", "", false, 4}, // nor can 4n+1
		{"QQ=", "", false, 2},   // padding must fill the quad
		{"QQ===", "", false, 2},
		{"QUFB=", "", false, 4}, // no padding after a full quad
		{"Q=Q=", "", false, 1},
		{"QU!B", "", false, 2},
		{"QUFB QUFB", "", false, 4},
		{"QUFBQU\x00B", "", false, 6},
		{"QUFBQUé", "", false, 6},
	}
	for _, tc := range tests {
		got, canonical, bad := decodeString(tc.in)
		if bad != tc.bad || canonical != tc.canonical || (bad < 0 && string(got) != tc.want) {
			t.Errorf("decode(%q) = %q canonical %v bad %d; want %q %v %d", tc.in, got, canonical, bad, tc.want, tc.canonical, tc.bad)
		}
	}
}

func TestInputOffset(t *testing.T) {
	// Decoded byte k is encoded starting at character k/3*4 + k%3.
	for k, want := range []int{0, 1, 2, 4, 5, 6, 8} {
		if got := inputOffset(k); got != want {
			t.Errorf("inputOffset(%d) = %d, want %d", k, got, want)
		}
	}
}

// jsonCases are texts the JSON parser must treat as encoding/json does.
var jsonCases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `-1E-2`, `true`, `false`, `null`,
	` {"a" : [1, 2.0, "x", null, true, false, {}] } `,
	"{\"a\":1,\n\t\"b\":{\"c\":[{\"d\":\"e\"}]}}",
	`{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`,
	`"\u00e9\ud83d\ude00\n\t\"\\\/\b\f\r"`, `"\ud800"`, `"\udc00\ud800x"`, `"\ud800\u0041"`,
	"\"\xff\"", "\"a\xc3\"", "{\"\xfe\":1}",
	`12345678901234567890123456789`, `1300819380`,
	// invalid
	``, ` `, `{`, `}`, `[1,]`, `[,1]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":1 "b":2}`,
	`01`, `1.`, `.5`, `1e`, `-`, `+1`, `0x10`, `NaN`, `tru`, `nulls`, `"abc`, `"\x"`, `"\u12"`,
	"\"a\x01\"", `[1] [2]`, `{"a":1}}`, "\xef\xbb\xbf{}", `'a'`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
}

// stdDecode decodes as encoding/json does with UseNumber.
func stdDecode(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() || d.InputOffset() != int64(len(strings.TrimRight(s, " \t\r\n"))) {
		return nil, errTrailing
	}
	return v, nil
}

var errTrailing = jsonErrorf("trailing data")

func jsonErrorf(msg string) error { return &jsonError{0, msg} }

// checkJSONAgainstStdlib compares the parser and the scanner with
// encoding/json on one text.
func checkJSONAgainstStdlib(t *testing.T, s string) {
	t.Helper()
	want, werr := stdDecode(s)
	if werr == nil && !json.Valid([]byte(s)) {
		werr = errTrailing // the Decoder tolerates what Valid refuses
	}
	p := newJSONParser(s)
	got, gerr := p.document()
	sc := newScanner(s)
	verr := sc.validate()
	if (gerr == nil) != (werr == nil) || (verr == nil) != (werr == nil) {
		t.Fatalf("%.60q: parse error %v, validate error %v, encoding/json error %v", s, gerr, verr, werr)
	}
	if gerr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%.60q: got %#v, want %#v", s, got, want)
	}
	if p.invalidUTF8 != sc.invalidUTF8 {
		t.Fatalf("%.60q: invalid UTF-8 seen by one pass only", s)
	}
}

func TestJSONMatchesStdlib(t *testing.T) {
	for _, s := range jsonCases {
		checkJSONAgainstStdlib(t, s)
	}
}

func TestJSONDuplicatesAndUTF8(t *testing.T) {
	p := newJSONParser(`{"a":1,"b":{"c":1,"c":2},"a":3,"\u0061":4}`)
	if _, err := p.document(); err != nil {
		t.Fatal(err)
	}
	want := []string{"c (in a nested object)", "a", "a"}
	if !reflect.DeepEqual(p.dups, want) {
		t.Errorf("dups = %q, want %q", p.dups, want)
	}
	p = newJSONParser("[\"ok\", \"\xff\"]")
	if _, err := p.document(); err != nil || !p.invalidUTF8 {
		t.Errorf("invalid UTF-8 not noticed (err %v)", err)
	}
}

func TestCompactJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`1.50`, `1.50`},
		{`{ "b" : [ 1 , 2 ] , "a" : "x y" }`, `{"b":[1,2],"a":"x y"}`},
		{"[\n\t\"a\\\" b\" ,\r\n null]", `["a\" b",null]`},
		{`"\\"`, `"\\"`},
	}
	for _, tc := range tests {
		if got := compactJSON(tc.in); got != tc.want {
			t.Errorf("compactJSON(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestParseValuesIndependent: the values Parse builds in shared chunks
// (strings, numbers, arrays) behave as separately allocated ones would: an
// append to one array does not reach its neighbour, and changing the
// decoded payload changes no claim.
func TestParseValuesIndependent(t *testing.T) {
	claims := `{"a":[1,"x"],"b":["y",[2]],"c":"caf\u00e9","n":1.50,"e":[]}`
	tok, err := Parse(jws(okHeader, claims, "s"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := stdDecode(claims)
	a := tok.Claims["a"].([]any)
	if len(a) != cap(a) {
		t.Errorf("array with length %d has capacity %d", len(a), cap(a))
	}
	_ = append(a, "overwrite")
	for i := range tok.Payload {
		tok.Payload[i] = '#'
	}
	if !reflect.DeepEqual(tok.Claims, want) {
		t.Errorf("claims %#v, want %#v", tok.Claims, want)
	}
	if e := tok.Claims["e"].([]any); e == nil {
		t.Error("an empty array is nil")
	}
}

func TestUnquotedEquals(t *testing.T) {
	tests := []struct {
		lit, want string
		equal     bool
	}{
		{`"cdata"`, "cdata", true},
		{`"\u0063data"`, "cdata", true},
		{`"c\u0064\u0061ta"`, "cdata", true},
		{`"xdata"`, "cdata", false},
		{`"Cdata"`, "cdata", false},
		{`"cdat"`, "cdata", false},
		{`"\u0063data\u0020"`, "cdata", false},
		{`"\u00e9t\u00e9"`, "été", true},
		{`"été"`, "été", true},
		{`""`, "", true},
		{`"a"`, "", false},
		{`"` + strings.Repeat(`\u0061`, 6) + `"`, "aaaaaa", true},
	}
	for _, tc := range tests {
		if got := unquotedEquals(tc.lit, tc.want); got != tc.equal {
			t.Errorf("unquotedEquals(%s, %q) = %v", tc.lit, tc.want, got)
		}
	}
}
