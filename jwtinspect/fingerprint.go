package jwtinspect

import (
	"strings"
	"unicode"
)

// FingerprintPrefix starts every fingerprint: it names the hash function.
const FingerprintPrefix = "sha256:"

// Normalize returns the token text that tokenaudit parses and fingerprints:
// surrounding white space removed, then a leading "Authorization: Bearer "
// or "Bearer " (in any letter case, with any run of white space after each
// word) removed. It never allocates; it returns a substring of token.
func Normalize(token string) string {
	t, _ := normalize(token)
	return t
}

// normalize is Normalize that also returns the offset of the result in token.
func normalize(token string) (string, int) {
	if n := len(token); n > 0 && isPlainEdge(token[0]) && isPlainEdge(token[n-1]) &&
		token[0]|0x20 != 'a' && token[0]|0x20 != 'b' {
		return token, 0 // the common case: a bare token
	}
	t := strings.TrimSpace(token)
	if rest, ok := cutWordFold(t, "authorization:"); ok {
		if rest, ok := cutWordFold(rest, "bearer"); ok && rest != "" {
			t = rest
		}
	} else if rest, ok := cutWordFold(t, "bearer"); ok && rest != "" {
		t = rest
	}
	// Only the first TrimSpace trims on the right, so t ends where the
	// right-trimmed input ends.
	return t, len(strings.TrimRightFunc(token, unicode.IsSpace)) - len(t)
}

// isPlainEdge reports whether c, at either end of the input, is certainly
// neither white space nor part of a multi-byte character.
func isPlainEdge(c byte) bool { return c > ' ' && c < 0x7f }

// cutWordFold removes a leading word (ASCII case ignored) and the white
// space after it from s; ok is false unless s starts with the word followed
// by white space (or, for a word ending in ':', by anything).
func cutWordFold(s, word string) (rest string, ok bool) {
	if len(s) < len(word) || !strings.EqualFold(s[:len(word)], word) {
		return s, false
	}
	rest = s[len(word):]
	trimmed := strings.TrimLeftFunc(rest, unicode.IsSpace)
	if len(trimmed) == len(rest) && !strings.HasSuffix(word, ":") {
		return s, false
	}
	return trimmed, true
}

// Fingerprint returns a token's identity: "sha256:" followed by the lowercase
// hex SHA-256 of the token as parsed (see [Normalize]). It is what tokenaudit
// stores and prints in place of the token, which never expires and so must
// never be written down. Fingerprint accepts any text, well-formed or not.
func Fingerprint(token string) string {
	return fingerprintNormalized(Normalize(token))
}

// ShortFingerprint returns the first 12 hex digits of a fingerprint, the form
// tables show. It accepts a fingerprint with or without the "sha256:" prefix.
func ShortFingerprint(fingerprint string) string {
	h := strings.TrimPrefix(fingerprint, FingerprintPrefix)
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}
