package woleet_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tokenaudit/tokenaudit/woleet"
	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// rawServer serves h under /v1 (any other path fails the test) and returns
// a Basic-auth client for it that logs to the transcript, with no rate
// limit and one attempt unless opts say otherwise.
func rawServer(t *testing.T, h http.HandlerFunc, opts ...woleet.Option) *woleet.Client {
	t.Helper()
	suite.addSecret("raw-password", strings.TrimPrefix(basicHeader("raw@example.com", "raw-password"), "Basic "))
	return rawServerAs(t, h, woleet.WithBasicAuth("raw@example.com", "raw-password"), opts...)
}

// rawServerAs is rawServer with other credentials.
func rawServerAs(t *testing.T, h http.HandlerFunc, creds woleet.Option, opts ...woleet.Option) *woleet.Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/v1/", h)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the base path: %s %s", r.Method, r.URL.Path)
		http.Error(w, "outside the base path", http.StatusNotFound)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	all := []woleet.Option{
		woleet.WithBaseURL(ts.URL + "/v1/"),
		woleet.WithHTTPClient(ts.Client()),
		creds,
		woleet.WithLogger(testLogger()),
		woleet.WithRateLimit(rate.Inf, 0),
		woleet.WithRetry(woleet.RetryPolicy{MaxAttempts: 1}),
	}
	c, err := woleet.NewClient(append(all, opts...)...)
	noErr(t, err)
	return c
}

func TestNewClientValidation(t *testing.T) {
	basic := woleet.WithBasicAuth("a@example.com", "pw-validation")
	suite.addSecret("pw-validation", "hunter2-in-url")
	tests := []struct {
		name    string
		opts    []woleet.Option
		wantErr string // substring; "" for success
	}{
		{"basic", []woleet.Option{basic}, ""},
		{"bearer", []woleet.Option{woleet.WithBearerToken("tok.en.x")}, ""},
		{"no credentials", nil, "no credentials"},
		{"both kinds", []woleet.Option{basic, woleet.WithBearerToken("t.o.k")}, "exactly one"},
		{"basic twice, last wins", []woleet.Option{basic, woleet.WithBasicAuth("b@example.com", "pw2")}, ""},
		{"empty email", []woleet.Option{woleet.WithBasicAuth("", "pw")}, "empty email"},
		{"colon in email", []woleet.Option{woleet.WithBasicAuth("a:b", "pw")}, "colon"},
		{"empty password", []woleet.Option{woleet.WithBasicAuth("a@example.com", "")}, "empty password"},
		{"empty bearer", []woleet.Option{woleet.WithBearerToken("")}, "empty token"},
		{"bearer with space", []woleet.Option{woleet.WithBearerToken("a b")}, "white space"},
		{"nil option", []woleet.Option{basic, nil}, "nil Option"},
		{"nil http client", []woleet.Option{basic, woleet.WithHTTPClient(nil)}, "nil *http.Client"},
		{"nil logger", []woleet.Option{basic, woleet.WithLogger(nil)}, "nil *slog.Logger"},
		{"empty user agent", []woleet.Option{basic, woleet.WithUserAgent("")}, "WithUserAgent"},
		{"user agent line break", []woleet.Option{basic, woleet.WithUserAgent("a\r\nX-Evil: 1")}, "WithUserAgent"},
		{"zero rate", []woleet.Option{basic, woleet.WithRateLimit(0, 1)}, "WithRateLimit"},
		{"zero burst", []woleet.Option{basic, woleet.WithRateLimit(5, 0)}, "WithRateLimit"},
		{"infinite rate", []woleet.Option{basic, woleet.WithRateLimit(rate.Inf, 0)}, ""},
		{"zero attempts", []woleet.Option{basic, woleet.WithRetry(woleet.RetryPolicy{})}, "MaxAttempts"},
		{"negative delay", []woleet.Option{basic, woleet.WithRetry(woleet.RetryPolicy{MaxAttempts: 2, BaseDelay: -1})}, "negative"},
		{"cap below base", []woleet.Option{basic, woleet.WithRetry(woleet.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Second})}, "MaxDelay"},
		{"nil clock", []woleet.Option{basic, woleet.WithClock(nil, nil)}, "WithClock"},
		{"https", []woleet.Option{basic, woleet.WithBaseURL("https://api.example.com/v1")}, ""},
		{"http loopback v4", []woleet.Option{basic, woleet.WithBaseURL("http://127.0.0.1:8080/v1")}, ""},
		{"http loopback 127/8", []woleet.Option{basic, woleet.WithBaseURL("http://127.1.2.3/v1")}, ""},
		{"http loopback v6", []woleet.Option{basic, woleet.WithBaseURL("http://[::1]:8080/v1")}, ""},
		{"http localhost", []woleet.Option{basic, woleet.WithBaseURL("http://localhost:8080/v1")}, ""},
		{"http network", []woleet.Option{basic, woleet.WithBaseURL("http://api.woleet.io/v1")}, "plain http"},
		{"http private address", []woleet.Option{basic, woleet.WithBaseURL("http://10.0.0.1/v1")}, "plain http"},
		{"http unspecified address", []woleet.Option{basic, woleet.WithBaseURL("http://0.0.0.0:80/v1")}, "plain http"},
		{"http localhost lookalike", []woleet.Option{basic, woleet.WithBaseURL("http://localhost.example.com/v1")}, "plain http"},
		{"other scheme", []woleet.Option{basic, woleet.WithBaseURL("ftp://api.woleet.io/v1")}, "scheme"},
		{"no scheme", []woleet.Option{basic, woleet.WithBaseURL("api.woleet.io/v1")}, "scheme"},
		{"no host", []woleet.Option{basic, woleet.WithBaseURL("https:///v1")}, "no host"},
		{"user info", []woleet.Option{basic, woleet.WithBaseURL("https://me:hunter2-in-url@api.woleet.io/v1")}, "user information"},
		{"query", []woleet.Option{basic, woleet.WithBaseURL("https://api.woleet.io/v1?token=hunter2-in-url")}, "query"},
		{"fragment", []woleet.Option{basic, woleet.WithBaseURL("https://api.woleet.io/v1#x")}, "fragment"},
		{"not a URL", []woleet.Option{basic, woleet.WithBaseURL("https://api woleet.io/%zz")}, "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := woleet.NewClient(tt.opts...)
			suite.addErr(err)
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("NewClient: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewClient error = %v, want one containing %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "woleet: new client: ") {
				t.Errorf("error %q lacks the package context", err)
			}
		})
	}
	_, err := woleet.NewClient()
	wantErrIs(t, err, woleet.ErrNoCredentials)
}

func TestBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                           woleet.DefaultBaseURL,
		"https://api.woleet.io/v1/":  "https://api.woleet.io/v1",
		"https://api.woleet.io/v1//": "https://api.woleet.io/v1",
		"https://example.com":        "https://example.com",
		"http://127.0.0.1:9/v1":      "http://127.0.0.1:9/v1",
	} {
		opts := []woleet.Option{woleet.WithBearerToken("x.y.z")}
		if in != "" {
			opts = append(opts, woleet.WithBaseURL(in))
		}
		c, err := woleet.NewClient(opts...)
		noErr(t, err)
		if got := c.BaseURL(); got != want {
			t.Errorf("BaseURL() for %q = %q, want %q", in, got, want)
		}
	}
}

func TestIdentity(t *testing.T) {
	c, err := woleet.NewClient(woleet.WithBasicAuth("ops@example.com", "pw-identity"))
	noErr(t, err)
	if got, want := c.Identity(), "basic:ops@example.com"; got != want {
		t.Errorf("Identity() = %q, want %q", got, want)
	}
	const bearer = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJpZGVudGl0eSJ9.c2ln"
	suite.addSecret(bearer, "pw-identity")
	c, err = woleet.NewClient(woleet.WithBearerToken(bearer))
	noErr(t, err)
	sum := sha256.Sum256([]byte(bearer))
	if got, want := c.Identity(), "bearer:sha256:"+hex.EncodeToString(sum[:])[:12]; got != want {
		t.Errorf("Identity() = %q, want %q", got, want)
	}
	fmt.Fprintln(suite, "identity:", c.Identity())
}

