package woleettest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/tokenaudit/tokenaudit/woleet"
)

// TokenRecord is what the server knows of a token it issued.
type TokenRecord struct {
	// Token is the compact JWT (an opaque token with [WithOpaqueTokens]):
	// a secret, in tests as in life.
	Token string
	// JTI is the token's "jti" claim (with [WithOpaqueTokens], the random
	// part of the token).
	JTI string
	// UserEmail and UserID name the user the token was issued to; UserID
	// is the token's "sub" claim.
	UserEmail, UserID string
	// CData is the token's "cdata" claim, "" when it has none.
	CData string
	// IssuedAt is the token's "iat", from the server's clock.
	IssuedAt time.Time
	// Revoked reports whether the token was revoked.
	Revoked bool
	// RevokedAt is when it was revoked, by the server's clock.
	RevokedAt time.Time
}

// Request is a request the server answered (or dropped), as
// [Server.Requests] records it. It holds no secret: no Authorization
// header, and the value of a token query parameter is "REDACTED".
type Request struct {
	// Time is when the server received the request, by its clock.
	Time time.Time
	// Method and Path are the request's, e.g. "DELETE" and "/v1/token".
	Method, Path string
	// Query is the raw (still encoded) query, with the value of every token
	// parameter replaced by "REDACTED".
	Query string
	// Auth is the authentication scheme presented, in lower case ("basic",
	// "bearer"), or "" for none.
	Auth string
	// User is the email of the authenticated user, "" if authentication
	// failed or did not happen.
	User string
	// UserAgent is the User-Agent header.
	UserAgent string
	// Status is the status sent, or the one that would have been sent if
	// the request had not been dropped.
	Status int
	// Fault is "fail" (FailNext), "answer" (AnswerNext), "drop"
	// (DropNext), "ratelimit" (WithRateLimit) or "" for none.
	Fault string
}

// Dropped reports whether the server processed the request and then closed
// the connection without answering.
func (r Request) Dropped() bool { return r.Fault == "drop" }

// Errors of the direct methods.
var (
	// ErrUnknownUser reports that no user has the email given.
	ErrUnknownUser = errors.New("woleettest: unknown user")
	// ErrUnknownToken reports a token the server never issued, or revoked.
	ErrUnknownToken = errors.New("woleettest: unknown or revoked token")
)

// AddUser adds a user, or changes the password of an existing one, and
// returns the user's id (the "sub" of its tokens). An email with a colon
// cannot log in with Basic authentication.
func (s *Server) AddUser(email, password string) (userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[email]; ok {
		u.password = password
		return u.id
	}
	u := &user{id: randomHex(12), email: email, password: password}
	s.users[email] = u
	return u.id
}

// UserID returns the id of the user with that email.
func (s *Server) UserID(email string) (id string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[email]; ok {
		return u.id, true
	}
	return "", false
}

// IssueDirect issues a token to a user as GET /token would, but without a
// request: nothing is recorded in Requests and no fault applies. It is how
// a test or a demo makes a token "behind the ledger's back".
func (s *Server) IssueDirect(email, cdata string) (string, error) {
	if msg := checkCData(cdata); msg != "" {
		return "", fmt.Errorf("woleettest: issue: %s", msg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[email]
	if !ok {
		return "", fmt.Errorf("woleettest: issue: %w", ErrUnknownUser)
	}
	return s.issueLocked(u, cdata)
}

// RevokeDirect revokes a token as DELETE /token would, but without a
// request.
func (s *Server) RevokeDirect(token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.tokens[token]
	if !ok || rec.Revoked {
		return fmt.Errorf("woleettest: revoke: %w", ErrUnknownToken)
	}
	rec.Revoked, rec.RevokedAt = true, s.now().UTC()
	return nil
}

// Tokens returns every token the server issued, revoked ones included, in
// the order it issued them.
func (s *Server) Tokens() []TokenRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TokenRecord, len(s.order))
	for i, rec := range s.order {
		out[i] = *rec
	}
	return out
}

