package jwtinspect

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Severity ranks a [Finding].
type Severity string

// Severities, from the most to the least serious.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
	SeverityInfo     Severity = "info"
)

// Rank orders severities: critical is 4, info is 0, and an unknown severity -1.
func (s Severity) Rank() int {
	switch s {
	case SeverityCritical:
		return 4
	case SeverityHigh:
		return 3
	case SeverityMedium:
		return 2
	case SeverityLow:
		return 1
	case SeverityInfo:
		return 0
	}
	return -1
}

// Finding is one observation about a token: a stable ID that scripts can
// match, a severity and a message for people. Messages never contain the
// token, only header values, claim names and dates.
type Finding struct {
	ID       string   `json:"id"`       // one of the Finding* constants
	Severity Severity `json:"severity"` // how serious it is
	Message  string   `json:"message"`  // what was found, for people
}

// Finding IDs. They are a contract: the CLI prints them and users script
// against them; the package documentation describes each one.
const (
	FindingAlgNone            = "alg-none"
	FindingAlgMissing         = "alg-missing"
	FindingAlgUnknown         = "alg-unknown"
	FindingNoneWithSignature  = "none-with-signature"
	FindingCritUnknown        = "crit-unknown"
	FindingKidSuspicious      = "kid-suspicious"
	FindingJKUPresent         = "jku-present"
	FindingX5UPresent         = "x5u-present"
	FindingJWKEmbedded        = "jwk-embedded"
	FindingDuplicateMember    = "duplicate-member"
	FindingNonCanonicalBase64 = "non-canonical-base64"
	FindingInvalidUTF8        = "invalid-utf8"
	FindingNoExpiry           = "no-expiry"
	FindingExpired            = "expired"
	FindingNotYetValid        = "not-yet-valid"
	FindingNumericDateInvalid = "numeric-date-invalid"
	FindingExpBeforeIat       = "exp-before-iat"
	FindingJWE                = "jwe"
	FindingNotJSONPayload     = "not-json-payload"
	FindingCDataTooLong       = "cdata-too-long"
)

// allFindingIDs lists every finding ID, for tests and documentation.
var allFindingIDs = []string{
	FindingAlgNone, FindingAlgMissing, FindingAlgUnknown, FindingNoneWithSignature,
	FindingCritUnknown, FindingKidSuspicious, FindingJKUPresent, FindingX5UPresent,
	FindingJWKEmbedded, FindingDuplicateMember, FindingNonCanonicalBase64, FindingInvalidUTF8,
	FindingNoExpiry, FindingExpired, FindingNotYetValid, FindingNumericDateInvalid,
	FindingExpBeforeIat, FindingJWE, FindingNotJSONPayload, FindingCDataTooLong,
	FindingAlgConfusion, FindingWeakHMACKey, FindingWeakHMACSecret,
}

// MaxCDataLength is the longest cdata, in characters, that the Woleet API
// accepts; a longer one gets a cdata-too-long finding.
const MaxCDataLength = 64

// HasFinding reports whether the token has a finding with this ID.
func (t *Token) HasFinding(id string) bool {
	return slices.ContainsFunc(t.Findings, func(f Finding) bool { return f.ID == id })
}

// MaxSeverity returns the most serious severity among the findings, or ""
// when there are none.
func (t *Token) MaxSeverity() Severity {
	var max Severity
	for _, f := range t.Findings {
		if max == "" || f.Severity.Rank() > max.Rank() {
			max = f.Severity
		}
	}
	return max
}

func (t *Token) add(id string, sev Severity, msg string) {
	t.Findings = append(t.Findings, Finding{ID: id, Severity: sev, Message: msg})
}

// jwsAlgs are the "alg" values registered for JWS (RFC 7518 §3.1, RFC 8037,
// RFC 8812 and the fully-specified Ed25519/Ed448 of RFC 9864).
var jwsAlgs = []string{
	"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
	"ES256", "ES384", "ES512", "PS256", "PS384", "PS512",
	"none", "EdDSA", "ES256K", "Ed25519", "Ed448",
}

// jweAlgs are the "alg" values registered for JWE key management (RFC 7518 §4.1).
var jweAlgs = []string{
	"RSA1_5", "RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512",
	"A128KW", "A192KW", "A256KW", "dir",
	"ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW",
	"A128GCMKW", "A192GCMKW", "A256GCMKW",
	"PBES2-HS256+A128KW", "PBES2-HS384+A192KW", "PBES2-HS512+A256KW",
}

// headerView is the JOSE header of one signature (or of a JWE): the
// protected and unprotected parameters, which RFC 7515 requires to be disjoint.
type headerView struct {
	where       string // "" for a lone signature, "signature 2: " for later ones
	protected   map[string]any
	unprotected map[string]any
	jwe         bool
	signed      bool // the signature is not empty
}

// headerParams are the parameters checkHeader looks at, in one pass over
// each header rather than a lookup per name. [Summary.Parse] gathers them from
// the header's JSON text instead.
type headerParams struct {
	alg                     string // the value when algIsStr
	crit, kid               any
	hasAlg, hasCrit, hasKid bool
	algIsStr                bool
	hasJKU, hasX5U, hasJWK  bool
}

// collect reads the parameters of one header; called on the unprotected
// header first, so that the protected values win.
func (hp *headerParams) collect(m map[string]any) {
	for k, v := range m {
		switch k {
		case "alg":
			hp.alg, hp.algIsStr = v.(string)
			hp.hasAlg = true
		case "crit":
			hp.crit, hp.hasCrit = v, true
		case "kid":
			hp.kid, hp.hasKid = v, true
		case "jku":
			hp.hasJKU = true
		case "x5u":
			hp.hasX5U = true
		case "jwk":
			hp.hasJWK = true
		}
	}
}

