package woleet_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tokenaudit/tokenaudit/woleet"
)

// short is a token's short fingerprint, computed here independently.
func short(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// A JWT-shaped token and an opaque one, as secrets the answers may carry.
const (
	answerJWT    = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbnN3ZXIifQ.c2lnbmF0dXJl"
	answerOpaque = "opaque-secret-7f3a9c"
)

// TestListTokensStrict: the answer of GET /user/tokens is read exactly as
// the spec's "tokens" model has it; anything else is an *APIError with the
// 200 status, matching ErrInvalidResponse (and no other kind), that says
// what is wrong and what the server sent without a token's text.
func TestListTokensStrict(t *testing.T) {
	suite.addSecret(answerJWT, answerOpaque)
	valid := []struct {
		body string
		want []string
	}{
		{`{"tokens":[]}`, []string{}},
		{`{"tokens":["a.b.c","token"]}`, []string{"a.b.c", "token"}},
		{` {"tokens" : [ "x y" ] } ` + "\n", []string{"x y"}},     // white space in a token is kept
		{`{"tokens":["a"],"next":null,"count":1}`, []string{"a"}}, // unknown members are ignored
		{`{"tok\u0065ns":["a"]}`, []string{"a"}},                  // an escaped name is the same name
	}
	for _, tt := range valid {
		c := rawServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, tt.body) })
		got, err := c.ListTokens(context.Background())
		if err != nil || got == nil || !slices.Equal(got, tt.want) {
			t.Errorf("ListTokens(%s) = %q (nil %v), %v; want %q", tt.body, got, got == nil, err, tt.want)
		}
	}
	invalid := []struct {
		body, problem, sent string
	}{
		{`{"tokens":null}`, `"tokens" is null, not an array of strings`, `{"tokens":null}`},
		{`{}`, `the required member "tokens" is missing`, `{}`},
		{`{"TOKENS":[]}`, `a member is named "TOKENS": the specification's name is "tokens" (names are case-sensitive)`, `{"TOKENS":[]}`},
		{`{"tokens":[],"Tokens":["` + answerOpaque + `"]}`, `a member is named "Tokens"`, ""},
		{`{"tokens":[null]}`, `"tokens"[0] is null, not a string`, `{"tokens":[null]}`},
		{`{"tokens":[1]}`, `"tokens"[0] is a number, not a string`, `{"tokens":[1]}`},
		{`{"tokens":["` + answerJWT + `",""]}`, `"tokens"[1] is an empty string, not a token`,
			`{"tokens":["[redacted sha256:` + short(answerJWT) + `]",""]}`},
		{`{"tokens":["` + answerOpaque + `",{}]}`, `"tokens"[1] is an object, not a string`,
			`{"tokens":["[redacted sha256:` + short(answerOpaque) + `]",{}]}`},
		{`{"tokens":"` + answerOpaque + `"}`, `"tokens" is a string, not an array of strings`, `{"tokens":"[redacted sha256:`},
		{`{"tokens":{}}`, `"tokens" is an object, not an array of strings`, `{"tokens":{}}`},
		{`{"tokens":[],"tokens":["` + answerOpaque + `"]}`, `the member "tokens" is given twice`, ""},
		{`[]`, `the answer is not a JSON object`, `[]`},
		{`null`, `the answer is not a JSON object`, `null`},
		{``, `the answer is not a JSON object`, `an empty body`},
		{`{"tokens":[]} {"tokens":["a"]}`, `the answer has more after its JSON object`, `{"tokens":[]} {"tokens":["[redacted sha256:`},
		{`{"tokens":["` + answerOpaque + `"`, `the answer is not valid JSON`,
			`{"tokens":["[redacted sha256:` + short(answerOpaque) + `]" … (the JSON stops there, unfinished)`},
		{`{"tokens":[,]}`, `the answer is not valid JSON`, `{"tokens":[ … (not valid JSON from there on)`},
		{`{"tokens":[],"other":[1,]}`, `the answer is not valid JSON`, `{"tokens":[],"other":[1 … (not valid JSON from there on)`},
		{`{"tokens":[1e999]}`, `"tokens"[0] is a number, not a string`, `{"tokens":[1e999]}`},
		{"{\"tokens\":[\"\xff\"]}", `the answer is not valid UTF-8`, `{"tokens":["[redacted sha256:`},
		{`<html><body>Bad gateway ` + answerJWT + `</body></html>`, `the answer is not a JSON object`,
			`text that is not JSON: <html><body>Bad gateway [token sha256:` + short(answerJWT) + `]</body></html>`},
		{answerOpaque, `the answer is not a JSON object`,
			fmt.Sprintf("%d bytes that are not JSON: [redacted sha256:%s]", len(answerOpaque), short(answerOpaque))},
	}
	for _, tt := range invalid {
		t.Run(tt.body, func(t *testing.T) {
			n := 0
			c := rawServer(t, func(w http.ResponseWriter, r *http.Request) { n++; fmt.Fprint(w, tt.body) })
			got, err := c.ListTokens(context.Background())
			suite.addErr(err)
			if got != nil || err == nil {
				t.Fatalf("ListTokens = %q, %v; want an error", got, err)
			}
			var apiErr *woleet.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 200 || apiErr.Method != "GET" || apiErr.Path != "/v1/user/tokens" {
				t.Fatalf("error %#v is not an *APIError for GET /v1/user/tokens with status 200", err)
			}
			wantErrIs(t, err, woleet.ErrInvalidResponse)
			for _, other := range []error{woleet.ErrBadRequest, woleet.ErrUnauthorized, woleet.ErrRateLimited, woleet.ErrServerError, woleet.ErrOutcomeUnknown} {
				wantErrIsNot(t, err, other)
			}
			want := "woleet: list tokens: GET /v1/user/tokens: 200 OK: " + tt.problem
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q\nwant it to start %q", err, want)
			}
			if !strings.Contains(apiErr.Message, "; the server sent "+tt.sent) {
				t.Errorf("Message = %q, want it to say the server sent %q", apiErr.Message, tt.sent)
			}
			if len(apiErr.Message) > woleet.MaxMessageBytes {
				t.Errorf("Message is %d bytes, more than %d", len(apiErr.Message), woleet.MaxMessageBytes)
			}
			if n != 1 {
				t.Errorf("server saw %d requests, want 1 (not retried)", n)
			}
		})
	}
}