func TestGenerateTokenQueryEncoding(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, nil)
	tests := []struct {
		name, cdata, wantQuery string
	}{
		{"empty sends no parameter", "", ""},
		{"plain", "customer-42", "cdata=customer-42"},
		{"space", "ci job 7", "cdata=ci%20job%207"},
		{"ampersand and equals", "a&b=c", "cdata=a%26b%3Dc"},
		{"hash", "#release", "cdata=%23release"},
		{"plus", "1+1", "cdata=1%2B1"},
		{"percent", "100%", "cdata=100%25"},
		{"question mark and slash", "a/b?c", "cdata=a%2Fb%3Fc"},
		{"unicode", "équipe 日本 🎉", "cdata=%C3%A9quipe%20%E6%97%A5%E6%9C%AC%20%F0%9F%8E%89"},
		{"exactly 64 code points", strings.Repeat("é", 64), "cdata=" + strings.Repeat("%C3%A9", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(srv.Requests())
			tok, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{CData: tt.cdata})
			noErr(t, err)
			reqs := srv.Requests()
			if len(reqs) != before+1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs)-before)
			}
			if got := reqs[before].Query; got != tt.wantQuery {
				t.Errorf("query = %q, want %q", got, tt.wantQuery)
			}
			recs := srv.Tokens()
			last := recs[len(recs)-1]
			if last.Token != tok.Token || last.CData != tt.cdata {
				t.Errorf("server issued cdata %q, want %q (same token: %v)", last.CData, tt.cdata, last.Token == tok.Token)
			}
		})
	}
}

func TestGenerateTokenRefusesBadCData(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, nil)
	_, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{CData: strings.Repeat("é", 65)})
	wantErrIs(t, err, woleet.ErrInvalidCData)
	var tooLong *woleet.CDataTooLongError
	if !errors.As(err, &tooLong) || tooLong.Length != 65 {
		t.Errorf("error %v: want a *CDataTooLongError with Length 65", err)
	}
	_, err = c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{CData: "bad\xffutf8"})
	wantErrIs(t, err, woleet.ErrInvalidCData)
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("server saw %d requests, want none: cdata is checked before any request", n)
	}
}

func TestRequestHeaders(t *testing.T) {
	const bearer = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJoZWFkZXJzIn0.c2lnbmF0dXJl"
	suite.addSecret(bearer)
	suite.addSecret("pw-headers", strings.TrimPrefix(basicHeader("ops@example.com", "pw-headers"), "Basic "))
	basic := woleet.WithBasicAuth("ops@example.com", "pw-headers")
	tests := []struct {
		name     string
		creds    woleet.Option
		opts     []woleet.Option
		wantAuth string
		wantUA   string
	}{
		{"basic", basic, nil, basicHeader("ops@example.com", "pw-headers"), "tokenaudit/" + woleet.Version},
		{"bearer", woleet.WithBearerToken(bearer), nil, "Bearer " + bearer, "tokenaudit/" + woleet.Version},
		{"user agent", basic, []woleet.Option{woleet.WithUserAgent("tokenaudit/9.9 (cli)")}, basicHeader("ops@example.com", "pw-headers"), "tokenaudit/9.9 (cli)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []*http.Request
			h := func(w http.ResponseWriter, r *http.Request) {
				got = append(got, r.Clone(context.Background()))
				switch r.URL.Path {
				case "/v1/token":
					if r.Method == http.MethodGet {
						fmt.Fprint(w, `{"token":"a.b.c"}`)
					}
				case "/v1/user/tokens":
					fmt.Fprint(w, `{"tokens":[]}`)
				}
			}
			c := rawServerAs(t, h, tt.creds, tt.opts...)
			ctx := context.Background()
			_, err := c.GenerateToken(ctx, woleet.GenerateTokenOptions{CData: "x"})
			noErr(t, err)
			noErr(t, c.RevokeToken(ctx, "a.b.c"))
			_, err = c.ListTokens(ctx)
			noErr(t, err)
			if len(got) != 3 {
				t.Fatalf("server saw %d requests, want 3", len(got))
			}
			for _, r := range got {
				if a := r.Header.Get("Authorization"); a != tt.wantAuth {
					t.Errorf("%s %s: Authorization %q, want %q", r.Method, r.URL.Path, a, tt.wantAuth)
				}
				if ua := r.Header.Get("User-Agent"); ua != tt.wantUA {
					t.Errorf("%s %s: User-Agent %q, want %q", r.Method, r.URL.Path, ua, tt.wantUA)
				}
				if r.ContentLength != 0 || len(r.TransferEncoding) != 0 {
					t.Errorf("%s %s: sent a body (length %d, encoding %v)", r.Method, r.URL.Path, r.ContentLength, r.TransferEncoding)
				}
			}
		})
	}
}

