package jwtinspect

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Summary is a token as [Parse] reads it, less the decoded header and
// claims: its kind, algorithm, decoded parts, times, findings, cdata and
// fingerprint. It is for code that goes through tokens in bulk and needs the
// header and claims as JSON text rather than as maps, such as a JSON lines
// printer.
//
// [Summary.Parse] fills a Summary in a fraction of Parse's time, and reuses
// its memory from one call to the next, so that a loop over millions of
// tokens allocates almost nothing. What its methods return (byte slices,
// times, findings) stays valid until the next call of Parse on the same
// Summary; strings stay valid for ever. The zero value is ready to use; a
// Summary must not be used by several goroutines at once.
type Summary struct {
	// tok holds what Parse would return, less Header and Claims on the fast
	// path (they are set when Parse is taken as the fallback).
	tok       Token
	cfg       config
	alg       string
	hasClaims bool
	buf       []byte    // the decoded parts, reused
	findings  []Finding // room for findings, reused
	names     nameStack // member names, to find duplicates; reused
}

// Parse decodes token into s, exactly as [Parse] would decode it: it refuses
// the same inputs with the same [*ParseError], and otherwise every method of
// s returns what the same method of Parse's [Token] returns (with
// [Token.Claims] != nil for [Summary.HasClaims]).
//
// A compact JWS whose header and claims are JSON objects, at any depth of
// nesting, with no duplicate member (at any depth), valid UTF-8, no "crit"
// parameter and no "kid" that is not a string is read without building any
// map, in memory reused from call to call: that is every token Woleet
// issues, and most others. Anything else is handed to [Parse].
func (s *Summary) Parse(token string, opts ...Option) error {
	// The options write to s.cfg, not to a local that would escape.
	s.cfg = config{maxSize: DefaultMaxSize, now: time.Now}
	for _, o := range opts {
		o(&s.cfg)
	}
	s.tok, s.alg, s.hasClaims = Token{}, "", false
	raw, start, err := prepare(token, s.cfg.maxSize)
	if err != nil {
		return err
	}
	if raw[0] != '{' {
		ok, err := s.parseFast(raw, start, s.cfg)
		if err != nil || ok {
			return err
		}
	}
	t, err := Parse(token, opts...)
	if err != nil {
		s.tok = Token{}
		return err
	}
	s.tok, s.alg, s.hasClaims = *t, t.Alg(), t.Claims != nil
	return nil
}

// parseFast is the map-free path of Summary.Parse. It returns false, with
// s in an unspecified state, when the token needs Parse: a JWE, a fault
// whose error Parse should word, or JSON that needs maps to read exactly.
func (s *Summary) parseFast(raw string, start int, cfg config) (bool, error) {
	segs, n, err := splitCompact(raw, start)
	if err != nil {
		return false, err
	}
	if n != 3 {
		return false, nil
	}
	if size := jwsDecodedLen(&segs); cap(s.buf) < size {
		s.buf = make([]byte, size)
	}
	t := &s.tok
	nc, err := t.decodeJWS(&segs, s.buf[:cap(s.buf)])
	if err != nil {
		return false, err
	}
	nh, np := len(t.RawHeader), len(t.Payload)
	buf := s.buf
	t.Raw, t.start = raw, start
	t.Findings = s.findings[:0]
	defer func() { s.findings = t.Findings[:0] }() // keep any room grown
	// The decoded parts are read through a string view. Nothing derived
	// from it is kept beyond this call, except through the copies made by
	// cdataValue and internAlg; buf is written again only by the next call.
	text := unsafe.String(unsafe.SliceData(buf), nh+np)

	var hp headerParams
	if !scanHeader(text[:nh], &s.names, &hp) {
		return false, nil
	}
	s.alg = hp.alg
	t.Kind = KindJWS
	if hp.algIsStr && strings.EqualFold(hp.alg, "none") && len(t.Signature) == 0 {
		t.Kind = KindUnsecured
	}
	t.reportNonCanonical(nc)
	t.checkParams(headerView{signed: len(t.Signature) > 0}, &hp)

	var claims claimSpans
	switch payload := text[nh:]; scanClaims(payload, &s.names, &claims) {
	case payloadEmpty:
		t.add(FindingNotJSONPayload, SeverityInfo, "the payload is empty (detached?): there are no claims")
		return true, nil
	case payloadNotJSON:
		t.add(FindingNotJSONPayload, SeverityInfo, "the payload is not JSON: there are no claims")
		return true, nil
	case payloadNotObject:
		t.add(FindingNotJSONPayload, SeverityInfo, "the payload is JSON but not an object: there are no claims")
		return true, nil
	case payloadNeedsMaps:
		return false, nil
	}
	s.hasClaims = true
	if claims.cdata != "" {
		t.cdata, t.hasCData = cdataValue(claims.cdata), true
		if n := utf8.RuneCountInString(t.cdata); n > MaxCDataLength {
			t.add(FindingCDataTooLong, SeverityLow, cdataTooLongMessage(n))
		}
	}
	t.checkTimesOf(cfg.now, func(i int) (time.Time, string, bool) {
		if claims.times[i] == "" {
			return time.Time{}, "", false
		}
		tm, why := numericDateText(claims.times[i])
		return tm, why, true
	})
	return true, nil
}

