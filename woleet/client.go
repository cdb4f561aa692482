package woleet

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Body size bounds: a token list can be long, an error body is cut.
const (
	maxBodyBytes      = 32 << 20
	maxErrorBodyBytes = 64 << 10
)

// Client talks to the Woleet token endpoints. Build it with [NewClient]. A
// Client is safe for concurrent use; its rate limiter is shared by all
// callers.
type Client struct {
	baseURL   *url.URL
	http      *http.Client
	auth      string // the Authorization header value
	identity  string
	userAgent string
	limiter   *rate.Limiter // nil: no limit
	retry     RetryPolicy
	logger    *slog.Logger
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	jitter    func(max int64) int64
	secrets   redactor
}

// NewClient returns a client configured by opts. Exactly one of
// [WithBasicAuth] and [WithBearerToken] is required: without credentials
// NewClient fails with [ErrNoCredentials], before any request.
func NewClient(opts ...Option) (*Client, error) {
	cfg := config{
		limit:  DefaultRateLimit,
		burst:  DefaultBurst,
		retry:  DefaultRetryPolicy(),
		logger: slog.New(slog.DiscardHandler),
		now:    time.Now,
		sleep:  sleepContext,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("woleet: new client: nil Option")
		}
		if err := opt(&cfg); err != nil {
			return nil, fmt.Errorf("woleet: new client: %w", err)
		}
	}
	if cfg.baseURL == nil {
		u, err := parseBaseURL(DefaultBaseURL)
		if err != nil {
			return nil, fmt.Errorf("woleet: new client: %w", err)
		}
		cfg.baseURL = u
	}
	c := &Client{
		baseURL:   cfg.baseURL,
		userAgent: cfg.userAgent,
		retry:     cfg.retry,
		logger:    cfg.logger,
		now:       cfg.now,
		sleep:     cfg.sleep,
		jitter:    randJitter,
	}
	switch {
	case cfg.basicSet && cfg.bearerSet:
		return nil, errors.New("woleet: new client: both Basic and Bearer credentials given: use exactly one")
	case cfg.basicSet:
		cred := base64.StdEncoding.EncodeToString([]byte(cfg.basicEmail + ":" + cfg.basicPassword))
		c.auth = "Basic " + cred
		c.identity = "basic:" + cfg.basicEmail
		c.secrets = redactor{cfg.basicPassword, cred}
	case cfg.bearerSet:
		c.auth = "Bearer " + cfg.bearer
		c.identity = "bearer:" + shortFingerprint(cfg.bearer)
		c.secrets = redactor{cfg.bearer}
	default:
		return nil, fmt.Errorf("woleet: new client: %w", ErrNoCredentials)
	}
	if c.userAgent == "" {
		c.userAgent = "tokenaudit/" + Version
	}
	if cfg.limit != rate.Inf {
		c.limiter = rate.NewLimiter(cfg.limit, cfg.burst)
	}
	hc := http.Client{Timeout: DefaultTimeout}
	if cfg.httpClient != nil {
		hc = *cfg.httpClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = &hc
	return c, nil
}

// Identity names the credentials without revealing them: "basic:" and the
// email, or "bearer:sha256:" and the first 12 hex digits of the SHA-256 of
// the bearer token. The audit ledger records it as the actor's API
// identity.
func (c *Client) Identity() string { return c.identity }

// BaseURL returns the API's base URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.baseURL.String() }

// shortFingerprint names a token in logs and errors: "sha256:" and the
// first 12 hex digits of the SHA-256 of its bytes.
func shortFingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// call describes one API operation for do.
type call struct {
	op         string // for errors and logs, e.g. "generate token"
	method     string
	path       string // below the base URL, e.g. "/token"
	rawQuery   string // already encoded
	idempotent bool   // safe to send again after it may have reached the server
	changes    bool   // changes state on the server
	secret     string // a credential in the query, redacted everywhere
	logAttrs   []slog.Attr
}

// queryEscape encodes a query value with %20 for a space, which every
// server reads as a space (a "+" is read as a space only by form decoders).
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// emptyBody is a request body with nothing in it. Giving a GET one (and no
// GetBody) makes net/http's Transport treat the request as not replayable:
// otherwise it silently sends a GET again when a reused connection breaks
// after the request was written, and a GET /token sent twice issues two
// tokens. The Transport finds the body empty and sends none.
type emptyBody struct{}

