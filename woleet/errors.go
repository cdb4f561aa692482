package woleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tokenaudit/tokenaudit/internal/tokentext"
)

// Sentinel errors, for [errors.Is]. The client never returns them bare: they
// are wrapped with the operation that failed and, for the status sentinels,
// carried by an [*APIError] whose Is method maps the status code to them.
var (
	// ErrOutcomeUnknown reports that a request that changes state may have
	// taken effect although no answer says so. For GenerateToken: the
	// request may have reached the server (it answered 5xx, or the
	// connection failed or timed out after the request was sent, or a 2xx
	// answer could not be read) and a token may exist that nobody holds;
	// record it and reconcile with ListTokens. For RevokeToken: the
	// request was sent but no answer came back (the connection failed or
	// timed out, or the server answered 5xx), or an attempt that may have
	// revoked the token was followed by one that failed (typically a retry
	// answered 400, the token being revoked already).
	ErrOutcomeUnknown = errors.New("outcome unknown: the request may have reached the server")
	// ErrNotSent reports that a request failed before any attempt could
	// reach the server: the rate limiter's wait or the context ended
	// first, or no connection could be made. The server did nothing.
	ErrNotSent = errors.New("not sent: no attempt reached the server")
	// ErrUnauthorized reports that the server answered 401 or 403.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrBadRequest reports that the server answered 400.
	ErrBadRequest = errors.New("bad request")
	// ErrRateLimited reports that the server answered 429 and the retries
	// ran out (or the context or the retry policy left no time to wait).
	ErrRateLimited = errors.New("rate limited")
	// ErrServerError reports that the server answered 5xx.
	ErrServerError = errors.New("server error")
	// ErrInvalidResponse reports a 2xx answer whose body does not follow
	// the API's specification: a token list that is null, missing or
	// misnamed, a token that is not a string, a body that is not JSON.
	// It is carried by an [*APIError] whose StatusCode is the 2xx status.
	ErrInvalidResponse = errors.New("the answer does not follow the API's specification")
	// ErrNoCredentials reports that [NewClient] was given neither
	// [WithBasicAuth] nor [WithBearerToken].
	ErrNoCredentials = errors.New("no credentials: use WithBasicAuth or WithBearerToken")
	// ErrInvalidCData reports cdata that the client refuses to send: longer
	// than [MaxCDataLength] code points (see [*CDataTooLongError]) or not
	// valid UTF-8.
	ErrInvalidCData = errors.New("invalid cdata")
)

// APIError is an answer from the API that the client does not accept: a
// non-2xx answer, or a 2xx answer whose body does not follow the API's
// specification ([ErrInvalidResponse]). It never holds a secret: Path is
// the request's URL path without its query (so the token given to
// RevokeToken is not in it), Message has every credential the client knows
// replaced by "[REDACTED]" and everything shaped like a JWT by its short
// fingerprint, and the excerpt of a 2xx body shows no string value (a
// token can be any string) but by its short fingerprint.
//
// Use [errors.Is] with [ErrBadRequest], [ErrUnauthorized], [ErrRateLimited],
// [ErrServerError] or [ErrInvalidResponse] to branch on the kind of
// failure, and [errors.As] to read the fields.
type APIError struct {
	// StatusCode is the HTTP status code, e.g. 400.
	StatusCode int
	// Method is the HTTP method, e.g. "DELETE".
	Method string
	// Path is the URL path, e.g. "/v1/token", without the query.
	Path string
	// Message is the server's message: the "message", "error.message" or
	// "error" (a string) member of a JSON body, or else a trimmed excerpt
	// of the body of at most [MaxMessageBytes] bytes. It may be empty. For
	// a 2xx answer ([ErrInvalidResponse]) it says what is wrong with the
	// answer and what the server sent, within the same bound.
	Message string
	// RetryAfter is the wait the server asked for with a Retry-After
	// header, or zero.
	RetryAfter time.Duration
}

// MaxMessageBytes bounds [APIError.Message].
const MaxMessageBytes = 512

// Error reads "METHOD PATH: STATUS TEXT: message".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.Path, e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Is maps the status code to the sentinel errors: 400 is [ErrBadRequest],
// 401 and 403 are [ErrUnauthorized], 429 is [ErrRateLimited], 5xx is
// [ErrServerError] and 2xx (an answer that does not follow the
// specification) is [ErrInvalidResponse].
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrInvalidResponse:
		return e.StatusCode >= 200 && e.StatusCode <= 299
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServerError:
		return e.StatusCode >= 500 && e.StatusCode <= 599
	}
	return false
}

// CDataTooLongError reports cdata longer than [MaxCDataLength] code points.
// GenerateToken returns it before sending any request. It matches
// [ErrInvalidCData] with [errors.Is].
type CDataTooLongError struct {
	// Length is the cdata's length in Unicode code points.
	Length int
}

// Error says how long the cdata is and what the limit is.
func (e *CDataTooLongError) Error() string {
	return fmt.Sprintf("cdata is %d characters long, more than the %d the API accepts", e.Length, MaxCDataLength)
}

// Is reports whether target is [ErrInvalidCData].
func (e *CDataTooLongError) Is(target error) bool { return target == ErrInvalidCData }

// redacted replaces every secret in a message.
const redacted = "[REDACTED]"

// redactor removes known secrets from text that came from outside (an error
// body) before it goes into an error or a log line.
type redactor []string

// redact replaces every non-empty secret in s, valid UTF-8 text, and the
// form clean gives it, with "[REDACTED]". It repeats until nothing changes, because a
// replacement can complete a new occurrence with the text around it, and
// gives up the whole text if that does not settle.
func (r redactor) redact(s string) string {
	for range 8 {
		before := s
		for _, secret := range r {
			for _, form := range [2]string{secret, clean(secret)} {
				// s is valid UTF-8: a form that is not could only
				// match inside a rune, and break it.
				if form != "" && utf8.ValidString(form) && !strings.Contains(redacted, form) {
					s = strings.ReplaceAll(s, form, redacted)
				}
			}
		}
		if s == before {
			return s
		}
	}
	return redacted
}

// parseErrorBody extracts the server's message from an error body: the
// "message", "error.message" or "error" (a string) member of a JSON object,
// else the body itself. The result has control characters and runs of white
// space collapsed to one space and invalid UTF-8 replaced, is redacted, and
// is cut to at most MaxMessageBytes bytes on a rune boundary (a cut cannot
// make a secret appear). Everything shaped like a JWT is replaced by its
// short fingerprint, as "[token sha256:…]".
func parseErrorBody(body []byte, r redactor) string {
	text := string(body)
	var v struct {
		Message json.RawMessage `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil {
		var nested struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(v.Message, &s) == nil && s != "":
			text = s
		case json.Unmarshal(v.Error, &nested) == nil && nested.Message != "":
			text = nested.Message
		case json.Unmarshal(v.Error, &s) == nil && s != "":
			text = s
		}
	}
	return strings.TrimSpace(truncate(tokentext.Redact(r.redact(clean(text))), MaxMessageBytes))
}

// clean replaces invalid UTF-8 with U+FFFD, turns control characters and
// white space into spaces, drops invisible format characters, collapses runs of spaces and trims the result,
// so that a hostile body cannot forge log lines or drive a terminal.
func clean(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if unicode.Is(unicode.Cf, r) { // bidi overrides and other invisible format characters
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// truncate cuts s to at most n bytes without splitting a rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
