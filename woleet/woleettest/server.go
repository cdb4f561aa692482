// Package woleettest provides an in-process fake of the Woleet token API,
// for tests and demos, in the spirit of net/http/httptest.
//
// [NewServer] starts one on 127.0.0.1 with a default user ([DefaultEmail],
// [DefaultPassword]); [Server.Client] returns a [woleet.Client] wired to it:
//
//	srv := woleettest.NewServer()
//	defer srv.Close()
//	tok, err := srv.Client().GenerateToken(ctx, woleet.GenerateTokenOptions{CData: "ci"})
//
// # What it implements
//
// GET /token, DELETE /token and GET /user/tokens under the path prefix
// [PathPrefix], so that [Server.URL] is like "http://127.0.0.1:PORT/v1" and
// a client that drops the base URL's path fails. Basic and Bearer
// authentication are enforced; a Bearer token is a token this server issued
// and has not revoked. Tokens are real JWTs, signed HS256 (default) or
// ES256 ([WithES256Key]), with the claims sub (the user's id), iat, jti and
// cdata (when given), and no exp; [Server.VerificationKey] returns the key
// that verifies them. With [WithOpaqueTokens] tokens are opaque strings
// instead, as the specification (which types a token as a string) allows. See [Server] for the choices made where the API's
// specification is silent.
//
// To serve on an address of one's choosing (an emulator, say), take
// [NewUnstartedServer], replace its Listener, and call [Server.Start].
//
// # Inspecting and injecting faults
//
// [Server.Requests] records each request (method, path, status; secrets
// redacted), [Server.Tokens], [Server.LiveTokens] and [Server.Revoked] show
// the server's state, and [Server.IssueDirect] and [Server.RevokeDirect]
// change it behind a client's back. [Server.FailNext] answers the next
// requests with an error status, [Server.AnswerNext] with any status and
// body (one the specification does not allow, say), [Server.DropNext] processes them and then
// drops the connection without answering, [Server.SetLatency] delays
// answers, and [WithRateLimit] refuses requests beyond a rate with 429.
package woleettest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/time/rate"

	"github.com/tokenaudit/tokenaudit/woleet"
)

// The default user, which every new server has.
const (
	// DefaultEmail is the default user's email.
	DefaultEmail = "user@example.com"
	// DefaultPassword is the default user's password.
	DefaultPassword = "woleettest-password"
)

// PathPrefix is the path under which the server answers, as the real API
// answers under /v1.
const PathPrefix = "/v1"

// Server is a fake Woleet API. It is safe for concurrent use.
//
// Where the API's specification is silent, it chooses:
//   - Every error answer has a JSON body {"message": "…"}; a 401 has a
//     WWW-Authenticate header (see below).
//   - An empty cdata parameter (?cdata=) is the same as none: the token has
//     no cdata claim. A cdata parameter given twice is a 400, as is cdata
//     that is not valid UTF-8 or longer than 64 code points.
//   - DELETE /token of a token of another user is a 400, like an unknown
//     token, so that a user cannot probe for others' tokens.
//   - GET /user/tokens lists the user's live tokens in the order they were
//     issued.
//   - PUT /user/tokens replaces the user's list of tokens: every live token
//     of the user the new list leaves out is revoked (dropped outside the
//     client's DELETE, as another tool would). The body must be exactly
//     {"tokens": [string, …]} and name only live tokens of the user;
//     anything else is a 400 that changes nothing.
//   - A 401 to a request with Bearer credentials challenges Bearer, one
//     with Basic or none challenges Basic.
//   - Unknown paths are a 404, other methods a 405 with an Allow header.
//   - Faults ([Server.FailNext], [Server.AnswerNext], [Server.DropNext]) apply to the next
//     requests whatever their path, before authentication; rate limiting
//     ([WithRateLimit]) is per client IP address and answers 429 without
//     Retry-After, as Woleet documents none.
type Server struct {
	// URL is the base URL of the API, with PathPrefix and no trailing
	// slash, e.g. "http://127.0.0.1:41234/v1". It is set by Start.
	URL string
	// Listener is where the server listens. NewUnstartedServer opens one on
	// 127.0.0.1:0; replace it (for instance with a listener on a chosen
	// loopback port) before calling Start.
	Listener net.Listener

	hs        *httptest.Server
	started   bool
	closeOnce sync.Once
	closed    chan struct{}

	now       func() time.Time
	logger    *slog.Logger
	alg       jose.SignatureAlgorithm
	verifyKey any
	signer    jose.Signer
	limit     rate.Limit
	burst     int
	opaque    bool
	random    RandomFaults

	mu       sync.Mutex
	draws    *mrand.Rand      // for random faults
	users    map[string]*user // by email
	tokens   map[string]*TokenRecord
	order    []*TokenRecord // issue order
	faults   []fault
	requests []Request
	latency  time.Duration
	limiters map[string]*rate.Limiter // by client IP
}