func TestBearerAuthAgainstFake(t *testing.T) {
	srv := newServer(t)
	tok, err := srv.IssueDirect(woleettest.DefaultEmail, "bearer")
	noErr(t, err)
	c, err := woleet.NewClient(append(srv.ClientOptions(), woleet.WithBearerToken(tok), woleet.WithLogger(testLogger()))...)
	noErr(t, err)
	ctx := context.Background()
	list, err := c.ListTokens(ctx)
	noErr(t, err)
	if len(list) != 1 || list[0] != tok {
		t.Fatalf("ListTokens with the bearer token: %d tokens, want the bearer token itself", len(list))
	}
	if r := srv.Requests()[0]; r.Auth != "bearer" || r.User != woleettest.DefaultEmail {
		t.Errorf("server saw auth %q as %q", r.Auth, r.User)
	}
	noErr(t, c.RevokeToken(ctx, tok)) // revoking the token one authenticates with
	_, err = c.ListTokens(ctx)
	wantErrIs(t, err, woleet.ErrUnauthorized)
}

func TestAPIErrorBodies(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		body        string
		wantMessage string
		wantIs      error
	}{
		{"message", 400, `{"message":"cdata too long"}`, "cdata too long", woleet.ErrBadRequest},
		{"error.message", 401, `{"error":{"message":"bad credentials"}}`, "bad credentials", woleet.ErrUnauthorized},
		{"error string", 403, `{"error":"forbidden here"}`, "forbidden here", woleet.ErrUnauthorized},
		{"plain text", 500, "  internal\n failure  ", "internal failure", woleet.ErrServerError},
		{"html excerpt", 501, "<html>" + strings.Repeat("x", 1000) + "</html>", "<html>" + strings.Repeat("x", woleet.MaxMessageBytes-6), woleet.ErrServerError},
		{"empty", 400, "", "", woleet.ErrBadRequest},
		{"not found", 404, `{"message":"no such route"}`, "no such route", nil},
		{"redirect not followed", 302, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			c := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
				n++
				if tt.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}, woleet.WithRetry(woleet.DefaultRetryPolicy()))
			_, err := c.ListTokens(context.Background())
			suite.addErr(err)
			var apiErr *woleet.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v is not an *APIError", err)
			}
			if apiErr.StatusCode != tt.status || apiErr.Method != "GET" || apiErr.Path != "/v1/user/tokens" || apiErr.Message != tt.wantMessage {
				t.Errorf("APIError = %+v, want status %d, GET /v1/user/tokens, message %q", apiErr, tt.status, tt.wantMessage)
			}
			if n != 1 {
				t.Errorf("server saw %d requests, want 1 (not retried)", n)
			}
			for _, s := range []error{woleet.ErrBadRequest, woleet.ErrUnauthorized, woleet.ErrRateLimited, woleet.ErrServerError} {
				if got := errors.Is(err, s); got != (s == tt.wantIs) {
					t.Errorf("errors.Is(err, %v) = %v", s, got)
				}
			}
			wantErrIsNot(t, err, woleet.ErrOutcomeUnknown)
			want := fmt.Sprintf("woleet: list tokens: GET /v1/user/tokens: %d %s", tt.status, http.StatusText(tt.status))
			if tt.wantMessage != "" {
				want += ": " + tt.wantMessage
			}
			if err.Error() != want {
				t.Errorf("Error() = %q\nwant      %q", err, want)
			}
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed, with Authorization %v", r.Header.Get("Authorization") != "")
	}))
	defer other.Close()
	c := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	})
	_, err := c.ListTokens(context.Background())
	suite.addErr(err)
	var apiErr *woleet.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("error = %v, want an *APIError with status 307", err)
	}
}