// Read reports the end of the body at once.
func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }

// Close does nothing.
func (emptyBody) Close() error { return nil }

// attempt is the outcome of sending one request.
type attempt struct {
	status     int
	header     http.Header
	body       []byte
	err        error // transport failure, or the body could not be read
	mayReached bool  // the request was written, at least in part
}

// send makes one attempt.
func (c *Client) send(ctx context.Context, k *call, u *url.URL) attempt {
	// The Transport calls the hook from its own goroutine, which may
	// still run when Do returns early (a cancelled context).
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), k.method, u.String(), nil)
	if err != nil {
		return attempt{err: fmt.Errorf("%s %s: building the request: %w", k.method, u.Path, err)}
	}
	if !k.idempotent {
		req.Body = emptyBody{}
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return attempt{err: c.transportError(k, u, err), mayReached: wrote.Load()}
	}
	defer resp.Body.Close()
	limit := int64(maxBodyBytes)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		limit = maxErrorBodyBytes
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	a := attempt{status: resp.StatusCode, header: resp.Header, body: body, mayReached: true}
	switch {
	case err != nil && resp.StatusCode/100 == 2:
		a.err = c.transportError(k, u, fmt.Errorf("reading the response: %w", err))
	case int64(len(body)) > limit && resp.StatusCode/100 == 2:
		a.err = fmt.Errorf("%s %s: response body larger than %d bytes", k.method, u.Path, limit)
	case int64(len(body)) > limit:
		a.body = body[:limit]
	}
	return a
}

// transportError turns an error of http.Client.Do into one that names the
// method and path but not the URL, whose query may hold a token.
func (c *Client) transportError(k *call, u *url.URL, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	err = fmt.Errorf("%s %s: %w", k.method, u.Path, err)
	// A safety net: no error text known today holds a secret, but a
	// future one might; then the chain is given up for a redacted text.
	text := err.Error()
	if scrubbed := c.redactor(k).redact(text); scrubbed != text {
		return errors.New(scrubbed)
	}
	return err
}

// redactor returns the secrets to remove for call k.
func (c *Client) redactor(k *call) redactor {
	if k.secret == "" {
		return c.secrets
	}
	return append(redactor{k.secret}, c.secrets...)
}

// do runs call k with the rate limit and the retry policy and returns the
// body and status of a 2xx answer.
func (c *Client) do(ctx context.Context, k *call) ([]byte, int, error) {
	u := *c.baseURL
	u.Path += k.path
	u.RawQuery = k.rawQuery
	log := c.logger.With(slog.String("op", k.op), slog.String("method", k.method), slog.String("path", u.Path))
	for _, a := range k.logAttrs {
		log = log.With(a)
	}
	a, err := c.retryLoop(ctx, k, &u, log)
	if err != nil {
		err = fmt.Errorf("woleet: %s: %w", k.op, err)
		log.LogAttrs(ctx, slog.LevelDebug, "woleet request failed", slog.String("error", err.Error()))
	}
	return a.body, a.status, err
}

