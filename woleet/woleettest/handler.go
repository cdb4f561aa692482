package woleettest

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// answer is what the server decided to send.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// jsonAnswer makes an answer with a JSON body.
func jsonAnswer(status int, v any) answer {
	b, err := json.Marshal(v)
	if err != nil {
		return answer{status: http.StatusInternalServerError, body: []byte(`{"message":"encoding the answer"}`)}
	}
	return answer{status: status, body: b}
}

// message is the JSON error body {"message": msg}.
func message(status int, msg string) answer {
	return jsonAnswer(status, struct {
		Message string `json:"message"`
	}{msg})
}

// serveHTTP is the API, and the control endpoint (see ControlPath).
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == ControlPath {
		s.serveControl(w, r)
		return
	}
	rec := Request{
		Method:    r.Method,
		Path:      r.URL.Path,
		Query:     redactQuery(r.URL.RawQuery),
		UserAgent: r.UserAgent(),
	}
	if scheme, _, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok {
		rec.Auth = strings.ToLower(scheme)
	}

	s.mu.Lock()
	rec.Time = s.now().UTC()
	var f *fault
	if len(s.faults) > 0 {
		f = &s.faults[0]
		s.faults = s.faults[1:]
	}
	var a answer
	switch {
	case f != nil && f.answer:
		rec.Fault = "answer"
		a = answer{status: f.status, header: f.header, body: f.body}
	case f != nil && !f.drop:
		rec.Fault = "fail"
		a = message(f.status, http.StatusText(f.status))
		a.header = f.header
	case s.randomFaultLocked(&a, &rec):
	case !s.allowLocked(r):
		rec.Fault = "ratelimit"
		a = message(http.StatusTooManyRequests, "too many requests")
	default:
		a = s.routeLocked(r, &rec)
		if f != nil {
			rec.Fault = "drop"
		}
	}
	if rec.Fault == "random-drop" {
		rec.Fault = "drop"
	}
	rec.Status = a.status
	if len(s.requests) >= MaxRequests {
		s.requests = slices.Delete(s.requests, 0, len(s.requests)-MaxRequests+1)
	}
	s.requests = append(s.requests, rec)
	latency := s.latency
	s.mu.Unlock()

	s.logger.LogAttrs(r.Context(), slog.LevelInfo, "woleettest request",
		slog.String("method", rec.Method), slog.String("path", rec.Path), slog.String("query", rec.Query),
		slog.Int("status", rec.Status), slog.String("user", rec.User), slog.String("fault", rec.Fault))

	if latency > 0 {
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.closed:
		}
	}
	if rec.Fault == "drop" {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		// Not hijackable (HTTP/2): abort the response instead, which
		// resets the stream without an answer.
		panic(http.ErrAbortHandler)
	}
	for k, v := range a.header {
		w.Header()[k] = v
	}
	if len(a.body) > 0 && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(a.status)
	w.Write(a.body)
}

// allowLocked applies the optional rate limit; s.mu is held.
func (s *Server) allowLocked(r *http.Request) bool {
	if s.limit <= 0 {
		return true
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	l, ok := s.limiters[ip]
	if !ok {
		l = rate.NewLimiter(s.limit, s.burst)
		s.limiters[ip] = l
	}
	return l.AllowN(s.now(), 1)
}

// routeLocked answers a request that no fault took; s.mu is held.
func (s *Server) routeLocked(r *http.Request, rec *Request) answer {
	var allow []string
	switch r.URL.Path {
	case PathPrefix + "/token":
		allow = []string{http.MethodGet, http.MethodDelete}
	case PathPrefix + "/user/tokens":
		allow = []string{http.MethodGet, http.MethodPut}
	default:
		return message(http.StatusNotFound, "not found")
	}
	if !slices.Contains(allow, r.Method) {
		a := message(http.StatusMethodNotAllowed, "method not allowed")
		a.header = http.Header{"Allow": {strings.Join(allow, ", ")}}
		return a
	}
	u := s.authenticateLocked(r)
	if u == nil {
		a := message(http.StatusUnauthorized, "unauthorized")
		challenge := `Basic realm="woleet"`
		if scheme, _, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); strings.EqualFold(scheme, "bearer") {
			challenge = `Bearer realm="woleet"`
		}
		a.header = http.Header{"Www-Authenticate": {challenge}}
		return a
	}
	rec.User = u.email
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return message(http.StatusBadRequest, "malformed query string")
	}
	switch {
	case r.URL.Path == PathPrefix+"/user/tokens" && r.Method == http.MethodPut:
		return s.putTokensLocked(r, u)
	case r.URL.Path == PathPrefix+"/user/tokens":
		return jsonAnswer(http.StatusOK, struct {
			Tokens []string `json:"tokens"`
		}{s.liveLocked(u.email)})
	case r.Method == http.MethodGet:
		cdata := query["cdata"]
		if len(cdata) > 1 {
			return message(http.StatusBadRequest, "cdata given more than once")
		}
		var c string
		if len(cdata) == 1 {
			c = cdata[0]
		}
		if msg := checkCData(c); msg != "" {
			return message(http.StatusBadRequest, msg)
		}
		tok, err := s.issueLocked(u, c)
		if err != nil {
			return message(http.StatusInternalServerError, "cannot issue a token")
		}
		return jsonAnswer(http.StatusOK, struct {
			Token string `json:"token"`
		}{tok})
	default: // DELETE /token
		toks := query["token"]
		if len(toks) != 1 || toks[0] == "" {
			return message(http.StatusBadRequest, "missing required query parameter: token")
		}
		t, ok := s.tokens[toks[0]]
		if !ok || t.Revoked || t.UserEmail != u.email {
			return message(http.StatusBadRequest, "unknown or already revoked token")
		}
		t.Revoked, t.RevokedAt = true, s.now().UTC()
		return answer{status: http.StatusOK}
	}
}

