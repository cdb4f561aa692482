package woleet_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/woleet"
	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// wantAttempts fails unless the server saw requests requests and the
// client asked for waits waits.
func wantAttempts(t *testing.T, srv *woleettest.Server, sl *sleeps, requests, waits int) {
	t.Helper()
	if n, w := len(srv.Requests()), len(sl.waits()); n != requests || w != waits {
		t.Errorf("%d requests and %d waits, want %d and %d", n, w, requests, waits)
	}
}

// inRange reports whether d is in [lo, hi).
func inRange(d, lo, hi time.Duration) bool { return d >= lo && d < hi }

func TestGenerateTokenRetries429(t *testing.T) {
	srv := newServer(t)
	var sl sleeps
	c := newClient(t, srv, &sl)
	srv.FailNext(2, http.StatusTooManyRequests, nil)
	tok, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{CData: "retry"})
	noErr(t, err)
	if got := countRequests(srv, "GET", "/token"); got != 3 {
		t.Errorf("server saw %d GET /token, want 3", got)
	}
	if live := srv.LiveTokens(woleettest.DefaultEmail); len(live) != 1 || live[0] != tok.Token {
		t.Errorf("server has %d live tokens, want exactly the one returned", len(live))
	}
	w := sl.waits()
	if len(w) != 2 || !inRange(w[0], 500*time.Millisecond, 750*time.Millisecond) || !inRange(w[1], time.Second, 1500*time.Millisecond) {
		t.Errorf("waits = %v, want [0.5s,0.75s) then [1s,1.5s)", w)
	}
}

func TestRetriesRunOut(t *testing.T) {
	for _, tt := range []struct {
		name string
		call func(*woleet.Client) error
		path string
	}{
		{"GenerateToken", func(c *woleet.Client) error {
			_, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{})
			return err
		}, "/token"},
		{"RevokeToken", func(c *woleet.Client) error { return c.RevokeToken(context.Background(), "a.b.c") }, "/token"},
		{"ListTokens", func(c *woleet.Client) error {
			_, err := c.ListTokens(context.Background())
			return err
		}, "/user/tokens"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			var sl sleeps
			c := newClient(t, srv, &sl)
			srv.FailNext(5, http.StatusTooManyRequests, nil)
			err := tt.call(c)
			wantErrIs(t, err, woleet.ErrRateLimited)
			wantErrIsNot(t, err, woleet.ErrOutcomeUnknown)
			if n := len(srv.Requests()); n != 5 {
				t.Errorf("server saw %d requests, want 5 attempts", n)
			}
			if n := len(sl.waits()); n != 4 {
				t.Errorf("client waited %d times, want 4", n)
			}
			if n := len(srv.Tokens()); n != 0 {
				t.Errorf("server issued %d tokens, want 0", n)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		retryAfter string
		wantWait   time.Duration
	}{
		{"seconds", "2", 2 * time.Second},
		{"zero", "0", 0},
		{"HTTP date", now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second},
		{"date in the past", now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			var sl sleeps
			c := newClient(t, srv, nil, woleet.WithClock(func() time.Time { return now }, sl.sleep))
			srv.FailNext(1, http.StatusTooManyRequests, http.Header{"Retry-After": {tt.retryAfter}})
			_, err := c.ListTokens(context.Background())
			noErr(t, err)
			if w := sl.waits(); len(w) != 1 || w[0] != tt.wantWait {
				t.Errorf("waits = %v, want [%v]", w, tt.wantWait)
			}
			if n := len(srv.Requests()); n != 2 {
				t.Errorf("server saw %d requests, want 2", n)
			}
		})
	}
	t.Run("longer than MaxDelay", func(t *testing.T) {
		srv := newServer(t)
		var sl sleeps
		c := newClient(t, srv, &sl)
		srv.FailNext(1, http.StatusTooManyRequests, http.Header{"Retry-After": {"3600"}})
		_, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{})
		wantErrIs(t, err, woleet.ErrRateLimited)
		var apiErr *woleet.APIError
		if !errors.As(err, &apiErr) || apiErr.RetryAfter != time.Hour {
			t.Errorf("error %v: want an *APIError with RetryAfter 1h", err)
		}
		wantAttempts(t, srv, &sl, 1, 0)
	})
}

func TestGenerateTokenNeverRetriedAfterReachingServer(t *testing.T) {
	for _, status := range []int{500, 502, 503, 504} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			srv := newServer(t)
			var sl sleeps
			c := newClient(t, srv, &sl)
			srv.FailNext(1, status, nil)
			tok, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{CData: "5xx"})
			wantErrIs(t, err, woleet.ErrOutcomeUnknown, woleet.ErrServerError)
			if tok != nil {
				t.Error("a token came back with the error")
			}
			wantAttempts(t, srv, &sl, 1, 0)
		})
	}
}

