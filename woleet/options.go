package woleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of a [Client] built without the matching option.
const (
	// DefaultBaseURL is the Woleet API.
	DefaultBaseURL = "https://api.woleet.io/v1"
	// DefaultRateLimit is the client-side rate limit in requests per
	// second: Woleet allows 20 per second and IP address.
	DefaultRateLimit rate.Limit = 20
	// DefaultBurst is how many requests may go at once before the
	// [DefaultRateLimit] spaces them: the "short peaks" Woleet allows.
	DefaultBurst = 5
	// DefaultTimeout bounds one request of the default HTTP client.
	DefaultTimeout = 30 * time.Second
)

// Version is the version of tokenaudit that the default User-Agent,
// "tokenaudit/" + Version, names.
const Version = "0.1.0"

// An Option configures a [Client]. Options validate their input: a bad
// value makes [NewClient] fail.
type Option func(*config) error

// config collects the options before NewClient checks them as a whole.
type config struct {
	baseURL       *url.URL
	httpClient    *http.Client
	basicEmail    string
	basicPassword string
	basicSet      bool
	bearer        string
	bearerSet     bool
	userAgent     string
	limit         rate.Limit
	burst         int
	retry         RetryPolicy
	logger        *slog.Logger
	now           func() time.Time
	sleep         func(context.Context, time.Duration) error
}

// WithBaseURL sets the API's base URL, DefaultBaseURL unless given, e.g.
// "https://api.woleet.io/v1" or the URL of a woleettest server. The scheme
// must be https; plain http is accepted only for loopback hosts (localhost,
// 127.0.0.0/8, ::1), so credentials never cross a network unencrypted. The
// URL may not carry user information, a query or a fragment; a trailing
// slash is dropped.
func WithBaseURL(rawURL string) Option {
	return func(c *config) error {
		u, err := parseBaseURL(rawURL)
		if err != nil {
			return err
		}
		c.baseURL = u
		return nil
	}
}

// parseBaseURL validates a base URL. Its errors never repeat the URL's
// user information or query, which could hold a secret.
func parseBaseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("base URL: not a URL")
	}
	shown := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("base URL %q: scheme must be https", shown)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("base URL %q: no host", shown)
	case u.User != nil:
		return nil, fmt.Errorf("base URL %q: must not hold user information: use WithBasicAuth", shown)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("base URL %q: must not have a query", shown)
	case u.Fragment != "":
		return nil, fmt.Errorf("base URL %q: must not have a fragment", shown)
	case u.Opaque != "":
		return nil, fmt.Errorf("base URL %q: not a hierarchical URL", shown)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return nil, fmt.Errorf("base URL %q: plain http is allowed only for loopback hosts; use https", shown)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// isLoopback reports whether host names this machine: localhost (and its
// subdomains, RFC 6761), or a loopback IP address.
func isLoopback(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// WithHTTPClient sets the HTTP client, by default one with a
// [DefaultTimeout] timeout; give it a timeout too. The client is copied and
// the copy refuses redirects (the API does not redirect, and a redirect
// could carry the credentials elsewhere): a 3xx answer is an [*APIError].
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errors.New("WithHTTPClient: nil *http.Client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithBasicAuth authenticates with the account's email and password (HTTP
// Basic). Use exactly one of WithBasicAuth and [WithBearerToken]; given
// twice, the last WithBasicAuth wins. The email may not contain a colon.
func WithBasicAuth(email, password string) Option {
	return func(c *config) error {
		switch {
		case email == "":
			return errors.New("WithBasicAuth: empty email")
		case strings.Contains(email, ":"):
			return errors.New("WithBasicAuth: the email contains a colon, which Basic authentication cannot carry")
		case password == "":
			return errors.New("WithBasicAuth: empty password")
		}
		c.basicEmail, c.basicPassword, c.basicSet = email, password, true
		return nil
	}
}

// WithBearerToken authenticates with an API token (a JWT issued by the
// API), sent as "Authorization: Bearer <token>". Use exactly one of
// [WithBasicAuth] and WithBearerToken; given twice, the last one wins.
func WithBearerToken(token string) Option {
	return func(c *config) error {
		switch {
		case token == "":
			return errors.New("WithBearerToken: empty token")
		case strings.ContainsAny(token, " \t\r\n"):
			return errors.New("WithBearerToken: the token contains white space")
		}
		c.bearer, c.bearerSet = token, true
		return nil
	}
}

// WithUserAgent sets the User-Agent header, "tokenaudit/" + [Version]
// unless given.
func WithUserAgent(ua string) Option {
	return func(c *config) error {
		if ua == "" || strings.ContainsAny(ua, "\r\n") {
			return errors.New("WithUserAgent: empty, or contains a line break")
		}
		c.userAgent = ua
		return nil
	}
}

// WithRateLimit sets the client-side rate limit: limit requests per second
// on average, up to burst at once. Every attempt, retries included, waits
// for its turn. [rate.Inf] turns the limiter off (burst is then ignored).
// The default is [DefaultRateLimit] with [DefaultBurst].
func WithRateLimit(limit rate.Limit, burst int) Option {
	return func(c *config) error {
		if limit == rate.Inf {
			c.limit, c.burst = limit, 0
			return nil
		}
		if !(limit > 0) || burst < 1 {
			return fmt.Errorf("WithRateLimit: want a positive limit and a burst of at least 1, have %v and %d", limit, burst)
		}
		c.limit, c.burst = limit, burst
		return nil
	}
}

// WithRetry sets the retry policy, [DefaultRetryPolicy] unless given.
func WithRetry(p RetryPolicy) Option {
	return func(c *config) error {
		if err := p.validate(); err != nil {
			return fmt.Errorf("WithRetry: %w", err)
		}
		c.retry = p
		return nil
	}
}

// WithLogger sets the logger, which discards everything unless given. The
// client logs each attempt at Debug level (method, path, status, duration),
// each retry at Warn level and each failure at Debug level; a log line
// never holds a token, a password or an Authorization header.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("WithLogger: nil *slog.Logger")
		}
		c.logger = l
		return nil
	}
}

// WithClock replaces the clock the client reads (to interpret a
// Retry-After date) and the way it waits between attempts, so that tests
// run fast and can see each wait. sleep must return ctx.Err() if ctx ends
// first. The rate limiter keeps the real clock.
func WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *config) error {
		if now == nil || sleep == nil {
			return errors.New("WithClock: nil function")
		}
		c.now, c.sleep = now, sleep
		return nil
	}
}