// authenticateLocked returns the user the request authenticates as, or
// nil; s.mu is held.
func (s *Server) authenticateLocked(r *http.Request) *user {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok {
		return nil
	}
	switch strings.ToLower(scheme) {
	case "basic":
		email, password, ok := r.BasicAuth()
		if !ok {
			return nil
		}
		u, known := s.users[email]
		if !known || subtle.ConstantTimeCompare([]byte(password), []byte(u.password)) != 1 {
			return nil
		}
		return u
	case "bearer":
		t, known := s.tokens[strings.TrimSpace(cred)]
		if !known || t.Revoked {
			return nil
		}
		return s.users[t.UserEmail]
	}
	return nil
}

// redactQuery replaces the value of every token parameter in a raw query
// with REDACTED, keeping the rest as sent.
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		key, _, _ := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if key == "token" {
			parts[i] = "token=REDACTED"
		}
	}
	return strings.Join(parts, "&")
}

// maxPutBody bounds the body of PUT /user/tokens.
const maxPutBody = 8 << 20

// putTokensLocked replaces u's list of tokens (PUT /user/tokens): every
// live token of u that the body leaves out is revoked; s.mu is held.
func (s *Server) putTokensLocked(r *http.Request, u *user) answer {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPutBody+1))
	if err != nil || len(body) > maxPutBody {
		return message(http.StatusBadRequest, "unreadable or too large request body")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return message(http.StatusBadRequest, "the body is not a JSON object")
	}
	raw, ok := members["tokens"]
	if !ok || len(members) != 1 {
		return message(http.StatusBadRequest, `the body must be {"tokens": [string, ...]}`)
	}
	var list []*string
	if err := json.Unmarshal(raw, &list); err != nil || list == nil {
		return message(http.StatusBadRequest, "tokens must be an array of strings")
	}
	keep := map[string]bool{}
	for _, t := range list {
		if t == nil || *t == "" {
			return message(http.StatusBadRequest, "tokens must hold non-empty strings")
		}
		rec, known := s.tokens[*t]
		if !known || rec.Revoked || rec.UserEmail != u.email {
			return message(http.StatusBadRequest, "unknown or already revoked token")
		}
		keep[*t] = true
	}
	now := s.now().UTC()
	for _, tok := range s.liveLocked(u.email) {
		if !keep[tok] {
			t := s.tokens[tok]
			t.Revoked, t.RevokedAt = true, now
		}
	}
	return answer{status: http.StatusOK}
}

// randomFaultLocked draws the random faults of WithRandomFaults: a failure
// sets a and returns true; a drop marks rec so that the request is
// processed and its connection dropped. s.mu is held.
func (s *Server) randomFaultLocked(a *answer, rec *Request) bool {
	f := s.random
	if f.FailRate > 0 && s.draws.Float64() < f.FailRate {
		rec.Fault = "fail"
		*a = message(f.FailStatus, http.StatusText(f.FailStatus))
		return true
	}
	if f.DropRate > 0 && s.draws.Float64() < f.DropRate {
		rec.Fault = "random-drop"
	}
	return false
}

// ControlPath is where the server takes faults to queue over HTTP, from
// loopback clients only: POST ControlPath?fault=fail&status=503&n=2 queues
// what [Server.FailNext] would, fault=drop what [Server.DropNext] would,
// and POST ControlPath?latency=200ms sets [Server.SetLatency]. It is how a
// trial against "tokenaudit emulator" injects a fault at a chosen moment.
const ControlPath = "/_woleettest/control"

// serveControl answers the control endpoint.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		http.Error(w, "the control endpoint answers loopback clients only", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	n := 1
	if v := q.Get("n"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 1000 {
			http.Error(w, "n must be from 1 to 1000", http.StatusBadRequest)
			return
		}
	}
	switch q.Get("fault") {
	case "fail":
		status, err := strconv.Atoi(q.Get("status"))
		if err != nil || status < 100 || status > 599 {
			http.Error(w, "status must be an HTTP status", http.StatusBadRequest)
			return
		}
		s.FailNext(n, status, nil)
	case "drop":
		s.DropNext(n)
	case "":
		if v := q.Get("latency"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				http.Error(w, "latency must be a duration", http.StatusBadRequest)
				return
			}
			s.SetLatency(d)
			break
		}
		http.Error(w, "give fault=fail&status=N, fault=drop, or latency=D", http.StatusBadRequest)
		return
	default:
		http.Error(w, "fault must be fail or drop", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