func TestGenerateTokenLostResponse(t *testing.T) {
	for _, reused := range []bool{false, true} {
		name := "fresh connection"
		if reused {
			name = "reused connection"
		}
		t.Run(name, func(t *testing.T) {
			srv := newServer(t)
			var sl sleeps
			c := newClient(t, srv, &sl)
			ctx := context.Background()
			if reused {
				// A kept-alive connection: net/http's Transport would
				// resend an idempotent GET on it by itself.
				_, err := c.ListTokens(ctx)
				noErr(t, err)
			}
			srv.DropNext(1)
			_, err := c.GenerateToken(ctx, woleet.GenerateTokenOptions{CData: "lost"})
			wantErrIs(t, err, woleet.ErrOutcomeUnknown)
			wantErrIsNot(t, err, woleet.ErrServerError)
			if got := countRequests(srv, "GET", "/token"); got != 1 {
				t.Errorf("server saw %d GET /token, want 1: the request was sent again", got)
			}
			live := srv.LiveTokens(woleettest.DefaultEmail)
			if len(live) != 1 || srv.Tokens()[0].CData != "lost" {
				t.Errorf("server has %d live tokens, want the one nobody received", len(live))
			}
			if r := srv.Requests()[len(srv.Requests())-1]; !r.Dropped() || r.Status != 200 {
				t.Errorf("last request %+v, want a dropped 200", r)
			}
			if len(sl.waits()) != 0 {
				t.Errorf("client waited %v, want no retry", sl.waits())
			}
		})
	}
}

// failingDialer fails the first n dials, then connects.
type failingDialer struct {
	n     int32
	dials atomic.Int32
}

func (d *failingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.dials.Add(1) <= d.n {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func TestFailureToConnectIsRetried(t *testing.T) {
	for _, failures := range []int32{2, 10} {
		srv := newServer(t)
		var sl sleeps
		d := &failingDialer{n: failures}
		hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
		c := newClient(t, srv, &sl, woleet.WithHTTPClient(hc))
		tok, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{})
		if failures == 2 {
			noErr(t, err)
			if tok == nil || d.dials.Load() != 3 || len(srv.Tokens()) != 1 {
				t.Errorf("%d dials and %d tokens issued, want 3 and 1", d.dials.Load(), len(srv.Tokens()))
			}
			continue
		}
		suite.addErr(err)
		if err == nil || errors.Is(err, woleet.ErrOutcomeUnknown) {
			t.Errorf("error = %v, want a connection error whose outcome is known", err)
		}
		if d.dials.Load() != 5 || len(sl.waits()) != 4 || len(srv.Requests()) != 0 {
			t.Errorf("%d dials, %d waits, %d requests; want 5, 4, 0", d.dials.Load(), len(sl.waits()), len(srv.Requests()))
		}
	}
}

func TestGenerateTokenTimeoutAfterSending(t *testing.T) {
	srv := newServer(t)
	srv.SetLatency(5 * time.Second)
	var sl sleeps
	c := newClient(t, srv, &sl)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.GenerateToken(ctx, woleet.GenerateTokenOptions{CData: "slow"})
	wantErrIs(t, err, woleet.ErrOutcomeUnknown, context.DeadlineExceeded)
	if n := len(srv.Tokens()); n != 1 || countRequests(srv, "GET", "/token") != 1 {
		t.Errorf("server issued %d tokens in %d requests, want 1 and 1", n, countRequests(srv, "GET", "/token"))
	}
	srv.SetLatency(0)

	// The same with http.Client.Timeout rather than the context.
	hc := &http.Client{Timeout: 100 * time.Millisecond}
	srv.SetLatency(5 * time.Second)
	c = newClient(t, srv, &sl, woleet.WithHTTPClient(hc))
	_, err = c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{CData: "slow"})
	wantErrIs(t, err, woleet.ErrOutcomeUnknown)
	if n := countRequests(srv, "GET", "/token"); n != 2 || len(sl.waits()) != 0 {
		t.Errorf("server saw %d GET /token and the client waited %v; want 2 and no retry", n, sl.waits())
	}
}

func TestIdempotentCallsRetryServerErrors(t *testing.T) {
	for _, status := range []int{502, 503, 504} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			srv := newServer(t)
			var sl sleeps
			c := newClient(t, srv, &sl)
			ctx := context.Background()
			tok, err := srv.IssueDirect(woleettest.DefaultEmail, "")
			noErr(t, err)

			srv.FailNext(2, status, nil)
			noErr(t, c.RevokeToken(ctx, tok))
			if got := countRequests(srv, "DELETE", "/token"); got != 3 || !srv.Revoked(tok) {
				t.Errorf("%d DELETE /token, revoked %v; want 3, true", got, srv.Revoked(tok))
			}

			srv.FailNext(4, status, nil)
			_, err = c.ListTokens(ctx)
			noErr(t, err)
			if got := countRequests(srv, "GET", "/user/tokens"); got != 5 {
				t.Errorf("%d GET /user/tokens, want 5", got)
			}

			srv.FailNext(5, status, nil)
			_, err = c.ListTokens(ctx)
			wantErrIs(t, err, woleet.ErrServerError)
			wantErrIsNot(t, err, woleet.ErrOutcomeUnknown)
			if got := countRequests(srv, "GET", "/user/tokens"); got != 10 {
				t.Errorf("%d GET /user/tokens, want 10", got)
			}
			if got := len(sl.waits()); got != 2+4+4 {
				t.Errorf("%d waits, want 10", got)
			}
		})
	}
}

