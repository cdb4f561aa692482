package woleet

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// placeholder is what describeBody shows for a string value.
var placeholder = regexp.MustCompile(`\[redacted sha256:[0-9a-f]{12}\]`)

// notAlnum reports whether r is not an ASCII letter or digit.
func notAlnum(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
}

// FuzzDecodeTokens checks the strict reader of GET /user/tokens against
// encoding/json: what it accepts, encoding/json reads the same way; and
// the description of any answer is bounded, valid UTF-8, and shows no
// token of the list.
func FuzzDecodeTokens(f *testing.F) {
	for _, s := range []string{
		`{"tokens":[]}`, `{"tokens":["a.b.c","token"]}`, `{"tokens":null}`, `{}`, `{"TOKENS":[]}`,
		`{"tokens":[null]}`, `{"tokens":[1]}`, `{"tokens":["x"],"tokens":[]}`, `{"tokens":["abcdefgh"`,
		`<html>oops</html>`, `{"tokens":[""]}`, `{"tokens":["a"],"more":{"b":[1,true,null]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		const n = 200
		out := describeBody(body, nil, n)
		if len(out) > n+len("…") || !utf8.ValidString(out) {
			t.Fatalf("describeBody = %q: %d bytes, valid UTF-8 %v", out, len(out), utf8.ValidString(out))
		}
		tokens, problem := decodeTokens(body)
		if problem != "" {
			if tokens != nil {
				t.Fatalf("decodeTokens(%q) = %q and problem %q", body, tokens, problem)
			}
			return
		}
		var v struct {
			Tokens []string `json:"tokens"`
		}
		if err := json.Unmarshal(body, &v); err != nil || !slices.Equal(v.Tokens, tokens) || v.Tokens == nil {
			t.Fatalf("decodeTokens(%q) = %q, but encoding/json reads %q, %v", body, tokens, v.Tokens, err)
		}
		if members(body) == 1 { // no other member names to show
			bare := placeholder.ReplaceAllString(out, "")
			for _, tok := range tokens {
				// Only letters and digits: JSON's punctuation is in the
				// rendering, as it is in the token.
				if len(tok) >= 8 && !strings.ContainsFunc(tok, notAlnum) && strings.Contains(bare, tok) {
					t.Fatalf("describeBody(%q) = %q shows the token %q", body, out, tok)
				}
			}
		}
	})
}

// members counts the members of the JSON object body.
func members(body []byte) int {
	var m map[string]json.RawMessage
	json.Unmarshal(body, &m)
	return len(m)
}

// BenchmarkDecodeTokens reads a list of 10,000 Woleet-sized tokens.
func BenchmarkDecodeTokens(b *testing.B) {
	tok := `"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIyMmQ1MzQ0YjliMjM4YjZjNDBjMGE0MjMiLCJpYXQiOjE3MDAwMDAwMDAsImp0aSI6IjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmIiwiY2RhdGEiOiJhY21lIn0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXI"`
	body := []byte(`{"tokens":[` + strings.TrimSuffix(strings.Repeat(tok+",", 10000), ",") + `]}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if tokens, problem := decodeTokens(body); problem != "" || len(tokens) != 10000 {
			b.Fatal(problem)
		}
	}
}
