package woleettest

import (
	"crypto/ecdsa"
	"log/slog"
	"slices"
	"time"

	"golang.org/x/time/rate"
)

// An Option configures a [Server].
type Option func(*config)

// config collects the options.
type config struct {
	now     func() time.Time
	logger  *slog.Logger
	hmacKey []byte
	ecKey   *ecdsa.PrivateKey
	es256   bool
	limit   rate.Limit
	burst   int
	opaque  bool
	random  RandomFaults
}

// WithClock sets the clock that dates tokens (iat) and requests, time.Now
// unless given. A nil clock is ignored.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithLogger logs each request (method, path, query with the token
// redacted, status, user) at Info level. The server logs nothing unless
// given one.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithHS256Key signs tokens HS256 with key, which must be at least 32 bytes
// (RFC 7518, section 3.2). Without it, and without [WithES256Key], the
// server signs HS256 with a random key; [Server.VerificationKey] returns
// it either way.
func WithHS256Key(key []byte) Option {
	return func(c *config) {
		c.hmacKey = slices.Clone(key)
		if c.hmacKey == nil {
			c.hmacKey = []byte{}
		}
		c.ecKey, c.es256 = nil, false
	}
}

// WithES256Key signs tokens ES256 with key, a P-256 private key, or with a
// fresh random one if key is nil. [Server.VerificationKey] returns the
// public key.
func WithES256Key(key *ecdsa.PrivateKey) Option {
	return func(c *config) {
		c.ecKey, c.es256, c.hmacKey = key, true, nil
	}
}

// WithRateLimit makes the server answer 429 (without Retry-After) to the
// requests of a client IP address beyond limit per second and burst at
// once, as the real API does. WithRateLimit(20, 20) is close to Woleet's
// documented 20 requests per second. Off unless given; a limit that is not
// positive or a burst below 1 turns it off.
func WithRateLimit(limit rate.Limit, burst int) Option {
	return func(c *config) {
		if limit > 0 && burst >= 1 {
			c.limit, c.burst = limit, burst
		} else {
			c.limit, c.burst = 0, 0
		}
	}
}

// OpaqueTokenPrefix starts every token a server with [WithOpaqueTokens]
// issues.
const OpaqueTokenPrefix = "token-"

// WithOpaqueTokens makes the server issue opaque tokens instead of JWTs:
// [OpaqueTokenPrefix] and 32 random hex digits, such as
// "token-0123456789abcdef0123456789abcdef". The specification types a
// token as a string (its example is "token"), so a client must take any
// string for one. They carry no claims; the server still knows each one's
// user and cdata ([Server.Tokens]), lists them, revokes them and accepts
// them as Bearer credentials.
func WithOpaqueTokens() Option {
	return func(c *config) { c.opaque = true }
}

// RandomFaults makes a share of requests fail at random, for trials under
// bad conditions (see [WithRandomFaults]).
type RandomFaults struct {
	// FailRate is the share of requests, from 0 to 1, answered FailStatus
	// without being processed.
	FailRate float64
	// FailStatus is their status (default 503).
	FailStatus int
	// DropRate is the share of requests processed in full (a token is
	// issued or revoked) whose connection is then closed without an
	// answer, as [Server.DropNext] does.
	DropRate float64
	// Seed seeds the draws, so that a trial can be repeated.
	Seed uint64
}

// WithRandomFaults makes the server fail or drop a share of the requests
// at random, after the queued faults and before the rate limit. Rates
// outside 0 to 1 are clamped.
func WithRandomFaults(f RandomFaults) Option {
	return func(c *config) {
		f.FailRate, f.DropRate = min(max(f.FailRate, 0), 1), min(max(f.DropRate, 0), 1)
		if f.FailStatus < 100 || f.FailStatus > 599 {
			f.FailStatus = 503
		}
		c.random = f
	}
}
