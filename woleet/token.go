package woleet

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"unicode/utf8"
)

// MaxCDataLength is the longest cdata, in Unicode code points, that the
// Woleet API accepts.
const MaxCDataLength = 64

// Token is the API's token model: the body of a successful GET /token.
// Its String, GoString and LogValue methods never reveal the token; only
// the Token field (and encoding/json, which mirrors the API) does.
type Token struct {
	// Token is the token as the API sent it: a compact JWT for Woleet,
	// but any non-empty string the API issues (the specification types it
	// as a string). It never expires: treat it as a secret.
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
//
// The answer is read strictly (model "token" of the API's specification):
// one JSON object whose member "token", named exactly so, is a non-empty
// string; other members are ignored. A 2xx answer that is anything else is
// an [*APIError] with the answer's status, matching [ErrInvalidResponse],
// that says what is wrong and what the server sent (string values shown by
// their fingerprint). It also matches [ErrOutcomeUnknown]: the server took
// the request, and may have issued a token that the answer does not carry.
//
// The token is returned exactly as the server sent it, whatever its text:
// a JWT, an opaque token, or text with white space in it. The API issued
// it, so it is a live credential in the caller's hands, to record (or to
// revoke again), never an unknown outcome.
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
	body, status, err := c.do(ctx, k)
	if err != nil {
		return nil, err
	}
	token, problem := decodeToken(body)
	if problem != "" {
		// The request reached the server and it answered 2xx: a token
		// may well exist that nobody holds.
		return nil, fmt.Errorf("woleet: %s: %w: %w", op, ErrOutcomeUnknown, c.invalidAnswer(k, status, body, problem))
	}
	return &Token{Token: token}, nil
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
	_, _, err := c.do(ctx, k)
	return err
}

// ListTokens lists the live tokens of the authenticated user
// (GET /user/tokens). It is read-only, so it retries a 429, a 502, 503 or
// 504, and connection failures. The result is never nil.
//
// The answer is read strictly (model "tokens" of the API's specification,
// where "tokens" is required): one JSON object whose member "tokens",
// named exactly so, is an array of non-empty strings; other members are
// ignored. {"tokens": null}, {}, {"TOKENS": []}, {"tokens": [null]} or
// {"tokens": [""]} are not an empty list, nor a list with an empty token:
// such a 2xx answer is an [*APIError] with the answer's status, matching
// [ErrInvalidResponse], that says what is wrong and what the server sent
// (string values shown by their fingerprint, never as text).
func (c *Client) ListTokens(ctx context.Context) ([]string, error) {
	const op = "list tokens"
	k := &call{op: op, method: http.MethodGet, path: "/user/tokens", idempotent: true}
	body, status, err := c.do(ctx, k)
	if err != nil {
		return nil, err
	}
	tokens, problem := decodeTokens(body)
	if problem != "" {
		// Not an empty list: reading it as one would make every token
		// look revoked to a reconcile.
		return nil, fmt.Errorf("woleet: %s: %w", op, c.invalidAnswer(k, status, body, problem))
	}
	return tokens, nil
}
