// Package woleet is a client for the token endpoints of the Woleet API
// (https://api.woleet.io/v1): [Client.GenerateToken] (GET /token),
// [Client.RevokeToken] (DELETE /token) and [Client.ListTokens]
// (GET /user/tokens).
//
// Start with [NewClient] and one kind of credentials:
//
//	c, err := woleet.NewClient(woleet.WithBasicAuth(email, password))
//	tok, err := c.GenerateToken(ctx, woleet.GenerateTokenOptions{CData: "customer-42"})
//
// The tokens the API issues never expire: each is a credential until it is
// revoked. The package treats them, the password and the Authorization
// header as secrets: none appears in an error, a log line or a String
// result. A token is named, where it must be, by the first 12 hex digits of
// its SHA-256 ("sha256:0123456789ab").
//
// # Errors
//
// A non-2xx answer is an [*APIError] (status, method, path, the server's
// message). Branch with [errors.Is] on [ErrBadRequest] (400),
// [ErrUnauthorized] (401, 403), [ErrRateLimited] (429 once retries ran out)
// and [ErrServerError] (5xx). A 2xx answer that does not follow the API's
// specification (a token list that is null or misnamed, a token that is
// not a string) is an [*APIError] too, matching [ErrInvalidResponse]: the
// answers are read strictly, by exact member names, and never taken for
// an empty list. [ErrOutcomeUnknown] says that a request that
// changes state may have taken effect without an answer saying so: a token
// may exist that nobody holds. Bad cdata is refused before any request
// ([*CDataTooLongError], [ErrInvalidCData]); so are missing credentials
// ([ErrNoCredentials]).
//
// # Retries and rate limiting
//
// A 429 is always retried: the request was refused. Woleet documents no
// Retry-After header; the client honours one when present (seconds or an
// HTTP date) and otherwise waits 0.5 s, doubling, with jitter, for at most
// 5 attempts ([DefaultRetryPolicy], [WithRetry]), never beyond the
// context's deadline. The idempotent calls, RevokeToken and ListTokens,
// also retry 502, 503, 504 and connection failures. GenerateToken retries
// nothing that may have reached the server: see its documentation.
//
// A client-side limiter keeps to Woleet's 20 requests per second
// ([DefaultRateLimit], [WithRateLimit]); every attempt waits its turn.
//
// # Transport security
//
// The base URL must be https, except for loopback hosts (as for the fake
// API in package woleettest). Redirects are not followed, so credentials
// go nowhere else.
//
// # Testing
//
// Package [github.com/tokenaudit/tokenaudit/woleet/woleettest] is an
// in-process fake of the API, shaped like net/http/httptest, with fault
// injection (429, 5xx, latency, lost answers, any answer at all) and
// opaque tokens.
package woleet
