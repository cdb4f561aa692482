package woleet_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/woleet"
	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

func TestRateLimiterSpacesRequests(t *testing.T) {
	srv := newServer(t)
	// 50 per second, no burst: 6 requests need at least 5 gaps of 20 ms.
	c := newClient(t, srv, nil, woleet.WithRateLimit(50, 1))
	start := time.Now()
	for range 6 {
		_, err := c.ListTokens(context.Background())
		noErr(t, err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("6 requests at 50/s took %v, want at least 100ms", d)
	}
}

func TestRateLimiterCountsRetries(t *testing.T) {
	srv := newServer(t)
	// Retries do not wait (zero base) but each attempt takes a turn.
	c := newClient(t, srv, nil, woleet.WithRateLimit(50, 1), woleet.WithRetry(woleet.RetryPolicy{MaxAttempts: 5}))
	srv.FailNext(4, http.StatusTooManyRequests, nil)
	start := time.Now()
	_, err := c.ListTokens(context.Background())
	noErr(t, err)
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("5 attempts at 50/s took %v, want at least 80ms", d)
	}
}

func TestRateLimiterRespectsDeadline(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, nil, woleet.WithRateLimit(1, 1)) // one per second
	ctx := context.Background()
	_, err := c.ListTokens(ctx)
	noErr(t, err)
	ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.ListTokens(ctx)
	wantErrIs(t, err, context.DeadlineExceeded)
	if !strings.Contains(err.Error(), "rate limiter") {
		t.Errorf("error %q does not say the rate limiter was waiting", err)
	}
	if d := time.Since(start); d > 40*time.Millisecond {
		t.Logf("note: failing took %v; the limiter fails at once when the wait would outlive the deadline", d)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("server saw %d requests, want 1: the second never left", n)
	}
}

func TestDefaultRateLimit(t *testing.T) {
	srv := newServer(t)
	// The default client: 20/s after a burst of 5. Eight requests need at
	// least 3 gaps of 50 ms.
	c, err := woleet.NewClient(append(srv.ClientOptions(), woleet.WithBasicAuth(woleettest.DefaultEmail, woleettest.DefaultPassword), woleet.WithLogger(testLogger()))...)
	noErr(t, err)
	start := time.Now()
	for range woleet.DefaultBurst + 3 {
		_, err := c.ListTokens(context.Background())
		noErr(t, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("%d requests took %v, want at least 150ms at %v/s", woleet.DefaultBurst+3, d, woleet.DefaultRateLimit)
	}
}

func TestServerRateLimitIsRetried(t *testing.T) {
	// The fake at Woleet's 20/s; a client without a limiter of its own
	// gets 429s and retries them into success.
	srv := newServer(t, woleettest.WithRateLimit(20, 2))
	var sl sleeps
	c := newClient(t, srv, nil, woleet.WithClock(time.Now, func(ctx context.Context, d time.Duration) error {
		sl.sleep(ctx, d)
		time.Sleep(60 * time.Millisecond) // enough for a new turn at 20/s
		return ctx.Err()
	}))
	for i := range 4 {
		_, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{CData: fmt.Sprint(i)})
		noErr(t, err)
	}
	limited := 0
	for _, r := range srv.Requests() {
		if r.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 || len(srv.Tokens()) != 4 || len(sl.waits()) != limited {
		t.Errorf("%d requests limited, %d tokens, %d waits; want some, 4, one per limited request", limited, len(srv.Tokens()), len(sl.waits()))
	}
}

func TestContextCancellation(t *testing.T) {
	t.Run("before the call", func(t *testing.T) {
		srv := newServer(t)
		for _, c := range []*woleet.Client{newClient(t, srv, nil), srv.Client(woleet.WithLogger(testLogger()))} {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := c.GenerateToken(ctx, woleet.GenerateTokenOptions{})
			wantErrIs(t, err, context.Canceled)
			wantErrIsNot(t, err, woleet.ErrOutcomeUnknown)
		}
		if n := len(srv.Requests()); n != 0 {
			t.Errorf("server saw %d requests, want 0", n)
		}
	})
	t.Run("while waiting to retry", func(t *testing.T) {
		srv := newServer(t)
		c := newClient(t, srv, nil, woleet.WithRetry(woleet.RetryPolicy{MaxAttempts: 5, BaseDelay: 10 * time.Second, MaxDelay: time.Minute}))
		srv.FailNext(1, http.StatusServiceUnavailable, nil)
		ctx, cancel := context.WithCancel(context.Background())
		// Cancel once the first attempt has been answered, while the
		// client waits its 10 s to retry (not after a fixed time, which a
		// busy machine may not reach the first attempt within).
		go func() {
			for i := 0; len(srv.Requests()) == 0 && i < 1000; i++ {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond)
			cancel()
		}()
		start := time.Now()
		_, err := c.ListTokens(ctx)
		wantErrIs(t, err, context.Canceled, woleet.ErrServerError)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("cancel took %v to end a 10s wait", d)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("server saw %d requests, want 1", n)
		}
	})
	t.Run("in flight", func(t *testing.T) {
		srv := newServer(t)
		srv.SetLatency(10 * time.Second)
		c := newClient(t, srv, nil)
		for _, generate := range []bool{true, false} {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			var err error
			if generate {
				_, err = c.GenerateToken(ctx, woleet.GenerateTokenOptions{})
				wantErrIs(t, err, context.Canceled, woleet.ErrOutcomeUnknown)
			} else {
				_, err = c.ListTokens(ctx)
				wantErrIs(t, err, context.Canceled)
				wantErrIsNot(t, err, woleet.ErrOutcomeUnknown)
			}
		}
		if n := len(srv.Requests()); n != 2 {
			t.Errorf("server saw %d requests, want 2 (no retries after a cancel)", n)
		}
	})
}
