package woleet

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"
)

// MaxCDataLength is the longest cdata, in Unicode code points, that the
// Woleet API accepts.
const MaxCDataLength = 64

// Token is the API's token model: the body of a successful GET /token.
// Its String, GoString and LogValue methods never reveal the token; only
// the Token field (and encoding/json, which mirrors the API) does.
type Token struct {
	// Token is the compact JWT. It never expires: treat it as a secret.
	Token string `json:"token"`
}

// String names the token by the first 12 hex digits of its SHA-256,
// "sha256:0123456789ab", never by its text.
func (t Token) String() string { return shortFingerprint(t.Token) }

// GoString is String for the %#v verb.
func (t Token) GoString() string { return "woleet.Token{" + t.String() + "}" }

// LogValue makes log/slog log the token as String does, whatever the
// handler.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// GenerateTokenOptions are the parameters of GET /token.
type GenerateTokenOptions struct {
	// CData is stored in the token's payload as "cdata"; at most
	// MaxCDataLength code points of valid UTF-8. Empty sends no cdata
	// parameter.
	CData string
}

// GenerateToken asks the API for a new token (GET /token?cdata=…).
//
// cdata longer than [MaxCDataLength] code points is refused before any
// request with a [*CDataTooLongError]; invalid UTF-8 is refused too. Both
// match [ErrInvalidCData].
//
// GenerateToken is not idempotent: a request that reaches the server issues
// a token. So it retries only what surely did not: a 429 (the request was
// refused) and failures to connect. Once the request may have reached the
// server — a 5xx answer, a timeout, a reset or a cancelled context after
// sending, a 2xx answer that cannot be read — it is never sent again, and
// the error matches [ErrOutcomeUnknown] (as well as the cause, e.g.
// [ErrServerError] or context.DeadlineExceeded): a token may exist that
// nobody holds, and ListTokens can find it.
func (c *Client) GenerateToken(ctx context.Context, opts GenerateTokenOptions) (*Token, error) {
	const op = "generate token"
	if !utf8.ValidString(opts.CData) {
		return nil, fmt.Errorf("woleet: %s: %w: cdata is not valid UTF-8", op, ErrInvalidCData)
	}
	if n := utf8.RuneCountInString(opts.CData); n > MaxCDataLength {
		return nil, fmt.Errorf("woleet: %s: %w", op, &CDataTooLongError{Length: n})
	}
	k := &call{op: op, method: http.MethodGet, path: "/token", changes: true}
	if opts.CData != "" {
		k.rawQuery = "cdata=" + queryEscape(opts.CData)
	}
	body, err := c.do(ctx, k)
	if err != nil {
		return nil, err
	}
	var tok Token
	if err := json.Unmarshal(body, &tok); err != nil {
		return nil, fmt.Errorf("woleet: %s: %w: the answer is not a JSON token object: %w", op, ErrOutcomeUnknown, err)
	}
	if tok.Token == "" || strings.ContainsAny(tok.Token, " \t\r\n") {
		return nil, fmt.Errorf("woleet: %s: %w: the answer holds no usable token", op, ErrOutcomeUnknown)
	}
	return &tok, nil
}

// RevokeToken revokes a token (DELETE /token?token=…). The token never
// appears in an error or a log line; logs name it by its short
// fingerprint.
//
// Revoking is idempotent, so RevokeToken retries a 429, a 502, 503 or 504,
// and connection failures (timeouts and resets included). A token that is
// unknown or already revoked is answered 400 ([ErrBadRequest]). If a retry
// follows an attempt that may have reached the server, the first attempt
// may have revoked the token already; a failure then also matches
// [ErrOutcomeUnknown].
func (c *Client) RevokeToken(ctx context.Context, token string) error {
	const op = "revoke token"
	if token == "" {
		return fmt.Errorf("woleet: %s: empty token", op)
	}
	k := &call{
		op: op, method: http.MethodDelete, path: "/token",
		rawQuery:   "token=" + queryEscape(token),
		idempotent: true, changes: true,
		secret:   token,
		logAttrs: []slog.Attr{slog.String("token", shortFingerprint(token))},
	}
	_, err := c.do(ctx, k)
	return err
}

// ListTokens lists the live tokens of the authenticated user
// (GET /user/tokens). It is read-only, so it retries a 429, a 502, 503 or
// 504, and connection failures. The result is never nil.
func (c *Client) ListTokens(ctx context.Context) ([]string, error) {
	const op = "list tokens"
	body, err := c.do(ctx, &call{op: op, method: http.MethodGet, path: "/user/tokens", idempotent: true})
	if err != nil {
		return nil, err
	}
	var v struct {
		Tokens json.RawMessage `json:"tokens"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("woleet: %s: the answer is not a JSON object: %w", op, err)
	}
	if v.Tokens == nil {
		// Not an empty list: reading it as one would make every token
		// look revoked to a reconcile.
		return nil, fmt.Errorf("woleet: %s: the answer has no \"tokens\" member", op)
	}
	tokens := []string{}
	if err := json.Unmarshal(v.Tokens, &tokens); err != nil {
		return nil, fmt.Errorf("woleet: %s: \"tokens\" is not a list of strings: %w", op, err)
	}
	if tokens == nil { // "tokens": null
		tokens = []string{}
	}
	return tokens, nil
}