// scanHeader reads the parameters checkParams needs from a header's JSON
// text. It returns false when the header needs Parse: it is not valid JSON
// or not an object (Parse words the error), it is not simple (see
// eachSimpleMember), or it has a "crit" or a "kid" that is not a string.
func scanHeader(text string, names *nameStack, hp *headerParams) bool {
	simple, err := eachSimpleMember(text, names, func(name, value string) bool {
		switch name {
		case "alg":
			hp.hasAlg = true
			if hp.algIsStr = value[0] == '"'; hp.algIsStr {
				hp.alg = internAlg(value)
			}
		case "crit":
			return false
		case "kid":
			if value[0] != '"' {
				return false
			}
			hp.kid, hp.hasKid = cdataValue(value), true
		case "jku":
			hp.hasJKU = true
		case "x5u":
			hp.hasX5U = true
		case "jwk":
			hp.hasJWK = true
		}
		return true
	})
	return err == nil && simple
}

// eachSimpleMember scans text, which must be one JSON object, and calls fn
// with each member's decoded name and the JSON text of its value. err says
// the text is not a JSON object. simple is false, and the scan may stop
// early, when the object is one that Summary.Parse leaves to Parse because
// only maps read it exactly: a duplicate member in it or in an object
// nested in it, or invalid UTF-8; or when fn returns false. names is the
// memory the scan uses to find duplicates.
func eachSimpleMember(text string, names *nameStack, fn func(name, value string) bool) (simple bool, err error) {
	sc := newScanner(text)
	sc.quiet, sc.names = true, names
	names.reset()
	simple = true
	err = sc.eachMember(func(name, value string) bool {
		simple = fn(name, value)
		return simple
	})
	if err == errDuplicate {
		return false, nil
	}
	return simple && !sc.invalidUTF8, err
}

// internAlg returns the value of an "alg" given as a JSON string literal,
// as a string that does not share memory with the literal: a registered
// algorithm's name costs no allocation.
func internAlg(lit string) string {
	inner := lit[1 : len(lit)-1]
	for _, a := range jwsAlgs {
		if a == inner {
			return a
		}
	}
	return cdataValue(lit)
}

// payloadKind is what scanClaims made of a payload.
type payloadKind int

const (
	payloadObject    payloadKind = iota // a JSON object, read
	payloadEmpty                        // no bytes at all
	payloadNotJSON                      // not valid JSON
	payloadNotObject                    // valid JSON, not an object
	payloadNeedsMaps                    // an object Parse must read (see scanHeader)
)

// claimSpans holds the JSON text of the claims Summary.Parse reads; ""
// when absent.
type claimSpans struct {
	cdata string
	times [len(timeClaimNames)]string // iat, nbf, exp
}

// scanClaims classifies a decoded payload and, for an object that
// eachSimpleMember reads, finds the text of its cdata and time claims.
func scanClaims(text string, names *nameStack, c *claimSpans) payloadKind {
	if len(text) == 0 {
		return payloadEmpty
	}
	if !isObjectText(text) {
		sc := newScanner(text)
		sc.quiet = true
		if sc.validate() != nil {
			return payloadNotJSON
		}
		return payloadNotObject
	}
	simple, err := eachSimpleMember(text, names, func(name, value string) bool {
		switch name {
		case "cdata":
			c.cdata = value
		case "iat":
			c.times[0] = value
		case "nbf":
			c.times[1] = value
		case "exp":
			c.times[2] = value
		}
		return true
	})
	switch {
	case err != nil:
		return payloadNotJSON
	case !simple:
		return payloadNeedsMaps
	}
	return payloadObject
}

// Raw returns the token as parsed: the input after [Normalize].
func (s *Summary) Raw() string { return s.tok.Raw }

// Kind returns the serialization.
func (s *Summary) Kind() Kind { return s.tok.Kind }

// Alg returns the "alg" header parameter as [Token.Alg] does: "" when it
// is absent or not a string.
func (s *Summary) Alg() string { return s.alg }

// RawHeader returns the decoded protected header (for a JWS JSON
// serialization, the first signature's).
func (s *Summary) RawHeader() []byte { return s.tok.RawHeader }

// Payload returns the decoded payload (nil for a JWE).
func (s *Summary) Payload() []byte { return s.tok.Payload }

// HasClaims reports whether the payload is a JSON object: whether
// [Token.Claims] is not nil.
func (s *Summary) HasClaims() bool { return s.hasClaims }

// Signature returns the decoded signature (for a JWS JSON serialization,
// the first signature's).
func (s *Summary) Signature() []byte { return s.tok.Signature }

// Times returns the time claims.
func (s *Summary) Times() Times { return s.tok.Times }

// Findings returns the findings, in the order [Parse] gives them.
func (s *Summary) Findings() []Finding { return s.tok.Findings }

// HasFinding reports whether there is a finding with this ID.
func (s *Summary) HasFinding(id string) bool { return s.tok.HasFinding(id) }

// CData returns the cdata claim as [Token.CData] does.
func (s *Summary) CData() (string, bool) { return s.tok.CData() }

// ExpiryStatus returns the status at now, without leeway.
func (s *Summary) ExpiryStatus(now time.Time) ExpiryStatus { return s.tok.ExpiryStatus(now) }

// Fingerprint returns the token's [Fingerprint].
func (s *Summary) Fingerprint() string { return s.tok.Fingerprint() }

// AppendFingerprint appends the token's [Fingerprint] to dst, without
// allocating when dst has room.
func (s *Summary) AppendFingerprint(dst []byte) []byte {
	return appendFingerprint(dst, s.tok.Raw)
}

// appendFingerprint appends the fingerprint of a normalized token to dst.
func appendFingerprint(dst []byte, raw string) []byte {
	// Sum256 only reads its argument: the token's bytes are not copied.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(raw), len(raw)))
	dst = append(dst, FingerprintPrefix...)
	return hex.AppendEncode(dst, sum[:])
}
