package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The bounds on what the ledger keeps of a token's own text (see the
// package documentation, "Untrusted text").
const (
	// maxTokenText bounds a token's cdata and subject as recorded, in bytes.
	maxTokenText = 4 << 10
	// maxClaimsJSON bounds a token's claims as recorded in an event's
	// detail, in bytes of compact JSON; larger claims are kept as their
	// SHA-256 and size.
	maxClaimsJSON = 64 << 10
	// maxClaimsDepth bounds the nesting of the claims recorded in a
	// detail; deeper claims are kept as their SHA-256 and size (SQLite's
	// JSON functions refuse more than 1,000 levels).
	maxClaimsDepth = 64
)

// recordableText returns s in the form the ledger records text taken from a
// token (cdata, sub): s itself when it is valid UTF-8 with no NUL byte, no
// JWT-shaped part and at most maxTokenText bytes. Otherwise every JWT-shaped
// part is replaced by "[token sha256:…]" (its short fingerprint), each
// byte that is not valid UTF-8, and each NUL, by the visible escape \xNN,
// and the text is cut to maxTokenText bytes ending in "…"; changed reports
// that it was rewritten.
func recordableText(s string) (out string, changed bool) {
	if len(s) <= maxTokenText && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 && !containsJWT(s) {
		return s, false
	}
	r := redactJWTs(s)
	var b strings.Builder
	for i := 0; i < len(r); {
		c, size := utf8.DecodeRuneInString(r[i:])
		switch {
		case c == utf8.RuneError && size <= 1, c == 0:
			fmt.Fprintf(&b, `\x%02x`, r[i])
		default:
			b.WriteString(r[i : i+size])
		}
		i += size
	}
	return truncate(b.String(), maxTokenText-len("…")), true
}

// textOrigin describes, in an event's detail, text the ledger rewrote: the
// SHA-256 and byte length of the original, so that whoever holds it can
// match it to the record.
func textOrigin(original string) map[string]any {
	sum := sha256.Sum256([]byte(original))
	return map[string]any{"sha256": hex.EncodeToString(sum[:]), "bytes": len(original), "rewritten": true}
}

// recordableClaims returns the claims as the ledger records them in a
// detail: their compact JSON with JWT-shaped text redacted (see
// redactJWTs: a JWT shape holds no quote or backslash, so the JSON stays
// valid), or, when that is longer than maxClaimsJSON bytes or nested deeper
// than maxClaimsDepth, their SHA-256 and size in "claims_sha256" and
// "claims_size".
func recordableClaims(claims map[string]any, detail map[string]any) {
	b, err := json.Marshal(claims)
	if err != nil {
		detail["claims_omitted"] = "the claims could not be encoded as JSON"
		return
	}
	if len(b) > maxClaimsJSON || jsonDepth(b) > maxClaimsDepth {
		sum := sha256.Sum256(b)
		detail["claims_sha256"] = hex.EncodeToString(sum[:])
		detail["claims_size"] = len(b)
		return
	}
	if containsJWT(string(b)) {
		b = []byte(redactJWTs(string(b)))
		detail["claims_redacted"] = "JWT-shaped text replaced by its fingerprint"
	}
	detail["claims"] = json.RawMessage(b)
}

// iatMargin is how much earlier than its record a token's iat must be to
// count as evidence that the token is older than the record: less is clock
// granularity (iat has whole seconds) and skew, not age.
const iatMargin = time.Minute

// earlierIAT reports whether a token's iat is evidence that it existed
// before now, its recording: from 2000 on, and at least iatMargin before now.
func earlierIAT(iat *time.Time, now time.Time) bool {
	return iat != nil && iat.Year() >= 2000 && iat.Before(now.Add(-iatMargin))
}

// jsonDepth returns the deepest nesting of objects and arrays in the
// valid JSON text b.
func jsonDepth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
