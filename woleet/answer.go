package woleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tokenaudit/tokenaudit/internal/tokentext"
)

// This file reads the 2xx answers of the token endpoints strictly, as the
// API's specification (1.13.0, models "token" and "tokens") has them, and
// describes an answer it refuses without revealing a token.
//
// The rules, for both models:
//   - The body is valid UTF-8 holding one JSON object and nothing after it.
//   - Member names are matched exactly: encoding/json would take "TOKENS"
//     for "tokens", the spec does not. A member whose name differs from
//     the model's only in letter case is refused, as is a member given
//     twice, so that no reader of the same answer can see another value.
//   - The model's member is present, and of its type: "token" a non-empty
//     string, "tokens" an array of non-empty strings. null is none of them.
//   - Other members are allowed and ignored: the spec's schemas do not set
//     additionalProperties, which OpenAPI 3.0 then allows, and a server may
//     add fields in a later version without breaking its clients.

// invalidAnswer is the error for a 2xx answer to call k that does not
// follow the spec: an [*APIError] with the answer's status (which matches
// [ErrInvalidResponse]), saying what is wrong and what the server sent.
func (c *Client) invalidAnswer(k *call, status int, body []byte, problem string) *APIError {
	const sent = "; the server sent "
	budget := max(MaxMessageBytes-len(problem)-len(sent), 64)
	return &APIError{
		StatusCode: status,
		Method:     k.method,
		Path:       c.baseURL.Path + k.path,
		Message:    truncate(problem+sent+describeBody(body, c.redactor(k), budget), MaxMessageBytes),
	}
}

// decodeToken reads the answer of GET /token (model "token"): the token,
// or what is wrong with the answer. The token is returned as sent, white
// space and all: the API issued it, so it is a token in hand.
func decodeToken(body []byte) (token, problem string) {
	found, problem := readObject(body, "token", func(dec *json.Decoder) string {
		t, err := dec.Token()
		if err != nil {
			return invalidJSON
		}
		s, ok := t.(string)
		switch {
		case !ok:
			return `"token" is ` + tokenKind(t) + `, not a string`
		case s == "":
			return `"token" is an empty string, not a token`
		}
		token = s
		return ""
	})
	switch {
	case problem != "":
		return "", problem
	case !found:
		return "", `the member "token" is missing`
	}
	return token, ""
}

// decodeTokens reads the answer of GET /user/tokens (model "tokens"): the
// tokens, never nil, or what is wrong with the answer.
func decodeTokens(body []byte) (tokens []string, problem string) {
	found, problem := readObject(body, "tokens", func(dec *json.Decoder) string {
		t, err := dec.Token()
		if err != nil {
			return invalidJSON
		}
		if t != json.Delim('[') {
			return `"tokens" is ` + tokenKind(t) + `, not an array of strings`
		}
		tokens = []string{}
		for i := 0; dec.More(); i++ {
			t, err := dec.Token()
			if err != nil {
				return invalidJSON
			}
			s, ok := t.(string)
			switch {
			case !ok:
				return fmt.Sprintf(`"tokens"[%d] is %s, not a string`, i, tokenKind(t))
			case s == "":
				return fmt.Sprintf(`"tokens"[%d] is an empty string, not a token`, i)
			}
			tokens = append(tokens, s)
		}
		if t, err := dec.Token(); err != nil || t != json.Delim(']') {
			return invalidJSON
		}
		return ""
	})
	switch {
	case problem != "":
		return nil, problem
	case !found:
		return nil, `the required member "tokens" is missing`
	}
	return tokens, ""
}

// invalidJSON is the problem of an answer that is not valid JSON.
const invalidJSON = "the answer is not valid JSON"

