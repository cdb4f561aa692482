package jwtinspect

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// FingerprintPrefix starts every fingerprint: it names the hash function.
const FingerprintPrefix = "sha256:"

// Normalize returns the token text that tokenaudit parses and fingerprints:
// surrounding white space removed, then a leading "Authorization: Bearer " or
// "Bearer " (either in any letter case) removed, then white space trimmed again.
// It never allocates; it returns a substring of token.
func Normalize(token string) string {
	t := strings.TrimSpace(token)
	t = trimPrefixFold(t, "authorization:")
	t = strings.TrimLeft(t, " \t")
	if len(t) > len("bearer") && (t[6] == ' ' || t[6] == '\t') {
		if u := trimPrefixFold(t, "bearer"); len(u) != len(t) {
			t = u
		}
	}
	return strings.TrimSpace(t)
}

// trimPrefixFold removes prefix from s when s starts with it, ignoring ASCII case.
func trimPrefixFold(s, prefix string) string {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):]
	}
	return s
}

// Fingerprint returns a token's identity: "sha256:" followed by the lowercase
// hex SHA-256 of the token as parsed (see [Normalize]). It is what tokenaudit
// stores and prints in place of the token, which never expires and so must
// never be written down. Fingerprint accepts any text, well-formed or not.
func Fingerprint(token string) string {
	sum := sha256.Sum256([]byte(Normalize(token)))
	var buf [len(FingerprintPrefix) + 2*sha256.Size]byte
	copy(buf[:], FingerprintPrefix)
	hex.Encode(buf[len(FingerprintPrefix):], sum[:])
	return string(buf[:])
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
