package woleet_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tokenaudit/tokenaudit/woleet"
	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// transcript collects, across the whole test run, every log line the
// clients under test write and every error string the tests see, and every
// secret the tests used. TestMain fails the run if any secret appears in
// the text: the secret-redaction search the package promises.
type transcript struct {
	mu      sync.Mutex
	text    strings.Builder
	secrets map[string]bool
}

// suite is the transcript of this test binary.
var suite = &transcript{secrets: map[string]bool{}}

// Write receives log output.
func (tr *transcript) Write(p []byte) (int, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.text.Write(p)
}

// addErr records an error in the forms a caller might print it.
func (tr *transcript) addErr(err error) {
	if err == nil {
		return
	}
	fmt.Fprintf(tr, "error: %v | %+v | %#v | %q\n", err, err, err, err)
}

// addSecret notes secrets to search for.
func (tr *transcript) addSecret(secrets ...string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, s := range secrets {
		if s != "" {
			tr.secrets[s] = true
		}
	}
}

// leaks returns the secrets found in text.
func leaks(text string, secrets map[string]bool) []string {
	var found []string
	for s := range secrets {
		if strings.Contains(text, s) {
			found = append(found, s)
		}
	}
	return found
}

func TestMain(m *testing.M) {
	code := m.Run()
	suite.mu.Lock()
	text, n := suite.text.String(), len(suite.secrets)
	found := leaks(text, suite.secrets)
	suite.mu.Unlock()
	switch {
	case len(found) > 0:
		fmt.Fprintf(os.Stderr, "FAIL: the secret-redaction search found %d secrets in errors and logs, e.g. one %d bytes long\n", len(found), len(found[0]))
		code = 1
	case code == 0 && flag.Lookup("test.run").Value.String() == "" && (n < 10 || len(text) < 1000):
		// A full run must have given the search something to search.
		fmt.Fprintf(os.Stderr, "FAIL: the secret-redaction search saw %d secrets and %d bytes of text\n", n, len(text))
		code = 1
	}
	os.Exit(code)
}

func TestLeakSearchFindsSecrets(t *testing.T) {
	// The search itself must work, or TestMain proves nothing.
	secrets := map[string]bool{"eyJhbGciOiJIUzI1NiJ9.e30.sig": true, "hunter22": true}
	if got := leaks(`level=DEBUG msg=x url=/v1/token?token=eyJhbGciOiJIUzI1NiJ9.e30.sig`, secrets); len(got) != 1 {
		t.Errorf("leaks found %v, want the token", got)
	}
	if got := leaks("nothing here", secrets); len(got) != 0 {
		t.Errorf("leaks found %v in clean text", got)
	}
}

// testLogger logs everything to the suite's transcript.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(suite, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// sleeps records the waits a client asks for, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// newServer starts a fake API closed at the end of the test; its tokens and
// passwords join the secrets the suite searches for.
func newServer(t *testing.T, opts ...woleettest.Option) *woleettest.Server {
	t.Helper()
	srv := woleettest.NewServer(opts...)
	suite.addSecret(woleettest.DefaultPassword, strings.TrimPrefix(basicHeader(woleettest.DefaultEmail, woleettest.DefaultPassword), "Basic "))
	t.Cleanup(func() {
		srv.Close()
		for _, rec := range srv.Tokens() {
			suite.addSecret(rec.Token)
		}
		for _, r := range srv.Requests() {
			fmt.Fprintf(suite, "server request: %+v\n", r)
		}
	})
	return srv
}

// newClient returns a client of srv, as the default user, that logs to the
// transcript, has no rate limit and records its retry waits in sl (if not
// nil) instead of sleeping; opts come last.
func newClient(t *testing.T, srv *woleettest.Server, sl *sleeps, opts ...woleet.Option) *woleet.Client {
	t.Helper()
	base := []woleet.Option{woleet.WithLogger(testLogger()), woleet.WithRateLimit(rate.Inf, 0)}
	if sl != nil {
		base = append(base, woleet.WithClock(time.Now, sl.sleep))
	}
	return srv.Client(append(base, opts...)...)
}

// countRequests counts the server's requests with this method and path
// (below the prefix).
func countRequests(srv *woleettest.Server, method, path string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == method && r.Path == woleettest.PathPrefix+path {
			n++
		}
	}
	return n
}

// wantErrIs fails unless err matches every target; it records err in the
// transcript.
func wantErrIs(t *testing.T, err error, targets ...error) {
	t.Helper()
	suite.addErr(err)
	if err == nil {
		t.Fatalf("got no error, want one matching %v", targets)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Errorf("error %q does not match %v", err, target)
		}
	}
}

// wantErrIsNot fails if err matches target.
func wantErrIsNot(t *testing.T, err error, target error) {
	t.Helper()
	if errors.Is(err, target) {
		t.Errorf("error %q matches %v, want it not to", err, target)
	}
}

// noErr fails on err and records it.
func noErr(t *testing.T, err error) {
	t.Helper()
	suite.addErr(err)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// basicHeader is the Authorization header value for Basic credentials.
func basicHeader(email, password string) string {
	r, _ := http.NewRequest("GET", "http://x", nil)
	r.SetBasicAuth(email, password)
	return r.Header.Get("Authorization")
}
