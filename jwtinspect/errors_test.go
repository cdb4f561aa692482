package jwtinspect

import (
	"errors"
	"strings"
	"testing"
)

// replaceAt returns s with the byte at i replaced by c.
func replaceAt(s string, i int, c byte) string { return s[:i] + string(c) + s[i+1:] }

func TestParseErrors(t *testing.T) {
	a1 := readFile(t, "testdata/vectors/rfc7515_A.1.jwsc") // header 0–39, payload 41–
	last := len(a1) - 1
	jsonSig := func(s string) int { return strings.Index(s, "A!") + 1 }
	tests := []struct {
		name    string
		input   string
		opts    []Option
		segment string
		offset  int
		cause   error
		msg     string // the whole message, when given
	}{
		{"empty", "", nil, "input", -1, ErrEmpty, "input: empty token"},
		{"only white space", " \t\r\n ", nil, "input", -1, ErrEmpty, ""},
		{"only a bearer prefix", "Authorization: Bearer   ", nil, "input", 14, ErrWhitespace, ""},
		{"too large", a1, []Option{WithMaxSize(100)}, "input", -1, ErrTooLarge,
			"input: token too large (" + itoa(len(a1)) + " bytes, over the limit of 100)"},
		{"two parts", "e30.e30", nil, "input", -1, ErrPartCount,
			"input: wrong number of parts (2, want 3 (JWS) or 5 (JWE) separated by dots)"},
		{"four parts", "e30.e30.e30.e30", nil, "input", -1, ErrPartCount, ""},
		{"six parts", "e30.e30.e30.e30.e30.e30", nil, "input", -1, ErrPartCount, ""},
		{"one part with a space", "Basic dXNlcjpwYXNz", nil, "input", 5, ErrWhitespace, ""},
		{"white space in the header", replaceAt(a1, 5, ' '), nil, "header", 5, ErrWhitespace,
			"header: white space inside the token at byte 5"},
		{"newline in the payload", replaceAt(a1, 60, '\n'), nil, "payload", 60, ErrWhitespace, ""},
		{"bad payload character", replaceAt(a1, 57, '!'), nil, "payload", 57, ErrBase64,
			"payload: illegal base64url data at byte 57"},
		{"offset counts the bearer prefix", "Bearer " + replaceAt(a1, 57, '!'), nil, "payload", 64, ErrBase64,
			"payload: illegal base64url data at byte 64"},
		{"offset counts leading space", "\n  " + replaceAt(a1, 57, '!'), nil, "payload", 60, ErrBase64, ""},
		{"bad signature character", replaceAt(a1, last, '*'), nil, "signature", last, ErrBase64, ""},
		{"header length 1 mod 4", "eyJhb.e30.", nil, "header", 4, ErrBase64, ""},
		{"wrong padding", "e30==.e30.", nil, "header", 3, ErrBase64, ""},
		{"padding inside", "e3=0.e30.", nil, "header", 2, ErrBase64, ""},
		{"non-ASCII", "e30.e30.\u00e9", nil, "signature", 8, ErrBase64, ""},
		{"header not JSON", b64("not json") + ".e30.", nil, "header", 0, ErrInvalidJSON,
			"header: invalid JSON (invalid literal at decoded byte 0) at byte 0"},
		{"header JSON error mapped to its base64 character", b64(`{"alg":"HS256"x}`) + ".e30.", nil, "header", 18, ErrInvalidJSON,
			"header: invalid JSON (unexpected character 'x' at decoded byte 14) at byte 18"},
		{"header truncated", b64(`{"alg":`) + ".e30.", nil, "header", 9, ErrInvalidJSON, ""},
		{"header with trailing data", b64(`{} {}`) + ".e30.", nil, "header", 4, ErrInvalidJSON, ""},
		{"header an array", b64("[1]") + ".e30.", nil, "header", 0, ErrHeaderNotObject, "header: not a JSON object at byte 0"},
		{"header a string", b64(`"alg"`) + ".e30.", nil, "header", 0, ErrHeaderNotObject, ""},
		{"header empty", ".e30.", nil, "header", 0, ErrInvalidJSON, ""},
		{"header too deep", b64(strings.Repeat("[", 10001)) + ".e30.", nil, "header", 13333, ErrInvalidJSON, ""},
		{"jwe bad iv", "e30.AA.A!.AA.AA", nil, "iv", 8, ErrBase64, ""},
		{"jwe bad tag", "e30.AA.AA.AA.AA!", nil, "tag", 15, ErrBase64, ""},
		{"jwe header not an object", "WzFd.AA.AA.AA.AA", nil, "header", 0, ErrHeaderNotObject, ""},
		{"json truncated", `{"payload":`, nil, "json", 11, ErrInvalidJSON, ""},
		{"json trailing data", `{"payload":"e30","signature":"AA"} x`, nil, "json", 35, ErrInvalidJSON, ""},
		{"json no payload or ciphertext", `{}`, nil, "json", 0, ErrSerialization, ""},
		{"json payload not a string", `{"payload":1,"signature":"AA"}`, nil, "payload", 11, ErrSerialization,
			"payload: malformed JSON serialization (must be a string) at byte 11"},
		{"json header not an object", `{"payload":"e30","header":[],"signature":"AA"}`, nil, "header", 26, ErrSerialization, ""},
		{"json signatures empty", `{"payload":"e30","signatures":[]}`, nil, "signatures", 30, ErrSerialization, ""},
		{"json signatures not objects", `{"payload":"e30","signatures":[1]}`, nil, "signatures", 31, ErrSerialization, ""},
		{"json both forms", `{"payload":"e30","signatures":[{"protected":"e30","signature":"AA"}],"signature":"AA"}`, nil,
			"json", 0, ErrSerialization, ""},
		{"json signature missing", `{"payload":"e30","signatures":[{"protected":"e30"}]}`, nil, "signatures[0].signature", 0, ErrSerialization, ""},
		{"json bad signature", `{"payload":"e30","signatures":[{"protected":"e30","signature":"A!"}]}`, nil,
			"signatures[0].signature", jsonSig(`{"payload":"e30","signatures":[{"protected":"e30","signature":"A!"}]}`), ErrBase64, ""},
		{"json bad payload", `{"payload":"e3!","signature":"AA"}`, nil, "payload", 14, ErrBase64, ""},
		{"json bad protected header", `{"payload":"e30","protected":"` + b64("[]") + `","signature":"AA"}`, nil, "protected", 30, ErrHeaderNotObject, ""},
		{"json escaped base64 reported at the string", `{"payload":"e\u0033!","signature":"AA"}`, nil, "payload", 12, ErrBase64, ""},
		{"jwe json bad ciphertext", `{"protected":"e30","iv":"AA","ciphertext":"A!","tag":"AA"}`, nil, "ciphertext", 44, ErrBase64, ""},
		{"jwe json bad recipient key", `{"protected":"e30","recipients":[{"encrypted_key":"A!"}],"iv":"AA","ciphertext":"AA","tag":"AA"}`, nil,
			"recipients[0].encrypted_key", 52, ErrBase64, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Parse(tc.input, tc.opts...)
			if err == nil {
				t.Fatalf("Parse succeeded (kind %s); want an error", tok.Kind)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			if pe.Segment != tc.segment || pe.Offset != tc.offset {
				t.Errorf("segment %q offset %d, want %q %d (%v)", pe.Segment, pe.Offset, tc.segment, tc.offset, err)
			}
			if !errors.Is(err, tc.cause) {
				t.Errorf("error %q is not %v", err, tc.cause)
			}
			if tc.msg != "" && err.Error() != tc.msg {
				t.Errorf("message %q, want %q", err.Error(), tc.msg)
			}
			if len(tc.opts) == 0 {
				// CData refuses exactly what Parse refuses, with the same error.
				_, _, cerr := CData(tc.input)
				if cerr == nil || cerr.Error() != err.Error() {
					t.Errorf("CData error %v, want %v", cerr, err)
				}
			}
		})
	}
}

// TestErrorsNeverContainTheToken: no message repeats any part of the input.
func TestErrorsNeverContainTheToken(t *testing.T) {
	a1 := readFile(t, "testdata/vectors/rfc7515_A.1.jwsc")
	for _, input := range []string{
		replaceAt(a1, 57, '!'), replaceAt(a1, 5, ' '), a1 + ".x", strings.Replace(a1, ".", ". ", 1),
		`{"payload":"` + a1[41:80] + `!"}`,
	} {
		_, err := Parse(input)
		if err == nil {
			t.Fatalf("no error for %q", input)
		}
		for _, part := range strings.Split(a1, ".") {
			for i := 0; i+8 <= len(part); i += 8 {
				if strings.Contains(err.Error(), part[i:i+8]) {
					t.Errorf("error %q contains token text %q", err, part[i:i+8])
				}
			}
		}
	}
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}