// readObject reads body as exactly one JSON object, streaming: the value
// of the member called name is read from dec by read, which returns what
// is wrong with it or ""; the other members are skipped. found says
// whether the member was there; problem says what is wrong with the
// answer. A member given twice, or named name in another letter case, is
// wrong.
func readObject(body []byte, name string, read func(dec *json.Decoder) string) (found bool, problem string) {
	if !utf8.Valid(body) {
		return false, "the answer is not valid UTF-8"
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // any number is a number, even one beyond float64
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false, "the answer is not a JSON object"
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false, invalidJSON
		}
		key, _ := t.(string)
		switch {
		case seen[key]:
			return false, fmt.Sprintf("the member %q is given twice", key)
		case key != name && strings.EqualFold(key, name):
			return false, fmt.Sprintf("a member is named %q: the specification's name is %q (names are case-sensitive)", key, name)
		case key == name:
			if problem := read(dec); problem != "" {
				return false, problem
			}
			found = true
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return false, invalidJSON
			}
		}
		seen[key] = true
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return false, invalidJSON
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return false, "the answer has more after its JSON object"
	}
	return found, ""
}

// tokenKind names the kind of a JSON value from its first token, as "a
// string", "null", …
func tokenKind(t json.Token) string {
	switch t := t.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return "an object"
	}
	return "a value"
}

// describeBody says what a server sent, for an error message, in at most
// about n bytes, without revealing a token or a credential:
//
//   - JSON is shown compactly, member names and structure as sent, with
//     every non-empty string value replaced by "[redacted sha256:…]" and
//     the first 12 hex digits of its SHA-256 (a token's short
//     fingerprint, which the ledger shows too): a token can be any
//     string, JWT-shaped or not. Where the JSON stops being valid, that
//     is said.
//   - A body that is not JSON is shown as text, with control characters
//     and runs of white space made single spaces and everything shaped
//     like a JWT replaced by its fingerprint; a body that is one word
//     (which could be a bare opaque token) is shown by its fingerprint
//     alone.
//
// Known credentials (redactor r) are removed from either form.
func describeBody(body []byte, r redactor, n int) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "an empty body"
	}
	out, ok := describeJSON(body, n)
	if !ok {
		text := clean(string(body))
		if !strings.ContainsFunc(text, unicode.IsSpace) {
			return fmt.Sprintf("%d bytes that are not JSON: %s", len(body), redactedString(text))
		}
		out = "text that is not JSON: " + tokentext.Redact(text)
	}
	return strings.TrimSpace(truncate(r.redact(clean(out)), n))
}

// redactedString stands in for a string value that may be a token.
func redactedString(s string) string {
	return "[redacted sha256:" + tokentext.ShortFingerprint(s) + "]"
}

// describeJSON renders body as compact JSON with its string values
// redacted (see describeBody), stopping after about n bytes or where the
// JSON becomes invalid; ok is false when body does not start as JSON.
func describeJSON(body []byte, n int) (out string, ok bool) {
	type frame struct {
		object  bool
		items   int
		wantKey bool
	}
	var (
		b     strings.Builder
		stack []*frame
		tops  int // top-level values
	)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	done := func() { // a value is complete
		if len(stack) == 0 {
			tops++
			return
		}
		top := stack[len(stack)-1]
		top.items++
		top.wantKey = top.object
	}
	for b.Len() <= n {
		t, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) > 0 {
				b.WriteString(" … (the JSON stops there, unfinished)")
			}
			break
		}
		if err != nil {
			if b.Len() == 0 {
				return "", false
			}
			b.WriteString(" … (not valid JSON from there on)")
			break
		}
		if d, isDelim := t.(json.Delim); isDelim && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			b.WriteByte(byte(d))
			done()
			continue
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch {
		case top == nil && tops > 0:
			b.WriteByte(' ')
		case top != nil && top.object && !top.wantKey:
			b.WriteByte(':')
		case top != nil && top.items > 0:
			b.WriteByte(',')
		}
		switch v := t.(type) {
		case json.Delim:
			b.WriteByte(byte(v))
			stack = append(stack, &frame{object: v == '{', wantKey: v == '{'})
			continue
		case string:
			if top != nil && top.object && top.wantKey {
				q, _ := json.Marshal(tokentext.Redact(v))
				b.Write(q)
				top.wantKey = false
				continue
			}
			if v == "" {
				b.WriteString(`""`)
			} else {
				b.WriteString(`"` + redactedString(v) + `"`)
			}
		case json.Number:
			b.WriteString(v.String())
		case bool:
			fmt.Fprint(&b, v)
		case nil:
			b.WriteString("null")
		}
		done()
	}
	if b.Len() > n {
		return truncate(b.String(), n) + "…", true
	}
	return b.String(), true
}