// user is an account of the fake.
type user struct {
	id       string
	email    string
	password string
}

// NewServer starts and returns a new server with the default user. The
// caller should call Close when finished. Like httptest.NewServer, it
// panics if an option is invalid or the server cannot listen.
func NewServer(opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	s.Start()
	return s
}

// NewUnstartedServer returns a new server, with the default user, that is
// not started yet: replace its Listener if need be, then call Start. The
// caller should call Close when finished. It panics if an option is
// invalid.
func NewUnstartedServer(opts ...Option) *Server {
	cfg := config{now: time.Now, logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&cfg)
	}
	s := &Server{
		closed:   make(chan struct{}),
		now:      cfg.now,
		logger:   cfg.logger,
		limit:    cfg.limit,
		burst:    cfg.burst,
		opaque:   cfg.opaque,
		random:   cfg.random,
		draws:    mrand.New(mrand.NewPCG(cfg.random.Seed, 0x746f6b656e)),
		users:    map[string]*user{},
		tokens:   map[string]*TokenRecord{},
		limiters: map[string]*rate.Limiter{},
	}
	var key jose.SigningKey
	switch {
	case cfg.ecKey != nil || cfg.es256:
		k := cfg.ecKey
		if k == nil {
			var err error
			if k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
				panic(fmt.Sprintf("woleettest: generating an ES256 key: %v", err))
			}
		}
		if k.Curve != elliptic.P256() {
			panic("woleettest: WithES256Key: the key is not on the P-256 curve")
		}
		key = jose.SigningKey{Algorithm: jose.ES256, Key: k}
		s.verifyKey = &k.PublicKey
	default:
		k := cfg.hmacKey
		if k == nil {
			k = make([]byte, 32)
			rand.Read(k)
		}
		if len(k) < 32 {
			panic(fmt.Sprintf("woleettest: WithHS256Key: the key is %d bytes, HS256 needs at least 32", len(k)))
		}
		key = jose.SigningKey{Algorithm: jose.HS256, Key: k}
		s.verifyKey = k
	}
	s.alg = key.Algorithm
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		panic(fmt.Sprintf("woleettest: making the signer: %v", err))
	}
	s.signer = signer
	s.AddUser(DefaultEmail, DefaultPassword)
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.Listener = s.hs.Listener
	return s
}

// Start starts a server from NewUnstartedServer on its Listener. It panics
// if the server was started or closed already.
func (s *Server) Start() {
	select {
	case <-s.closed:
		panic("woleettest: Start after Close")
	default:
	}
	if s.started {
		panic("woleettest: Server already started")
	}
	s.started = true
	if s.Listener != s.hs.Listener {
		s.hs.Listener.Close()
		s.hs.Listener = s.Listener
	}
	s.hs.Start()
	s.URL = s.hs.URL + PathPrefix
}

// Close shuts the server down: it stops listening, cuts short any latency
// being applied, and waits for the requests in flight. It may be called
// more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.hs.Close()
	})
}

// ClientOptions returns the options that wire a [woleet.Client] to this
// server (its URL and an HTTP client for it), without credentials:
//
//	c, err := woleet.NewClient(append(srv.ClientOptions(), woleet.WithBearerToken(tok))...)
//
// Call it after Start.
func (s *Server) ClientOptions() []woleet.Option {
	return []woleet.Option{woleet.WithBaseURL(s.URL), woleet.WithHTTPClient(s.hs.Client())}
}

// Client returns a [woleet.Client] wired to this server and authenticated
// as the default user with Basic authentication; opts come after and may
// override anything but the credentials. As a test helper it panics if the
// options are invalid. Call it after Start.
func (s *Server) Client(opts ...woleet.Option) *woleet.Client {
	all := append(s.ClientOptions(), woleet.WithBasicAuth(DefaultEmail, DefaultPassword))
	c, err := woleet.NewClient(append(all, opts...)...)
	if err != nil {
		panic(fmt.Sprintf("woleettest: Client: %v", err))
	}
	return c
}

// Algorithm returns the tokens' signature algorithm, "HS256" or "ES256".
func (s *Server) Algorithm() string { return string(s.alg) }

// VerificationKey returns the key that verifies the tokens' signatures: a
// copy of the HMAC key ([]byte) for HS256, the *ecdsa.PublicKey for ES256.
func (s *Server) VerificationKey() any {
	if k, ok := s.verifyKey.([]byte); ok {
		return slices.Clone(k)
	}
	return s.verifyKey
}