// TestGenerateTokenStrict: the answer of GET /token is read exactly as the
// spec's "token" model has it. A 2xx answer that is anything else may come
// from a server that issued a token: the error matches ErrOutcomeUnknown as
// well as ErrInvalidResponse. Any non-empty string is a token, white space
// and all.
func TestGenerateTokenStrict(t *testing.T) {
	suite.addSecret(answerJWT, answerOpaque)
	for body, want := range map[string]string{
		`{"token":"token"}`:                         "token",
		`{"token":"` + answerJWT + `"}`:             answerJWT,
		`{"token":"a b"}`:                           "a b",
		`{"token":" padded\t"}`:                     " padded\t",
		`{"token":"x","expires":null,"kind":"jwt"}`: "x",
	} {
		c := rawServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
		tok, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{})
		if err != nil || tok == nil || tok.Token != want {
			t.Errorf("GenerateToken(%s) = %v, %v; want the token %q", body, tok, err, want)
		}
	}
	for _, tt := range []struct{ body, problem, sent string }{
		{`{"Token":"` + answerOpaque + `"}`, `a member is named "Token": the specification's name is "token"`,
			`{"Token":"[redacted sha256:` + short(answerOpaque) + `]"}`},
		{`{"TOKEN":"x","token":"y"}`, `a member is named "TOKEN"`, ""},
		{`{"token":null}`, `"token" is null, not a string`, `{"token":null}`},
		{`{"token":""}`, `"token" is an empty string, not a token`, `{"token":""}`},
		{`{"token":1}`, `"token" is a number, not a string`, `{"token":1}`},
		{`{"token":["` + answerJWT + `"]}`, `"token" is an array, not a string`, `{"token":["[redacted sha256:` + short(answerJWT) + `]"]}`},
		{`{}`, `the member "token" is missing`, `{}`},
		{`not json`, `the answer is not a JSON object`, `text that is not JSON: not json`},
		{answerJWT, `the answer is not a JSON object`, fmt.Sprintf("%d bytes that are not JSON: [redacted sha256:%s]", len(answerJWT), short(answerJWT))},
	} {
		t.Run(tt.body, func(t *testing.T) {
			n := 0
			c := rawServer(t, func(w http.ResponseWriter, r *http.Request) { n++; fmt.Fprint(w, tt.body) })
			tok, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{})
			suite.addErr(err)
			if tok != nil {
				t.Fatalf("GenerateToken returned a token with an error")
			}
			wantErrIs(t, err, woleet.ErrOutcomeUnknown)
			wantErrIs(t, err, woleet.ErrInvalidResponse)
			wantErrIsNot(t, err, woleet.ErrServerError)
			var apiErr *woleet.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 200 || apiErr.Path != "/v1/token" {
				t.Fatalf("error %#v is not an *APIError for /v1/token with status 200", err)
			}
			if !strings.Contains(err.Error(), "GET /v1/token: 200 OK: "+tt.problem) || !strings.Contains(apiErr.Message, "; the server sent "+tt.sent) {
				t.Errorf("Error() = %q, want %q and the server sent %q", err, tt.problem, tt.sent)
			}
			if n != 1 {
				t.Errorf("server saw %d requests, want 1 (never sent again)", n)
			}
		})
	}
}

// TestInvalidAnswerBounded: a huge answer is described in at most
// MaxMessageBytes, still without a token's text.
func TestInvalidAnswerBounded(t *testing.T) {
	suite.addSecret(answerOpaque)
	body := `{"tokens":[` + strings.Repeat(`"`+answerOpaque+`",`, 5000) + `null]}`
	c := rawServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
	_, err := c.ListTokens(context.Background())
	suite.addErr(err)
	var apiErr *woleet.APIError
	if !errors.As(err, &apiErr) || len(apiErr.Message) > woleet.MaxMessageBytes ||
		!strings.Contains(apiErr.Message, `"tokens"[5000] is null, not a string; the server sent {"tokens":["[redacted sha256:`) {
		t.Errorf("error = %v", err)
	}
}