func TestInternalServerErrorNotRetried(t *testing.T) {
	srv := newServer(t)
	var sl sleeps
	c := newClient(t, srv, &sl)
	ctx := context.Background()
	tok, err := srv.IssueDirect(woleettest.DefaultEmail, "")
	noErr(t, err)
	srv.FailNext(1, 500, nil)
	err = c.RevokeToken(ctx, tok)
	wantErrIs(t, err, woleet.ErrServerError)
	// The server may have revoked the token before it failed.
	wantErrIs(t, err, woleet.ErrOutcomeUnknown)
	srv.FailNext(1, 500, nil)
	_, err = c.ListTokens(ctx)
	wantErrIs(t, err, woleet.ErrServerError)
	wantAttempts(t, srv, &sl, 2, 0)
}

// TestRevokeOutcomes: a DELETE that was sent and got no answer may have
// revoked the token (outcome unknown); one that was never sent did nothing.
func TestRevokeOutcomes(t *testing.T) {
	srv := newServer(t)
	var sl sleeps
	c := newClient(t, srv, &sl)
	tok, err := srv.IssueDirect(woleettest.DefaultEmail, "")
	noErr(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = c.RevokeToken(ctx, tok)
	wantErrIs(t, err, woleet.ErrNotSent)
	wantErrIsNot(t, err, woleet.ErrOutcomeUnknown)
	if got := countRequests(srv, "DELETE", "/token"); got != 0 {
		t.Errorf("%d DELETE /token after a cancelled context, want 0", got)
	}
}

func TestIdempotentCallsRetryLostResponses(t *testing.T) {
	srv := newServer(t)
	var sl sleeps
	c := newClient(t, srv, &sl)
	ctx := context.Background()

	srv.DropNext(2)
	list, err := c.ListTokens(ctx)
	noErr(t, err)
	if n := countRequests(srv, "GET", "/user/tokens"); n != 3 || list == nil {
		t.Errorf("%d GET /user/tokens, want 3", n)
	}

	// A revoke whose answer is lost did revoke; the retry is answered 400.
	tok, err := srv.IssueDirect(woleettest.DefaultEmail, "")
	noErr(t, err)
	srv.DropNext(1)
	err = c.RevokeToken(ctx, tok)
	wantErrIs(t, err, woleet.ErrBadRequest, woleet.ErrOutcomeUnknown)
	if n := countRequests(srv, "DELETE", "/token"); n != 2 || !srv.Revoked(tok) {
		t.Errorf("%d DELETE /token, revoked %v; want 2, true", n, srv.Revoked(tok))
	}
	if n := len(sl.waits()); n != 3 {
		t.Errorf("%d waits, want 3", n)
	}
}

func TestUnauthorizedNotRetried(t *testing.T) {
	srv := newServer(t)
	var sl sleeps
	suite.addSecret("not-the-password")
	c := newClient(t, srv, &sl, woleet.WithBasicAuth(woleettest.DefaultEmail, "not-the-password"))
	_, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{})
	wantErrIs(t, err, woleet.ErrUnauthorized)
	wantErrIsNot(t, err, woleet.ErrOutcomeUnknown)
	wantAttempts(t, srv, &sl, 1, 0)
}

func TestMaxAttemptsOne(t *testing.T) {
	srv := newServer(t)
	var sl sleeps
	c := newClient(t, srv, &sl, woleet.WithRetry(woleet.RetryPolicy{MaxAttempts: 1}))
	srv.FailNext(1, http.StatusTooManyRequests, nil)
	_, err := c.ListTokens(context.Background())
	wantErrIs(t, err, woleet.ErrRateLimited)
	wantAttempts(t, srv, &sl, 1, 0)
}

func TestRetryBoundedByContextDeadline(t *testing.T) {
	srv := newServer(t)
	var sl sleeps
	c := newClient(t, srv, &sl)
	srv.FailNext(5, http.StatusTooManyRequests, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// The first wait (at least 0.5 s) would outlive the context.
	_, err := c.ListTokens(ctx)
	wantErrIs(t, err, woleet.ErrRateLimited)
	wantAttempts(t, srv, &sl, 1, 0)
}

func TestRealBackoffIsAtLeastBase(t *testing.T) {
	// The one test that really waits: the default sleep, a short base.
	srv := newServer(t)
	c := newClient(t, srv, nil, woleet.WithRetry(woleet.RetryPolicy{MaxAttempts: 3, BaseDelay: 20 * time.Millisecond, MaxDelay: time.Second}))
	srv.FailNext(2, http.StatusTooManyRequests, nil)
	start := time.Now()
	_, err := c.ListTokens(context.Background())
	noErr(t, err)
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("two retries took %v, want at least 20ms + 40ms", d)
	}
}