// checkHeader adds the findings about one JOSE header.
func (t *Token) checkHeader(h headerView) {
	if len(h.unprotected) > 0 {
		for _, k := range slices.Sorted(maps.Keys(h.unprotected)) {
			if _, ok := h.protected[k]; ok {
				t.add(FindingDuplicateMember, SeverityMedium,
					fmt.Sprintf("%sheader parameter %s is in both the protected and the unprotected header; the protected value is used", h.where, quoteShort(k)))
			}
		}
	}
	var p headerParams
	p.collect(h.unprotected)
	p.collect(h.protected)
	t.checkParams(h, &p)
}

// checkParams adds the findings about the parameters of one JOSE header;
// h says where the header is and what it belongs to (its maps are not read).
func (t *Token) checkParams(h headerView, p *headerParams) {
	alg := p.alg
	registered, family := jwsAlgs, "JWS"
	if h.jwe {
		registered, family = jweAlgs, "JWE"
	}
	switch {
	case !p.hasAlg:
		t.add(FindingAlgMissing, SeverityHigh, h.where+"the header has no \"alg\"")
	case !p.algIsStr:
		t.add(FindingAlgUnknown, SeverityMedium, h.where+"\"alg\" is not a string")
	case !h.jwe && strings.EqualFold(alg, "none"):
		t.add(FindingAlgNone, SeverityCritical,
			fmt.Sprintf("%salg is %q: the token is not signed and anyone can forge it", h.where, alg))
		if h.signed {
			t.add(FindingNoneWithSignature, SeverityHigh,
				h.where+"alg is none but the token carries a signature: a verifier that trusts alg may skip it")
		}
	case !slices.Contains(registered, alg):
		t.add(FindingAlgUnknown, SeverityMedium,
			fmt.Sprintf("%salg %s is not a registered %s algorithm", h.where, quoteShort(alg), family))
	}
	if p.hasCrit {
		t.checkCrit(h.where, p.crit)
	}
	if p.hasKid {
		if why := kidSuspicion(p.kid); why != "" {
			t.add(FindingKidSuspicious, SeverityHigh,
				fmt.Sprintf("%skid %s %s: a verifier that uses kid in a path or query may be attacked", h.where, quoteShort(fmt.Sprint(p.kid)), why))
		}
	}
	if p.hasJKU {
		t.add(FindingJKUPresent, SeverityMedium,
			h.where+"the header names a key set URL (jku); a verifier that fetches it lets the sender choose the key (not followed)")
	}
	if p.hasX5U {
		t.add(FindingX5UPresent, SeverityMedium,
			h.where+"the header names a certificate URL (x5u); a verifier that fetches it lets the sender choose the key (not followed)")
	}
	if p.hasJWK {
		t.add(FindingJWKEmbedded, SeverityHigh,
			h.where+"the header embeds a key (jwk); a verifier that trusts it accepts anyone's signature")
	}
}

// checkCrit reports a "crit" header parameter: tokenaudit understands no
// JWS extension, so every name listed is one a verifier must reject.
func (t *Token) checkCrit(where string, v any) {
	list, ok := v.([]any)
	names := make([]string, 0, len(list))
	for _, e := range list {
		s, isStr := e.(string)
		if !isStr {
			ok = false
			break
		}
		names = append(names, strconv.Quote(s))
	}
	if !ok || len(list) == 0 {
		t.add(FindingCritUnknown, SeverityHigh, where+"\"crit\" is not a non-empty list of names; the token must be rejected")
		return
	}
	t.add(FindingCritUnknown, SeverityHigh,
		fmt.Sprintf("%scrit lists extensions that must be understood and that this tool does not implement: %s", where, strings.Join(names, ", ")))
}

// kidSuspicion says why a kid looks like an injection attempt, or returns "".
func kidSuspicion(v any) string {
	kid, ok := v.(string)
	if !ok {
		return "is not a string"
	}
	if len(kid) > 256 {
		return "is over 256 bytes"
	}
	for i := 0; i < len(kid); i++ {
		if c := kid[i]; c < 0x20 || c == 0x7f {
			return "contains a control character"
		}
	}
	switch {
	case strings.Contains(kid, "..") || strings.HasPrefix(kid, "/") || strings.ContainsRune(kid, '\\'):
		return "looks like a path traversal"
	case strings.ContainsAny(kid, "'\"`"):
		return "contains a quote"
	case strings.ContainsAny(kid, ";|") || strings.Contains(kid, "--") || strings.Contains(kid, "/*") || strings.Contains(kid, "$(") || sqlish(kid):
		return "looks like SQL or a shell command"
	}
	return ""
}

// sqlish reports whether s looks like an SQL injection that uses no quote
// or semicolon (those are reported on their own): "1 OR 1=1", "x UNION
// SELECT k", "sleep(5)".
func sqlish(s string) bool {
	l := strings.ToLower(s)
	words := strings.FieldsFunc(l, func(r rune) bool { return r < 'a' || r > 'z' })
	return slices.Contains(words, "union") && slices.Contains(words, "select") ||
		strings.ContainsRune(l, '=') && (slices.Contains(words, "or") || slices.Contains(words, "and")) ||
		strings.Contains(l, "sleep(") || strings.Contains(l, "benchmark(")
}

// quoteShort quotes s for a message, cut to 64 characters.
func quoteShort(s string) string {
	if utf8.RuneCountInString(s) > 64 {
		r := []rune(s)
		return strconv.Quote(string(r[:64])) + "…"
	}
	return strconv.Quote(s)
}
