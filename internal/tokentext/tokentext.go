// Package tokentext says what text is, or holds, a token: it finds text
// shaped like a compact JWT ([Find], [Contains]) and replaces it by its
// fingerprint ([Redact]), and it tells an opaque token (one that is not a
// JWT) from garbage ([Opaque]). The ledger (package audit), the API client
// (package woleet) and the CLI share it, so that they agree.
package tokentext

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// FindingNotAJWT is the finding that a token is not a JWT: an opaque token,
// recorded by fingerprint, with no cdata, subject or claims to read. The
// ledger writes it in an event's detail ("findings": ["not-a-jwt"]) and the
// CLI prints it.
const FindingNotAJWT = "not-a-jwt"

// MaxOpaqueLength is the longest text [Opaque] accepts, in bytes: 8 KiB,
// the longest request header line common HTTP servers accept, so that a
// longer text could not be sent as a Bearer credential anyway.
const MaxOpaqueLength = 8 << 10

// Opaque reports whether s is plausibly an opaque token, that is a token
// that is not a JWT: at most [MaxOpaqueLength] bytes of printable, non-space
// ASCII (0x21 to 0x7e) with no dot, that does not start like a JWT ("eyJ",
// an encoded `{"`) or a JSON serialization ("{").
//
// Anything else that is not a JWT is garbage: text with white space or
// other characters in it (a sentence, a line of a log), and text shaped
// like a JWT that does not parse as one (a truncated or mangled JWT, which
// must be reported as malformed, not taken for another token). A token
// the API issues is recorded whatever its text; this only decides what
// the CLI and an import accept as input.
func Opaque(s string) bool {
	if s == "" || len(s) > MaxOpaqueLength || s[0] == '{' || strings.HasPrefix(s, "eyJ") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '.' {
			return false
		}
	}
	return true
}

// Contains reports whether s contains something shaped like a compact JWS
// or JWE (see [Find]).
func Contains(s string) bool {
	start, _ := Find(s)
	return start >= 0
}

// Find returns the byte span [start, end) of the first thing in s shaped
// like a compact JWS or JWE: a Base64url segment starting "eyJ" (an encoded
// '{"'), then at least one more non-empty segment and a second dot (the
// signature may be empty, as for alg "none"). It returns -1, -1 when there
// is none.
func Find(s string) (start, end int) {
	for i := 0; ; {
		j := strings.Index(s[i:], "eyJ")
		if j < 0 {
			return -1, -1
		}
		start = i + j
		p, seg, dots := start, 0, 0
		for ; p < len(s); p++ {
			c := s[p]
			if isB64URL(c) {
				seg++
			} else if c == '.' && seg > 0 {
				dots++
				seg = 0
			} else {
				break
			}
		}
		if dots >= 2 {
			return start, p
		}
		i = start + 3
	}
}

// Redact replaces everything in s shaped like a token (see [Find]) by
// "[token sha256:…]" with its short fingerprint ([ShortFingerprint]), so
// that a message can be shown or recorded without the credential in it.
// Text without a token is returned as it is.
func Redact(s string) string {
	var b strings.Builder
	for {
		start, end := Find(s)
		if start < 0 {
			if b.Len() == 0 {
				return s
			}
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:start])
		b.WriteString(Placeholder(s[start:end]))
		s = s[end:]
	}
}

// Placeholder is what [Redact] puts in place of a token:
// "[token sha256:" and its short fingerprint, then "]".
func Placeholder(token string) string {
	return "[token sha256:" + ShortFingerprint(token) + "]"
}

// ShortFingerprint returns the first 12 hex digits of the SHA-256 of the
// token's bytes. For a token without surrounding white space or a Bearer
// prefix (anything [Find] returns is one), that is the short form of its
// jwtinspect fingerprint, which the ledger and the CLI show.
func ShortFingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:6])
}

// isB64URL reports whether c is in the Base64url alphabet.
func isB64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
