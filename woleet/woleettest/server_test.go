package woleettest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokenaudit/tokenaudit/woleet"
	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// newServer starts a server closed at the end of the test.
func newServer(t *testing.T, opts ...woleettest.Option) *woleettest.Server {
	t.Helper()
	srv := woleettest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

// response is a raw answer.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a raw request to srv.URL+path with the Authorization header
// auth (none if empty).
func do(t *testing.T, srv *woleettest.Server, method, pathAndQuery, auth string) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+pathAndQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, pathAndQuery, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// basic is the default user's Authorization header.
func basic(email, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(email+":"+password))
}

var defaultAuth = basic(woleettest.DefaultEmail, woleettest.DefaultPassword)

// issue asks for a token with a raw request and returns it.
func issue(t *testing.T, srv *woleettest.Server, query, auth string) string {
	t.Helper()
	r := do(t, srv, "GET", "/token"+query, auth)
	var v struct{ Token string }
	if r.status != 200 || json.Unmarshal([]byte(r.body), &v) != nil || v.Token == "" {
		t.Fatalf("GET /token%s = %d %s", query, r.status, r.body)
	}
	return v.Token
}

// wantMessage fails unless r has the status and a JSON {"message": …}
// body.
func wantMessage(t *testing.T, r response, status int) {
	t.Helper()
	var v struct{ Message string }
	if r.status != status || json.Unmarshal([]byte(r.body), &v) != nil || v.Message == "" {
		t.Errorf("answer %d %q, want %d with a JSON message", r.status, r.body, status)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
}

func TestURLAndClose(t *testing.T) {
	srv := woleettest.NewServer()
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/v1$`).MatchString(srv.URL) {
		t.Errorf("URL = %q, want http://127.0.0.1:PORT/v1", srv.URL)
	}
	c := srv.Client()
	if c.BaseURL() != srv.URL {
		t.Errorf("client base URL %q, want %q", c.BaseURL(), srv.URL)
	}
	if _, err := c.ListTokens(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	srv.Close() // idempotent
	_, err := srv.Client(woleet.WithRetry(woleet.RetryPolicy{MaxAttempts: 1})).ListTokens(context.Background())
	if err == nil {
		t.Error("a request after Close succeeded")
	}
}

func TestNewUnstartedServerOnGivenListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := woleettest.NewUnstartedServer()
	defer srv.Close()
	if srv.URL != "" {
		t.Errorf("URL before Start = %q, want empty", srv.URL)
	}
	srv.Listener = l
	srv.Start()
	if want := "http://" + l.Addr().String() + "/v1"; srv.URL != want {
		t.Errorf("URL = %q, want %q", srv.URL, want)
	}
	if _, err := srv.Client().GenerateToken(context.Background(), woleet.GenerateTokenOptions{}); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a second Start did not panic")
			}
		}()
		srv.Start()
	}()

	unstarted := woleettest.NewUnstartedServer()
	unstarted.Close() // closing a server never started is fine
	unstarted.Close()
}

func TestTokensAreSignedJWTs(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	tests := []struct {
		name    string
		opts    []woleettest.Option
		alg     string
		wantKey any
	}{
		{"default HS256", nil, "HS256", nil},
		{"given HS256 key", []woleettest.Option{woleettest.WithHS256Key(hmacKey)}, "HS256", hmacKey},
		{"ES256 random key", []woleettest.Option{woleettest.WithES256Key(nil)}, "ES256", nil},
		{"ES256 given key", []woleettest.Option{woleettest.WithES256Key(ecKey)}, "ES256", &ecKey.PublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, append(tt.opts, woleettest.WithClock(func() time.Time { return now }))...)
			if srv.Algorithm() != tt.alg {
				t.Fatalf("Algorithm() = %q, want %q", srv.Algorithm(), tt.alg)
			}
			key := srv.VerificationKey()
			if tt.wantKey != nil {
				if k, ok := key.([]byte); ok && string(k) != string(hmacKey) {
					t.Error("VerificationKey is not the given HMAC key")
				}
				if k, ok := key.(*ecdsa.PublicKey); ok && !k.Equal(&ecKey.PublicKey) {
					t.Error("VerificationKey is not the given key's public key")
				}
			}
			for _, cdata := range []string{"", "customer 42 & co"} {
				tok, err := srv.Client().GenerateToken(context.Background(), woleet.GenerateTokenOptions{CData: cdata})
				if err != nil {
					t.Fatal(err)
				}
				parts := strings.Split(tok.Token, ".")
				if len(parts) != 3 {
					t.Fatalf("token has %d parts", len(parts))
				}
				header, _ := base64.RawURLEncoding.DecodeString(parts[0])
				if want := `{"alg":"` + tt.alg + `","typ":"JWT"}`; string(header) != want {
					t.Errorf("header %s, want %s", header, want)
				}
				jws, err := jose.ParseSigned(tok.Token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(tt.alg)})
				if err != nil {
					t.Fatal(err)
				}
				payload, err := jws.Verify(key)
				if err != nil {
					t.Fatalf("signature does not verify with VerificationKey: %v", err)
				}
				var claims map[string]any
				if err := json.Unmarshal(payload, &claims); err != nil {
					t.Fatal(err)
				}
				id, _ := srv.UserID(woleettest.DefaultEmail)
				jti, _ := claims["jti"].(string)
				if claims["sub"] != id || claims["iat"] != float64(now.Unix()) || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(jti) {
					t.Errorf("claims %v, want sub %s, iat %d and a random jti", claims, id, now.Unix())
				}
				if _, ok := claims["exp"]; ok {
					t.Error("token has an exp claim")
				}
				got, has := claims["cdata"]
				if (cdata == "") == has || (has && got != cdata) {
					t.Errorf("cdata claim %v (present %v), want %q", got, has, cdata)
				}
				wantLen := 3
				if cdata != "" {
					wantLen = 4
				}
				if len(claims) != wantLen {
					t.Errorf("claims %v: want exactly sub, iat, jti and cdata when given", claims)
				}
			}
		})
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a 16-byte HS256 key did not panic")
			}
		}()
		woleettest.NewServer(woleettest.WithHS256Key(make([]byte, 16)))
	}()
}

func TestAuthentication(t *testing.T) {
	srv := newServer(t)
	srv.AddUser("other@example.com", "other-password")
	live := issue(t, srv, "", defaultAuth)
	revoked := issue(t, srv, "", defaultAuth)
	if err := srv.RevokeDirect(revoked); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, auth string
		want       int
	}{
		{"none", "", 401},
		{"basic", defaultAuth, 200},
		{"basic lower-case scheme", "basic " + strings.TrimPrefix(defaultAuth, "Basic "), 200},
		{"wrong password", basic(woleettest.DefaultEmail, "nope"), 401},
		{"unknown user", basic("nobody@example.com", woleettest.DefaultPassword), 401},
		{"other user's password", basic(woleettest.DefaultEmail, "other-password"), 401},
		{"malformed basic", "Basic !!!", 401},
		{"bearer live token", "Bearer " + live, 200},
		{"bearer revoked token", "Bearer " + revoked, 401},
		{"bearer garbage", "Bearer a.b.c", 401},
		{"bearer empty", "Bearer ", 401},
		{"unknown scheme", "Token " + live, 401},
		{"no scheme", live, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, "GET", "/user/tokens", tt.auth)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d (%s)", r.status, tt.want, r.body)
			}
			if tt.want == 401 {
				wantMessage(t, r, 401)
				scheme := "Basic"
				if strings.HasPrefix(tt.auth, "Bearer") {
					scheme = "Bearer"
				}
				if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, scheme+" ") {
					t.Errorf("401 with WWW-Authenticate %q, want a %s challenge", got, scheme)
				}
			}
		})
	}
}

func TestGenerateTokenParameters(t *testing.T) {
	srv := newServer(t)
	ok := []struct{ query, cdata string }{
		{"", ""},
		{"?cdata=", ""},
		{"?cdata=a%20b%26c%23d", "a b&c#d"},
		{"?cdata=a+b", "a b"},
		{"?cdata=" + strings.Repeat("%C3%A9", 64), strings.Repeat("é", 64)},
		{"?other=1&cdata=x", "x"},
	}
	for _, tt := range ok {
		issue(t, srv, tt.query, defaultAuth)
		recs := srv.Tokens()
		if got := recs[len(recs)-1].CData; got != tt.cdata {
			t.Errorf("GET /token%s issued cdata %q, want %q", tt.query, got, tt.cdata)
		}
	}
	bad := []string{
		"?cdata=" + strings.Repeat("%C3%A9", 65),
		"?cdata=" + strings.Repeat("a", 65),
		"?cdata=%FF",
		"?cdata=a&cdata=b",
		"?cdata=%zz",
	}
	for _, q := range bad {
		wantMessage(t, do(t, srv, "GET", "/token"+q, defaultAuth), 400)
	}
	if n := len(srv.Tokens()); n != len(ok) {
		t.Errorf("server issued %d tokens, want %d: a 400 issues none", n, len(ok))
	}
}

func TestRevokeAndList(t *testing.T) {
	srv := newServer(t)
	srv.AddUser("other@example.com", "other-password")
	otherAuth := basic("other@example.com", "other-password")
	a := issue(t, srv, "?cdata=a", defaultAuth)
	b := issue(t, srv, "?cdata=b", defaultAuth)
	c := issue(t, srv, "?cdata=c", defaultAuth)
	theirs := issue(t, srv, "?cdata=theirs", otherAuth)

	list := func(auth string) []string {
		r := do(t, srv, "GET", "/user/tokens", auth)
		var v struct{ Tokens []string }
		if r.status != 200 || json.Unmarshal([]byte(r.body), &v) != nil || v.Tokens == nil {
			t.Fatalf("GET /user/tokens = %d %s", r.status, r.body)
		}
		return v.Tokens
	}
	if got := list(defaultAuth); strings.Join(got, ",") != strings.Join([]string{a, b, c}, ",") {
		t.Errorf("list has %d tokens, want a, b, c in order", len(got))
	}
	if r := do(t, srv, "DELETE", "/token?token="+b, defaultAuth); r.status != 200 || r.body != "" {
		t.Errorf("DELETE = %d %q, want 200 with an empty body", r.status, r.body)
	}
	if !srv.Revoked(b) || srv.Revoked(a) {
		t.Error("Revoked wrong after DELETE")
	}
	if got := list(defaultAuth); len(got) != 2 || got[0] != a || got[1] != c {
		t.Errorf("list after revoke has %d tokens, want a, c", len(got))
	}
	if got := srv.LiveTokens(woleettest.DefaultEmail); len(got) != 2 || got[1] != c {
		t.Errorf("LiveTokens = %d tokens, want a, c", len(got))
	}
	for name, q := range map[string]string{
		"again":        "?token=" + b,
		"unknown":      "?token=x.y.z",
		"other user's": "?token=" + theirs,
		"missing":      "",
		"empty":        "?token=",
		"twice":        "?token=" + a + "&token=" + c,
	} {
		t.Run(name, func(t *testing.T) {
			wantMessage(t, do(t, srv, "DELETE", "/token"+q, defaultAuth), 400)
		})
	}
	if srv.Revoked(theirs) || srv.Revoked(a) || srv.Revoked(c) {
		t.Error("a failed DELETE revoked something")
	}
	if got := list(otherAuth); len(got) != 1 || got[0] != theirs {
		t.Error("the other user does not see exactly their token")
	}
}

func TestRoutes(t *testing.T) {
	srv := newServer(t)
	for _, tt := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/nope", 404, ""},
		{"GET", "/user", 404, ""},
		{"POST", "/token", 405, "GET, DELETE"},
		{"POST", "/user/tokens", 405, "GET, PUT"},
		{"DELETE", "/user/tokens", 405, "GET, PUT"},
	} {
		r := do(t, srv, tt.method, tt.path, defaultAuth)
		wantMessage(t, r, tt.status)
		if r.header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, r.header.Get("Allow"), tt.allow)
		}
	}
	// Without the prefix: not the API.
	req, _ := http.NewRequest("GET", strings.TrimSuffix(srv.URL, "/v1")+"/token", nil)
	req.Header.Set("Authorization", defaultAuth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || len(srv.Tokens()) != 0 {
		t.Errorf("GET /token without the prefix = %d, want 404 and no token", resp.StatusCode)
	}
}

func TestRequestsRecord(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := newServer(t, woleettest.WithClock(func() time.Time { return now }))
	c := srv.Client(woleet.WithUserAgent("recorder/1"))
	ctx := context.Background()
	tok, err := c.GenerateToken(ctx, woleet.GenerateTokenOptions{CData: "a b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RevokeToken(ctx, tok.Token); err != nil {
		t.Fatal(err)
	}
	do(t, srv, "GET", "/user/tokens", "")
	want := []woleettest.Request{
		{Time: now, Method: "GET", Path: "/v1/token", Query: "cdata=a%20b", Auth: "basic", User: woleettest.DefaultEmail, UserAgent: "recorder/1", Status: 200},
		{Time: now, Method: "DELETE", Path: "/v1/token", Query: "token=REDACTED", Auth: "basic", User: woleettest.DefaultEmail, UserAgent: "recorder/1", Status: 200},
		{Time: now, Method: "GET", Path: "/v1/user/tokens", UserAgent: "Go-http-client/1.1", Status: 401},
	}
	got := srv.Requests()
	if len(got) != len(want) {
		t.Fatalf("%d requests recorded, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d = %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if s := fmt.Sprintf("%+v", got); strings.Contains(s, tok.Token) || strings.Contains(s, woleettest.DefaultPassword) {
		t.Error("the request record holds a secret")
	}
}

func TestFaults(t *testing.T) {
	srv := newServer(t)
	srv.FailNext(1, http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}})
	srv.FailNext(1, http.StatusServiceUnavailable, nil)
	srv.DropNext(1)
	srv.FailNext(1, http.StatusInternalServerError, nil)

	r := do(t, srv, "GET", "/token", "") // no auth: faults come first
	wantMessage(t, r, 429)
	if r.header.Get("Retry-After") != "7" {
		t.Errorf("Retry-After %q, want 7", r.header.Get("Retry-After"))
	}
	wantMessage(t, do(t, srv, "GET", "/token", defaultAuth), 503)

	// Dropped: processed, then no answer.
	req, _ := http.NewRequest("GET", srv.URL+"/token?cdata=dropped", nil)
	req.Header.Set("Authorization", defaultAuth)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a dropped request got an answer: %d", resp.StatusCode)
	}
	if recs := srv.Tokens(); len(recs) != 1 || recs[0].CData != "dropped" {
		t.Errorf("the dropped request issued %d tokens, want 1", len(recs))
	}
	wantMessage(t, do(t, srv, "GET", "/user/tokens", defaultAuth), 500)
	if r := do(t, srv, "GET", "/user/tokens", defaultAuth); r.status != 200 {
		t.Errorf("after the faults: %d, want 200", r.status)
	}
	var faults []string
	for _, r := range srv.Requests() {
		faults = append(faults, fmt.Sprintf("%s:%d", r.Fault, r.Status))
	}
	if got, want := strings.Join(faults, " "), "fail:429 fail:503 drop:200 fail:500 :200"; got != want {
		t.Errorf("faults recorded %q, want %q", got, want)
	}
	if !srv.Requests()[2].Dropped() || srv.Requests()[3].Dropped() {
		t.Error("Dropped() wrong")
	}
}

// TestAnswerNext: an arbitrary answer, queued with the other faults, sent
// exactly, with nothing done.
func TestAnswerNext(t *testing.T) {
	srv := newServer(t)
	srv.AnswerNext(1, http.StatusOK, nil, []byte(`{"tokens": null}`))
	srv.FailNext(1, http.StatusBadGateway, nil)
	srv.AnswerNext(1, http.StatusCreated, http.Header{"Content-Type": {"text/plain"}, "X-Test": {"1"}}, []byte("token"))

	r := do(t, srv, "GET", "/user/tokens", "") // no auth: faults come first
	if r.status != 200 || r.body != `{"tokens": null}` || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("first answer %d %q (%s), want 200 {\"tokens\": null}", r.status, r.body, r.header.Get("Content-Type"))
	}
	wantMessage(t, do(t, srv, "GET", "/token", defaultAuth), 502)
	r = do(t, srv, "GET", "/token", defaultAuth)
	if r.status != 201 || r.body != "token" || r.header.Get("Content-Type") != "text/plain" || r.header.Get("X-Test") != "1" {
		t.Errorf("third answer %d %q %v, want 201 token as text/plain", r.status, r.body, r.header)
	}
	if n := len(srv.Tokens()); n != 0 {
		t.Errorf("the answers issued %d tokens, want none", n)
	}
	issue(t, srv, "", defaultAuth) // the queue is empty again
	var faults []string
	for _, r := range srv.Requests() {
		faults = append(faults, fmt.Sprintf("%s:%d", r.Fault, r.Status))
	}
	if got, want := strings.Join(faults, " "), "answer:200 fail:502 answer:201 :200"; got != want {
		t.Errorf("faults recorded %q, want %q", got, want)
	}
}

// TestOpaqueTokens: WithOpaqueTokens issues tokens that are not JWTs,
// which the server lists, accepts as Bearer credentials and revokes.
func TestOpaqueTokens(t *testing.T) {
	srv := newServer(t, woleettest.WithOpaqueTokens())
	tok := issue(t, srv, "?cdata=opaque", defaultAuth)
	rest, ok := strings.CutPrefix(tok, woleettest.OpaqueTokenPrefix)
	if !ok || len(rest) != 32 || strings.ContainsAny(tok, ". ") {
		t.Fatalf("issued %q, want %s and 32 hex digits", tok, woleettest.OpaqueTokenPrefix)
	}
	if other := issue(t, srv, "", defaultAuth); other == tok {
		t.Fatal("two opaque tokens are the same")
	}
	if recs := srv.Tokens(); len(recs) != 2 || recs[0].Token != tok || recs[0].CData != "opaque" || recs[0].JTI != rest {
		t.Errorf("Tokens() = %+v", recs)
	}
	if r := do(t, srv, "GET", "/user/tokens", "Bearer "+tok); r.status != 200 || !strings.Contains(r.body, `"`+tok+`"`) {
		t.Errorf("GET /user/tokens as the opaque token: %d %s", r.status, r.body)
	}
	if r := do(t, srv, "DELETE", "/token?token="+tok, defaultAuth); r.status != 200 || !srv.Revoked(tok) {
		t.Errorf("DELETE /token: %d, revoked %v", r.status, srv.Revoked(tok))
	}
}

func TestLatency(t *testing.T) {
	srv := newServer(t)
	srv.SetLatency(80 * time.Millisecond)
	start := time.Now()
	do(t, srv, "GET", "/user/tokens", defaultAuth)
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("answer took %v, want at least the 80ms latency", d)
	}
	// A client that gives up leaves the work done.
	srv.SetLatency(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := srv.Client().GenerateToken(ctx, woleet.GenerateTokenOptions{CData: "slow"})
	if !errors.Is(err, woleet.ErrOutcomeUnknown) || len(srv.Tokens()) != 1 {
		t.Errorf("error %v and %d tokens, want an unknown outcome and 1 token", err, len(srv.Tokens()))
	}
	// Close cuts a latency short rather than wait it out.
	n := len(srv.Requests())
	done := make(chan error, 1)
	go func() {
		_, err := srv.Client(woleet.WithRetry(woleet.RetryPolicy{MaxAttempts: 1})).ListTokens(context.Background())
		done <- err
	}()
	for len(srv.Requests()) == n { // the request is in, and waiting
		time.Sleep(time.Millisecond)
	}
	start = time.Now()
	srv.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v with a 10s latency pending", d)
	}
	if err := <-done; err != nil {
		t.Errorf("the pending request failed: %v", err)
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := newServer(t, woleettest.WithRateLimit(20, 2), woleettest.WithClock(clock))
	var got []int
	for range 3 {
		got = append(got, do(t, srv, "GET", "/user/tokens", defaultAuth).status)
	}
	mu.Lock()
	now = now.Add(50 * time.Millisecond) // one more turn at 20/s
	mu.Unlock()
	got = append(got, do(t, srv, "GET", "/user/tokens", defaultAuth).status)
	r := do(t, srv, "GET", "/user/tokens", defaultAuth)
	got = append(got, r.status)
	if fmt.Sprint(got) != "[200 200 429 200 429]" {
		t.Errorf("statuses %v, want [200 200 429 200 429]", got)
	}
	wantMessage(t, r, 429)
	if r.header.Get("Retry-After") != "" {
		t.Error("the rate limit sent Retry-After, which Woleet does not document")
	}
	if srv.Requests()[2].Fault != "ratelimit" {
		t.Errorf("fault %q, want ratelimit", srv.Requests()[2].Fault)
	}
}

func TestDirectMethodsAndUsers(t *testing.T) {
	srv := newServer(t)
	id := srv.AddUser("ci@example.com", "ci-password")
	if id2 := srv.AddUser("ci@example.com", "new-password"); id2 != id {
		t.Errorf("changing the password changed the id")
	}
	if def, _ := srv.UserID(woleettest.DefaultEmail); def == id || def == "" {
		t.Errorf("user ids not distinct: %q %q", def, id)
	}
	if _, ok := srv.UserID("nobody@example.com"); ok {
		t.Error("UserID found an unknown user")
	}
	tok, err := srv.IssueDirect("ci@example.com", "behind the ledger's back")
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Requests()) != 0 {
		t.Error("IssueDirect recorded a request")
	}
	c, err := woleet.NewClient(append(srv.ClientOptions(), woleet.WithBasicAuth("ci@example.com", "new-password"))...)
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.ListTokens(context.Background())
	if err != nil || len(list) != 1 || list[0] != tok {
		t.Fatalf("the user lists %d tokens (%v), want the direct one", len(list), err)
	}
	if _, err := srv.IssueDirect("nobody@example.com", ""); !errors.Is(err, woleettest.ErrUnknownUser) {
		t.Errorf("IssueDirect to an unknown user: %v", err)
	}
	if _, err := srv.IssueDirect("ci@example.com", strings.Repeat("x", 65)); err == nil {
		t.Error("IssueDirect accepted 65 characters of cdata")
	}
	if err := srv.RevokeDirect(tok); err != nil {
		t.Fatal(err)
	}
	if err := srv.RevokeDirect(tok); !errors.Is(err, woleettest.ErrUnknownToken) {
		t.Errorf("second RevokeDirect: %v", err)
	}
	recs := srv.Tokens()
	if len(recs) != 1 || !recs[0].Revoked || recs[0].RevokedAt.IsZero() || recs[0].UserID != id || recs[0].UserEmail != "ci@example.com" {
		t.Errorf("Tokens() = %+v", recs)
	}
}

func TestClientPanicsOnBadOptions(t *testing.T) {
	srv := newServer(t)
	defer func() {
		if recover() == nil {
			t.Error("Client with two kinds of credentials did not panic")
		}
	}()
	srv.Client(woleet.WithBearerToken("a.b.c"))
}

func TestConcurrentClients(t *testing.T) {
	srv := newServer(t)
	const users, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, users*each)
	for u := range users {
		email := fmt.Sprintf("user%d@example.com", u)
		srv.AddUser(email, "pw")
		c, err := woleet.NewClient(append(srv.ClientOptions(), woleet.WithBasicAuth(email, "pw"), woleet.WithRetry(woleet.RetryPolicy{MaxAttempts: 5}))...)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := range each {
				tok, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{CData: fmt.Sprint(i)})
				if err == nil && i%2 == 0 {
					err = c.RevokeToken(context.Background(), tok.Token)
				}
				errs <- err
			}
		})
	}
	go func() { srv.FailNext(3, 429, nil) }() // faults and inspection race the clients
	for range 20 {
		srv.Requests()
		srv.Tokens()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for u := range users {
		if n := len(srv.LiveTokens(fmt.Sprintf("user%d@example.com", u))); n != each/2 {
			t.Errorf("user %d has %d live tokens, want %d", u, n, each/2)
		}
	}
	if n := len(srv.Tokens()); n != users*each {
		t.Errorf("%d tokens issued, want %d", n, users*each)
	}
}

// doBody sends a raw request with a body.
func doBody(t *testing.T, srv *woleettest.Server, method, path, auth, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// TestPutTokens: PUT /user/tokens replaces the list, revoking what it
// leaves out; a body that is not exactly {"tokens": [string…]} of the
// user's live tokens is a 400 that changes nothing.
func TestPutTokens(t *testing.T) {
	srv := newServer(t)
	srv.AddUser("other@example.com", "other-password")
	a, b, c := issue(t, srv, "?cdata=a", defaultAuth), issue(t, srv, "?cdata=b", defaultAuth), issue(t, srv, "?cdata=c", defaultAuth)
	theirs := issue(t, srv, "", basic("other@example.com", "other-password"))
	for _, body := range []string{`{}`, `{"tokens": null}`, `{"tokens": [null]}`, `{"tokens": [""]}`, `{"tokens": ["nope"]}`,
		`{"tokens": ["` + theirs + `"]}`, `{"tokens": [], "x": 1}`, `[]`, `not json`} {
		r := doBody(t, srv, "PUT", "/user/tokens", defaultAuth, body)
		wantMessage(t, r, 400)
		if n := len(srv.LiveTokens(woleettest.DefaultEmail)); n != 3 {
			t.Fatalf("PUT %s left %d live tokens, want 3", body, n)
		}
	}
	r := doBody(t, srv, "PUT", "/user/tokens", defaultAuth, `{"tokens": ["`+b+`"]}`)
	if r.status != 200 {
		t.Fatalf("PUT = %d %s", r.status, r.body)
	}
	if live := srv.LiveTokens(woleettest.DefaultEmail); len(live) != 1 || live[0] != b || !srv.Revoked(a) || !srv.Revoked(c) || srv.Revoked(theirs) {
		t.Errorf("after PUT: live %d tokens, a revoked %v, c revoked %v, the other user's revoked %v", len(live), srv.Revoked(a), srv.Revoked(c), srv.Revoked(theirs))
	}
}

// TestRandomFaults: a seeded share of requests fails or is dropped.
func TestRandomFaults(t *testing.T) {
	srv := newServer(t, woleettest.WithRandomFaults(woleettest.RandomFaults{FailRate: 0.3, FailStatus: 502, DropRate: 0.2, Seed: 7}))
	counts := map[string]int{}
	for range 200 {
		req, _ := http.NewRequest("GET", srv.URL+"/user/tokens", nil)
		req.Header.Set("Authorization", defaultAuth)
		resp, err := http.DefaultClient.Do(req)
		switch {
		case err != nil:
			counts["dropped"]++
		default:
			counts[strconv.Itoa(resp.StatusCode)]++
			resp.Body.Close()
		}
	}
	if counts["502"] < 40 || counts["502"] > 80 || counts["dropped"] < 15 || counts["dropped"] > 60 || counts["200"] < 70 {
		t.Errorf("200 requests: %v; want about 60 failed, 28 dropped", counts)
	}
}

// TestControlEndpoint: faults queued over HTTP, from loopback.
func TestControlEndpoint(t *testing.T) {
	srv := newServer(t)
	base := strings.TrimSuffix(srv.URL, woleettest.PathPrefix) + woleettest.ControlPath
	post := func(q string) int {
		resp, err := http.Post(base+q, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post("?fault=fail&status=503&n=2"); s != 204 {
		t.Fatalf("queue a fault = %d", s)
	}
	for _, q := range []string{"?fault=fail", "?fault=fail&status=9", "?fault=boom", "", "?fault=drop&n=0", "?latency=soon"} {
		if s := post(q); s != 400 {
			t.Errorf("POST control%s = %d, want 400", q, s)
		}
	}
	for i, want := range []int{503, 503, 200} {
		if r := do(t, srv, "GET", "/user/tokens", defaultAuth); r.status != want {
			t.Errorf("request %d after the control call: %d, want %d", i, r.status, want)
		}
	}
	if len(srv.Requests()) != 3 {
		t.Errorf("%d requests recorded, want 3 (control calls are not API requests)", len(srv.Requests()))
	}
}