// LiveTokens returns the tokens of the user with that email that are not
// revoked, in the order they were issued: what GET /user/tokens lists.
func (s *Server) LiveTokens(email string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.liveLocked(email)
}

// liveLocked is LiveTokens with s.mu held.
func (s *Server) liveLocked(email string) []string {
	out := []string{}
	for _, rec := range s.order {
		if rec.UserEmail == email && !rec.Revoked {
			out = append(out, rec.Token)
		}
	}
	return out
}

// Revoked reports whether the server issued token and then revoked it.
func (s *Server) Revoked(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.tokens[token]
	return ok && rec.Revoked
}

// MaxRequests bounds the record of [Server.Requests]: beyond it, the oldest
// requests are forgotten, so that a long-running emulator does not grow
// without end.
const MaxRequests = 100_000

// Requests returns the requests answered (or dropped) so far, in the order
// their answers were decided, at most the last [MaxRequests].
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// fault is one injected failure.
type fault struct {
	drop   bool
	status int
	header http.Header
	answer bool   // AnswerNext: send status, header and body as given
	body   []byte // AnswerNext's body
}

// FailNext answers the next n requests, whatever their path and before
// authentication, with status, the given headers (e.g. Retry-After) and a
// JSON message; nothing else happens. Faults queue up in the order given.
func (s *Server) FailNext(n int, status int, header http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{status: status, header: header.Clone()})
	}
}

// AnswerNext answers the next n requests, whatever their path and before
// authentication, with status, the given headers and exactly body (with
// Content-Type application/json unless header sets one): nothing else
// happens, no token is issued or revoked. It is how a test makes the API
// answer what the specification does not allow, such as {"tokens": null}
// with 200. Faults queue up in the order given, with those of FailNext and
// DropNext.
func (s *Server) AnswerNext(n int, status int, header http.Header, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{status: status, header: header.Clone(), body: slices.Clone(body), answer: true})
	}
}

// DropNext makes the next n requests be processed in full (a token is
// issued or revoked) and then closes their connections without answering:
// the lost-response case. Faults queue up in the order given.
func (s *Server) DropNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{drop: true})
	}
}

// SetLatency delays every answer by d, after the request has been
// processed: a client that gives up meanwhile leaves the work done, as
// with a real server. Zero turns it off.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// claims are the payload of an issued token, in this order.
type claims struct {
	Sub   string `json:"sub"`
	Iat   int64  `json:"iat"`
	Jti   string `json:"jti"`
	CData string `json:"cdata,omitempty"`
}

// issueLocked signs (or, with WithOpaqueTokens, makes up) and records a
// token; s.mu is held.
func (s *Server) issueLocked(u *user, cdata string) (string, error) {
	now := s.now().UTC()
	c := claims{Sub: u.id, Iat: now.Unix(), Jti: randomHex(16), CData: cdata}
	tok := OpaqueTokenPrefix + c.Jti
	if !s.opaque {
		var err error
		if tok, err = s.sign(c); err != nil {
			return "", err
		}
	}
	rec := &TokenRecord{Token: tok, JTI: c.Jti, UserEmail: u.email, UserID: u.id, CData: cdata, IssuedAt: time.Unix(c.Iat, 0).UTC()}
	s.tokens[tok] = rec
	s.order = append(s.order, rec)
	return tok, nil
}

// sign makes the compact JWT of claims c.
func (s *Server) sign(c claims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("woleettest: issue: %w", err)
	}
	jws, err := s.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("woleettest: issue: signing: %w", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("woleettest: issue: serializing: %w", err)
	}
	return tok, nil
}

// checkCData returns why the API would refuse cdata, or "".
func checkCData(cdata string) string {
	switch {
	case !utf8.ValidString(cdata):
		return "cdata is not valid UTF-8"
	case utf8.RuneCountInString(cdata) > woleet.MaxCDataLength:
		return fmt.Sprintf("cdata must be at most %d characters", woleet.MaxCDataLength)
	}
	return ""
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
