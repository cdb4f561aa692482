package woleet_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/time/rate"

	"github.com/tokenaudit/tokenaudit/woleet"
)

// lockedBuffer is a log sink safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	suite.Write(p)
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSecretsNotInErrorsOrLogs drives every failure path with secrets in
// play and searches this test's errors and log lines (JSON and text) for
// them. TestMain searches the whole suite's the same way.
func TestSecretsNotInErrorsOrLogs(t *testing.T) {
	var logs lockedBuffer
	var texts []string
	note := func(err error) {
		if err != nil {
			texts = append(texts, fmt.Sprintf("%v %+v %#v", err, err, err))
			var apiErr *woleet.APIError
			if errors.As(err, &apiErr) {
				texts = append(texts, apiErr.Message, apiErr.Path)
			}
		}
		suite.addErr(err)
	}
	loggers := []*slog.Logger{
		slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	ctx := context.Background()
	const password = "correct-horse-battery-staple"
	srv := newServer(t)
	srv.AddUser("ops@example.com", password)
	secrets := map[string]bool{
		password: true,
		strings.TrimPrefix(basicHeader("ops@example.com", password), "Basic "): true,
	}
	var victim string // a token revoked by the runs below
	for _, logger := range loggers {
		c := newClient(t, srv, &sleeps{}, woleet.WithBasicAuth("ops@example.com", password), woleet.WithLogger(logger))
		tok, err := c.GenerateToken(ctx, woleet.GenerateTokenOptions{CData: "redaction"})
		note(err)
		victim = tok.Token
		secrets[tok.Token] = true
		texts = append(texts, tok.String(), fmt.Sprintf("%v %+v %#v", tok, tok, *tok))
		logger.Info("issued", "token", tok) // what a careless caller might do

		// A revoke whose answer is lost: a transport error, whose URL
		// holds the token, then a retry answered 400.
		srv.DropNext(1)
		note(c.RevokeToken(ctx, tok.Token))
		note(c.RevokeToken(ctx, tok.Token)) // 400: already revoked
		srv.FailNext(5, http.StatusTooManyRequests, nil)
		note(c.RevokeToken(ctx, tok.Token)) // retries logged, then 429
		srv.FailNext(1, http.StatusBadGateway, nil)
		_, err = c.GenerateToken(ctx, woleet.GenerateTokenOptions{}) // outcome unknown
		note(err)

		// Bearer credentials, then the bearer token revoked: 401.
		bearer, err := srv.IssueDirect("ops@example.com", "bearer")
		note(err)
		secrets[bearer] = true
		bc, err := woleet.NewClient(append(srv.ClientOptions(), woleet.WithBearerToken(bearer), woleet.WithLogger(logger), woleet.WithRateLimit(rate.Inf, 0))...)
		note(err)
		texts = append(texts, bc.Identity())
		note(bc.RevokeToken(ctx, bearer))
		_, err = bc.ListTokens(ctx)
		note(err)
	}

	// A server that echoes what it was sent into its error bodies.
	echo := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"message":"cannot revoke %s for %s"}`, r.URL.Query().Get("token"), r.Header.Get("Authorization"))
	}, woleet.WithLogger(loggers[0]))
	err := echo.RevokeToken(ctx, victim)
	note(err)
	var apiErr *woleet.APIError
	if !errors.As(err, &apiErr) || apiErr.Message != "cannot revoke [REDACTED] for Basic [REDACTED]" {
		t.Errorf("echoed message = %q, want both secrets redacted", apiErr.Message)
	}
	secrets["raw-password"] = true

	text := strings.Join(texts, "\n") + "\n" + logs.String()
	for _, s := range leaks(text, secrets) {
		sum := sha256.Sum256([]byte(s))
		t.Errorf("a secret (sha256:%s) appears in errors or logs", hex.EncodeToString(sum[:6]))
	}
	// The search had material: the logs name the revoked token by its
	// short fingerprint and say where requests went.
	sum := sha256.Sum256([]byte(victim))
	for _, want := range []string{"sha256:" + hex.EncodeToString(sum[:6]), "woleet retry", "/v1/token", "outcome unknown", "429", "401"} {
		if !strings.Contains(text, want) {
			t.Errorf("errors and logs do not mention %q", want)
		}
	}
	for _, r := range srv.Requests() {
		if s := fmt.Sprintf("%+v", r); len(leaks(s, secrets)) > 0 {
			t.Errorf("woleettest request record reveals a secret: %s", r.Query)
		}
	}
}
