// Package redact removes credentials from text before it is shown or
// stored: [JWTs] replaces everything shaped like a compact JWS or JWE by
// its short fingerprint.
//
// The CLI passes every error message it prints through it, so that an API
// error body that quotes a token does not put the token on a terminal or
// in a log.
package redact

import (
	"strings"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// JWTs replaces everything in s shaped like a token (see [Find]) by
// "[token sha256:…]" with its short fingerprint, so that the message
// still names the token without holding the credential.
func JWTs(s string) string {
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
		b.WriteString("[token sha256:" + jwtinspect.ShortFingerprint(jwtinspect.Fingerprint(s[start:end])) + "]")
		s = s[end:]
	}
}

// Find returns the byte span [start, end) of the first thing in s shaped
// like a compact JWS or JWE: a Base64url segment starting "eyJ" (an
// encoded '{"'), then at least one more non-empty segment and a second dot
// (the signature may be empty, as for alg "none"). It returns -1, -1 when
// there is none.
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

// isB64URL reports whether c is in the Base64url alphabet.
func isB64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