// retryLoop makes up to MaxAttempts attempts; see the methods' docs for
// what is retried.
func (c *Client) retryLoop(ctx context.Context, k *call, u *url.URL, log *slog.Logger) (attempt, error) {
	mayReached := false // an earlier attempt may have reached the server
	for n := 1; ; n++ {
		if err := c.waitTurn(ctx); err != nil {
			return attempt{}, c.settle(k, mayReached, err)
		}
		if err := ctx.Err(); err != nil {
			return attempt{}, c.settle(k, mayReached, err)
		}
		start := time.Now()
		a := c.send(ctx, k, u)
		attrs := []slog.Attr{slog.Int("attempt", n), slog.Duration("duration", time.Since(start))}
		if a.status != 0 {
			attrs = append(attrs, slog.Int("status", a.status))
		}
		if a.err != nil {
			attrs = append(attrs, slog.String("error", a.err.Error()))
		}
		log.LogAttrs(ctx, slog.LevelDebug, "woleet request", attrs...)

		err, retry, retryAfter := c.classify(ctx, k, u, a)
		if err == nil {
			return a, nil
		}
		if !k.idempotent && a.mayReached && !retry {
			// GenerateToken: anything but a definite answer after
			// sending leaves the outcome unknown.
			if a.status == 0 || a.status >= 500 || a.err != nil {
				return attempt{}, fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
			}
		}
		if !retry || n >= c.retry.MaxAttempts {
			// This attempt may have acted if it was sent and no
			// answer came back, or the server failed.
			last := a.mayReached && (a.status == 0 || a.status >= 500)
			return attempt{}, c.settle(k, mayReached || last, err)
		}
		if a.mayReached && a.status != http.StatusTooManyRequests {
			mayReached = true
		}
		delay := c.retry.backoff(n, c.jitter)
		if retryAfter >= 0 {
			if retryAfter > c.retry.MaxDelay {
				return attempt{}, c.settle(k, mayReached, err)
			}
			delay = retryAfter
		}
		if deadline, ok := ctx.Deadline(); ok && delay > time.Until(deadline) {
			// Waiting would outlive the caller's context: give up now.
			return attempt{}, c.settle(k, mayReached, err)
		}
		log.LogAttrs(ctx, slog.LevelWarn, "woleet retry",
			slog.Int("attempt", n), slog.Duration("delay", delay), slog.String("reason", err.Error()))
		if serr := c.sleep(ctx, delay); serr != nil {
			return attempt{}, c.settle(k, mayReached, fmt.Errorf("%w while waiting to retry after: %w", serr, err))
		}
	}
}

// classify reads an attempt: err is nil for success; retry says whether
// the policy allows another attempt; retryAfter is the server's requested
// wait, or -1.
func (c *Client) classify(ctx context.Context, k *call, u *url.URL, a attempt) (err error, retry bool, retryAfter time.Duration) {
	retryAfter = -1
	if a.err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			if !errors.Is(a.err, ctxErr) {
				return fmt.Errorf("%w: %w", ctxErr, a.err), false, retryAfter
			}
			return a.err, false, retryAfter
		}
		if permanentTransportError(a.err) {
			return a.err, false, retryAfter
		}
		// A failure to connect is always safe to retry; after the request
		// was written, only for an idempotent call.
		return a.err, k.idempotent || !a.mayReached, retryAfter
	}
	if a.status >= 200 && a.status <= 299 {
		return nil, false, retryAfter
	}
	apiErr := &APIError{
		StatusCode: a.status,
		Method:     k.method,
		Path:       u.Path,
		Message:    parseErrorBody(a.body, c.redactor(k)),
	}
	switch a.status {
	case http.StatusTooManyRequests:
		if d, ok := parseRetryAfter(a.header.Get("Retry-After"), c.now()); ok {
			apiErr.RetryAfter, retryAfter = d, d
		}
		return apiErr, true, retryAfter
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return apiErr, k.idempotent, retryAfter
	}
	return apiErr, false, retryAfter
}

// settle wraps the final error of a call that changes state: when an
// earlier attempt may have reached the server, the outcome is unknown
// whatever the last attempt said.
// A call no attempt of which reached the server fails with [ErrNotSent].
func (c *Client) settle(k *call, mayReached bool, err error) error {
	if mayReached && k.changes && !errors.Is(err, ErrOutcomeUnknown) {
		return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	}
	if !mayReached && k.changes && !errors.Is(err, ErrOutcomeUnknown) && !errors.Is(err, ErrNotSent) {
		var ae *APIError
		if !errors.As(err, &ae) {
			return fmt.Errorf("%w: %w", ErrNotSent, err)
		}
	}
	return err
}

// waitTurn waits for the rate limiter. When the wait would outlive ctx's
// deadline it fails at once, with an error that matches
// context.DeadlineExceeded.
func (c *Client) waitTurn(ctx context.Context) error {
	if c.limiter == nil {
		return ctx.Err()
	}
	if err := c.limiter.Wait(ctx); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("waiting for the rate limiter: %w", ctxErr)
		}
		return fmt.Errorf("waiting for the rate limiter: %w (%v)", context.DeadlineExceeded, err)
	}
	return nil
}
