package woleet

// This file fixes the package's public contract so that other packages (audit,
// cmd/tokenaudit) can build against it while the client is written. The
// woleet package owner may move these declarations between files, add to
// them, and fill in the bodies, but must keep the names and signatures.

import (
	"context"
	"errors"
)

// MaxCDataLength is the longest cdata, in Unicode code points, that the Woleet
// API accepts.
const MaxCDataLength = 64

// Token is the API's token model: the body of a successful GET /token.
// Its String method never reveals the token.
type Token struct {
	// Token is the compact JWT. It never expires: treat it as a secret.
	Token string `json:"token"`
}

// GenerateTokenOptions are the parameters of GET /token.
type GenerateTokenOptions struct {
	// CData is stored in the token's payload as "cdata"; at most
	// MaxCDataLength code points. Empty sends no cdata parameter.
	CData string
}

// Sentinel errors, for errors.Is.
var (
	// ErrOutcomeUnknown: a GenerateToken request may have reached the server
	// and no answer came back; a token may exist that nobody holds.
	ErrOutcomeUnknown = errors.New("woleet: outcome unknown: the request may have reached the server")
	// ErrUnauthorized: the server answered 401 or 403.
	ErrUnauthorized = errors.New("woleet: unauthorized")
	// ErrBadRequest: the server answered 400.
	ErrBadRequest = errors.New("woleet: bad request")
	// ErrRateLimited: the server answered 429 and retries ran out.
	ErrRateLimited = errors.New("woleet: rate limited")
	// ErrServerError: the server answered 5xx.
	ErrServerError = errors.New("woleet: server error")
)

// Client talks to the Woleet token endpoints. Build it with NewClient.
type Client struct {
	// filled in by the woleet package
}

// GenerateToken asks the API for a new token (GET /token).
func (c *Client) GenerateToken(ctx context.Context, opts GenerateTokenOptions) (*Token, error) {
	panic("not implemented yet")
}

// RevokeToken revokes a token (DELETE /token?token=…).
func (c *Client) RevokeToken(ctx context.Context, token string) error {
	panic("not implemented yet")
}

// ListTokens lists the live tokens of the authenticated user (GET /user/tokens).
func (c *Client) ListTokens(ctx context.Context) ([]string, error) {
	panic("not implemented yet")
}