func TestRevokeTokenEmpty(t *testing.T) {
	srv := newServer(t)
	err := newClient(t, srv, nil).RevokeToken(context.Background(), "")
	suite.addErr(err)
	if err == nil || len(srv.Requests()) != 0 {
		t.Fatalf("RevokeToken(\"\") = %v after %d requests, want an error before any request", err, len(srv.Requests()))
	}
}

func TestListAndRevokeAgainstFake(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, nil)
	ctx := context.Background()
	var toks []string
	for i := range 3 {
		tok, err := c.GenerateToken(ctx, woleet.GenerateTokenOptions{CData: fmt.Sprint("holder ", i)})
		noErr(t, err)
		toks = append(toks, tok.Token)
	}
	noErr(t, c.RevokeToken(ctx, toks[1]))
	if !srv.Revoked(toks[1]) || srv.Revoked(toks[0]) {
		t.Errorf("server revoked state wrong: %v %v", srv.Revoked(toks[0]), srv.Revoked(toks[1]))
	}
	list, err := c.ListTokens(ctx)
	noErr(t, err)
	if len(list) != 2 || list[0] != toks[0] || list[1] != toks[2] {
		t.Errorf("ListTokens: %d tokens, want the first and third in order", len(list))
	}
	err = c.RevokeToken(ctx, toks[1]) // already revoked: 400, not an unknown outcome
	wantErrIs(t, err, woleet.ErrBadRequest)
	wantErrIsNot(t, err, woleet.ErrOutcomeUnknown)
	if got := countRequests(srv, "DELETE", "/token"); got != 2 {
		t.Errorf("server saw %d DELETE /token, want 2", got)
	}
	wrong := newClient(t, srv, nil, woleet.WithBasicAuth(woleettest.DefaultEmail, "wrong-password-x"))
	suite.addSecret("wrong-password-x")
	_, err = wrong.ListTokens(ctx)
	wantErrIs(t, err, woleet.ErrUnauthorized)
}

func TestConcurrentUse(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, nil, woleet.WithRateLimit(1000, 10))
	ctx := context.Background()
	const n = 20
	errs := make(chan error, n)
	toks := make(chan string, n)
	for i := range n {
		go func() {
			tok, err := c.GenerateToken(ctx, woleet.GenerateTokenOptions{CData: fmt.Sprint("worker ", i)})
			if err == nil {
				toks <- tok.Token
				err = c.RevokeToken(ctx, tok.Token)
			}
			errs <- err
		}()
	}
	for range n {
		noErr(t, <-errs)
	}
	close(toks)
	seen := map[string]bool{}
	for tok := range toks {
		seen[tok] = true
	}
	if len(seen) != n || len(srv.Tokens()) != n || len(srv.LiveTokens(woleettest.DefaultEmail)) != 0 {
		t.Errorf("%d distinct tokens, server issued %d and has %d live; want %d, %d, 0",
			len(seen), len(srv.Tokens()), len(srv.LiveTokens(woleettest.DefaultEmail)), n, n)
	}
}

func TestTokenNeverPrinted(t *testing.T) {
	const raw = "eyJhbGciOiJIUzI1NiJ9.eyJjZGF0YSI6InByaW50In0.cHJpbnRlZA"
	suite.addSecret(raw)
	tok := &woleet.Token{Token: raw}
	sum := sha256.Sum256([]byte(raw))
	short := "sha256:" + hex.EncodeToString(sum[:])[:12]
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("t", "token", tok, "value", *tok)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("t", "token", tok, "value", *tok)
	outs := []string{
		tok.String(), fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s %q", tok, tok, tok, tok, tok),
		fmt.Sprintf("%v %+v %#v", *tok, *tok, *tok), logs.String(),
	}
	for _, out := range outs {
		fmt.Fprintln(suite, out)
		if strings.Contains(out, raw) || strings.Contains(out, raw[:20]) {
			t.Errorf("output reveals the token: %s", out)
		}
		if !strings.Contains(out, short) {
			t.Errorf("output %q does not name the token by %s", out, short)
		}
	}
}
