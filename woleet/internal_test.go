package woleet

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestParseErrorBody(t *testing.T) {
	long := strings.Repeat("x", 2000)
	tests := []struct {
		name, body, want string
	}{
		{"message", `{"message":"cdata is too long"}`, "cdata is too long"},
		{"error object", `{"error":{"message":"bad token","code":12}}`, "bad token"},
		{"error string", `{"error":"invalid request"}`, "invalid request"},
		{"message wins over error", `{"message":"m","error":"e"}`, "m"},
		{"empty message falls back to error", `{"message":"","error":"e"}`, "e"},
		{"message not a string", `{"message":42}`, `{"message":42}`},
		{"unknown JSON kept as text", `{"code":7}`, `{"code":7}`},
		{"JSON array kept as text", `["a"]`, `["a"]`},
		{"plain text trimmed", "  Too many\r\n  requests \n", "Too many requests"},
		{"empty", "", ""},
		{"only space", " \n\t ", ""},
		{"control characters", "a\x1b[31mred\x00b", "a [31mred b"},
		{"bidi override dropped", "abc\u202edef", "abcdef"},
		{"invalid UTF-8 replaced", "a\xffb", "a\uFFFDb"},
		{"line separator", "one\u2028two", "one two"},
		{"long body cut", long, long[:MaxMessageBytes]},
		{"long message cut", `{"message":"` + long + `"}`, long[:MaxMessageBytes]},
		{"secret in message", `{"message":"token s3cr3t -token is unknown"}`, "token [REDACTED] is unknown"},
		{"secret in text", "Authorization: Basic czNjcjN0", "Authorization: Basic [REDACTED]"},
		{"secret split by white space", "s3cr3t\n-token", "[REDACTED]"},
		{"replacement completing a secret", "]x]x]", "[REDACTED[REDACTED]"},
	}
	r := redactor{"s3cr3t -token", "czNjcjN0", "", "]x]"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseErrorBody([]byte(tt.body), r); got != tt.want {
				t.Errorf("parseErrorBody(%q) = %q, want %q", tt.body, got, tt.want)
			}
		})
	}
}

func TestTruncateKeepsRunes(t *testing.T) {
	s := strings.Repeat("日", 400) // 1200 bytes
	got := truncate(s, MaxMessageBytes)
	if len(got) > MaxMessageBytes || !utf8.ValidString(got) {
		t.Fatalf("truncate: %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
	if want := strings.Repeat("日", MaxMessageBytes/3); got != want {
		t.Errorf("truncate cut at %d bytes, want %d", len(got), len(want))
	}
	if got := truncate("short", 10); got != "short" {
		t.Errorf("truncate(short) = %q", got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"3", 3 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999", 0, false}, // does not fit int64
		{"9223372036854775807", 1<<63 - 1, true},
		{now.Add(90 * time.Second).Format(timeFormatGMT), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(timeFormatGMT), 0, true},
		{"Sunday, 01-Mar-26 12:00:05 GMT", 5 * time.Second, true}, // RFC 850
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

const timeFormatGMT = "Mon, 02 Jan 2006 15:04:05 GMT"

func TestBackoff(t *testing.T) {
	p := DefaultRetryPolicy()
	noJitter := func(int64) int64 { return 0 }
	fullJitter := func(max int64) int64 { return max - 1 }
	for n, want := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second, 4: 4 * time.Second} {
		if got := p.backoff(n, noJitter); got != want {
			t.Errorf("backoff(%d) without jitter = %v, want %v", n, got, want)
		}
		if got, max := p.backoff(n, fullJitter), want+want/2; got != max-1 {
			t.Errorf("backoff(%d) with full jitter = %v, want %v", n, got, max-1)
		}
	}
	if got := p.backoff(30, fullJitter); got != p.MaxDelay {
		t.Errorf("backoff(30) = %v, want the cap %v", got, p.MaxDelay)
	}
	if got := (RetryPolicy{MaxAttempts: 3}).backoff(2, fullJitter); got != 0 {
		t.Errorf("backoff with zero base = %v, want 0", got)
	}
	// The production jitter stays in range.
	for range 1000 {
		if d := p.backoff(1, randJitter); d < 500*time.Millisecond || d >= 750*time.Millisecond {
			t.Fatalf("backoff(1) = %v, want in [0.5s, 0.75s)", d)
		}
	}
}

// fingerprintMark matches what the redaction puts in place of a token.
var fingerprintMark = regexp.MustCompile(`\[(token|redacted) sha256:[0-9a-f]{12}\]`)

// FuzzParseErrorBody: any body gives a short, clean, redacted message.
// Seeds: testdata/fuzz/FuzzParseErrorBody.
func FuzzParseErrorBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, secret string) {
		got := parseErrorBody(body, redactor{secret})
		if len(got) > MaxMessageBytes || !utf8.ValidString(got) {
			t.Fatalf("message of %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
		}
		if got != strings.TrimSpace(got) {
			t.Fatalf("message %q not trimmed", got)
		}
		for _, r := range got {
			if unicode.IsControl(r) {
				t.Fatalf("message %q holds control character %U", got, r)
			}
		}
		// Neither the secret nor its cleaned form survives, unless it
		// is part of the replacement itself, or of the fingerprint that
		// replaces a token-shaped part ("[token sha256:0123456789ab]").
		rest := fingerprintMark.ReplaceAllString(got, "")
		for _, form := range []string{secret, clean(secret)} {
			if form != "" && utf8.ValidString(form) && !strings.Contains(redacted, form) && strings.Contains(rest, form) {
				t.Fatalf("message %q holds the secret %q", got, form)
			}
		}
	})
}

// FuzzParseRetryAfter: any header value gives a non-negative wait or none.
// Seeds: testdata/fuzz/FuzzParseRetryAfter.
func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("parseRetryAfter(%q) = %v, %v", v, d, ok)
		}
	})
}
