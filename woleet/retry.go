package woleet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy says how often and how long the client retries. What it
// retries depends on the method: see [Client.GenerateToken],
// [Client.RevokeToken] and [Client.ListTokens].
type RetryPolicy struct {
	// MaxAttempts is the number of attempts, the first included: 1 turns
	// retries off. [DefaultRetryPolicy] makes 5.
	MaxAttempts int
	// BaseDelay is the wait before the first retry. It doubles with each
	// retry, and a random jitter of up to half of it is added: the n-th
	// retry waits between BaseDelay·2ⁿ⁻¹ and 1.5·BaseDelay·2ⁿ⁻¹. Zero
	// retries at once (for tests). [DefaultRetryPolicy] waits 0.5 s, as
	// Woleet's documentation suggests after a 429.
	BaseDelay time.Duration
	// MaxDelay caps one wait. A Retry-After longer than MaxDelay ends the
	// retries: the client returns the 429 rather than wait longer than the
	// caller allowed.
	MaxDelay time.Duration
}

// DefaultRetryPolicy returns the policy a [Client] uses unless
// [WithRetry] says otherwise: 5 attempts, 0.5 s base delay, 30 s cap.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 5, BaseDelay: 500 * time.Millisecond, MaxDelay: 30 * time.Second}
}

// validate reports a policy that cannot work.
func (p RetryPolicy) validate() error {
	switch {
	case p.MaxAttempts < 1:
		return fmt.Errorf("retry policy: MaxAttempts is %d, want at least 1", p.MaxAttempts)
	case p.BaseDelay < 0:
		return fmt.Errorf("retry policy: BaseDelay is negative (%v)", p.BaseDelay)
	case p.MaxDelay < p.BaseDelay:
		return fmt.Errorf("retry policy: MaxDelay (%v) is less than BaseDelay (%v)", p.MaxDelay, p.BaseDelay)
	}
	return nil
}

// backoff returns the wait before retry number n (1 for the first retry):
// exponential from BaseDelay, plus a jitter of up to half the step, capped
// at MaxDelay. jitter returns a value in [0, max).
func (p RetryPolicy) backoff(n int, jitter func(max int64) int64) time.Duration {
	if p.BaseDelay <= 0 {
		return 0
	}
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	if half := int64(d / 2); half > 0 {
		d += time.Duration(jitter(half))
	}
	return min(d, p.MaxDelay)
}

// randJitter is the production jitter source.
func randJitter(max int64) int64 { return rand.Int64N(max) }

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date
// (RFC 9110, section 10.2.3). A date in the past means no wait. ok is false
// when the header is absent or unreadable.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64((1<<63-1)/time.Second) {
			return 1<<63 - 1, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// sleepContext waits for d or until ctx is done; the production sleep.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// permanentTransportError reports a transport failure that a retry cannot
// cure: the server's certificate is not trusted, or the TLS handshake
// failed for a reason other than the network.
func permanentTransportError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &record)
}
