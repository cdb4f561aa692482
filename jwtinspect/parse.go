package jwtinspect

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// DefaultMaxSize is the size cap of [Parse] and [CData]: 16 MiB.
const DefaultMaxSize = 16 << 20

// Option configures [Parse].
type Option func(*config)

type config struct {
	maxSize int
	now     func() time.Time
}

// WithMaxSize sets the size cap: longer input is refused with [ErrTooLarge]
// before any decoding. n ≤ 0 restores the default, [DefaultMaxSize].
func WithMaxSize(n int) Option {
	return func(c *config) {
		if n <= 0 {
			n = DefaultMaxSize
		}
		c.maxSize = n
	}
}

// WithNow sets the clock that the time findings (expired, not-yet-valid) are
// judged against; nil restores time.Now.
func WithNow(now func() time.Time) Option {
	return func(c *config) {
		if now == nil {
			now = time.Now
		}
		c.now = now
	}
}

// Parse decodes a token without verifying it: a compact JWS, JWE or
// unsecured JWT, or a JWS/JWE JSON serialization. It parses [Normalize] of
// its input, so a pasted "Authorization: Bearer …" line works. It refuses
// malformed input with a [*ParseError]; everything else that is odd about a
// token (alg none, no expiry, non-canonical base64, …) becomes a [Finding].
func Parse(token string, opts ...Option) (*Token, error) {
	cfg := config{maxSize: DefaultMaxSize, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	raw, start, err := prepare(token, cfg.maxSize)
	if err != nil {
		return nil, err
	}
	t := &Token{Raw: raw, start: start}
	t.Findings = t.findingsBuf[:0]
	if raw[0] == '{' {
		err = t.parseJSON()
	} else {
		err = t.parseCompact()
	}
	if err != nil {
		return nil, err
	}
	if t.Claims != nil {
		t.checkTimes(cfg.now)
	}
	return t, nil
}

// prepare applies the size cap and Normalize.
func prepare(token string, maxSize int) (raw string, start int, err error) {
	if len(token) > maxSize {
		return "", 0, &ParseError{"input", -1,
			withDetail(ErrTooLarge, fmt.Sprintf("%d bytes, over the limit of %d", len(token), maxSize))}
	}
	raw, start = normalize(token)
	if raw == "" {
		return "", 0, &ParseError{"input", -1, ErrEmpty}
	}
	return raw, start, nil
}

// segment is one base64url part of a token, with its offset in the input.
type segment struct {
	name string
	text string
	off  int
	// inexact: text was unescaped from a JSON string, so offsets inside it
	// are reported as the string's start.
	inexact bool
}

// decode decodes the segment into dst (or only validates it when dst is nil).
func (s segment) decode(dst []byte) (n int, canonical bool, err error) {
	n, canonical, bad := decodeB64(dst, s.text)
	if bad < 0 {
		return n, canonical, nil
	}
	cause := ErrBase64
	switch s.text[bad] {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		cause = ErrWhitespace
	}
	if s.inexact {
		bad = 0
	}
	return 0, false, &ParseError{s.name, s.off + bad, cause}
}

// nonCanonical collects the names of segments that are not canonical base64url.
type nonCanonical []string

// decode decodes s into dst (or validates it, with a nil dst), noting it
// when it is not canonical.
func (nc *nonCanonical) decode(s segment, dst []byte) (int, error) {
	n, canonical, err := s.decode(dst)
	if err == nil && !canonical {
		*nc = append(*nc, s.name)
	}
	return n, err
}

// jsonFault converts a syntax error in the decoded segment to a ParseError.
func (s segment) jsonFault(err error, decoded bool) error {
	var je *jsonError
	if !errors.As(err, &je) {
		return &ParseError{s.name, s.off, err}
	}
	off := je.off
	detail := je.msg
	if decoded {
		detail += fmt.Sprintf(" at decoded byte %d", je.off)
		off = min(inputOffset(off), len(s.text))
	}
	if s.inexact {
		off = 0
	}
	return &ParseError{s.name, s.off + off, withDetail(ErrInvalidJSON, detail)}
}

var jwsNames = [...]string{"header", "payload", "signature"}
var jweNames = [...]string{"header", "encrypted-key", "iv", "ciphertext", "tag"}

// splitCompact cuts a compact token into its 3 (JWS) or 5 (JWE) segments.
func splitCompact(raw string, start int) (segs [5]segment, n int, err error) {
	pos := 0
	for {
		i := strings.IndexByte(raw[pos:], '.')
		if i < 0 || n == 4 {
			break
		}
		segs[n] = segment{text: raw[pos : pos+i], off: start + pos}
		n++
		pos += i + 1
	}
	segs[n] = segment{text: raw[pos:], off: start + pos}
	n++
	if n == 3 { // the loop stopped at the last dot
		for i := range jwsNames {
			segs[i].name = jwsNames[i]
		}
		return segs, n, nil
	}
	if n == 5 && strings.IndexByte(segs[4].text, '.') < 0 {
		for i := range jweNames {
			segs[i].name = jweNames[i]
		}
		return segs, n, nil
	}
	if i := strings.IndexAny(raw, " \t\n\r\v\f"); i >= 0 {
		return segs, 0, &ParseError{"input", start + i, ErrWhitespace}
	}
	return segs, 0, &ParseError{"input", -1, withDetail(ErrPartCount,
		fmt.Sprintf("%d, want 3 (JWS) or 5 (JWE) separated by dots", strings.Count(raw, ".")+1))}
}

// parseHeader parses a decoded protected header, which must be a JSON object.
func parseHeader(s segment, text string) (map[string]any, jsonParser, error) {
	p := newJSONParser(text)
	v, err := p.document()
	if err = headerFault(s, text, err); err != nil {
		return nil, p, err
	}
	return v.(map[string]any), p, nil
}

// validateHeader is parseHeader without building anything.
func validateHeader(s segment, text string) error {
	sc := newScanner(text)
	return headerFault(s, text, sc.validate())
}

// headerFault turns the outcome of parsing a header into its ParseError.
func headerFault(s segment, text string, err error) error {
	if err != nil {
		return s.jsonFault(err, true)
	}
	if !isObjectText(text) {
		return &ParseError{s.name, s.off, ErrHeaderNotObject}
	}
	return nil
}

// isObjectText reports whether valid JSON text is an object.
func isObjectText(text string) bool {
	i := 0
	for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r') {
		i++
	}
	return i < len(text) && text[i] == '{'
}

// parseCompact parses a compact JWS, unsecured JWT or JWE.
func (t *Token) parseCompact() error {
	segs, n, err := splitCompact(t.Raw, t.start)
	if err != nil {
		return err
	}
	if n == 5 {
		return t.parseCompactJWE(segs)
	}
	h := segs[0]
	// One allocation holds the decoded segments and, after them, a private
	// copy of header and payload that is read as a string: the maps' strings
	// are substrings of it, so it must never change, and it is not reachable
	// as a slice from outside this function.
	size := jwsDecodedLen(&segs)
	buf := make([]byte, size+decodedLen(len(h.text))+decodedLen(len(segs[1].text)))
	nc, err := t.decodeJWS(&segs, buf)
	if err != nil {
		return err
	}
	nh, np := len(t.RawHeader), len(t.Payload)
	private := buf[size : size+copy(buf[size:], buf[:nh+np])]
	text := unsafe.String(unsafe.SliceData(private), len(private))
	hdr, hp, err := parseHeader(h, text[:nh])
	if err != nil {
		return err
	}
	t.Header = hdr
	t.Kind = KindJWS
	if a, _ := hdr["alg"].(string); strings.EqualFold(a, "none") && len(t.Signature) == 0 {
		t.Kind = KindUnsecured
	}
	t.reportNonCanonical(nc)
	t.reportParser("the header", "header parameter", &hp)
	t.checkHeader(headerView{protected: hdr, signed: len(t.Signature) > 0})
	t.parsePayload(text[nh:])
	return nil
}

// jwsDecodedLen returns room enough for the three decoded segments of a
// compact JWS.
func jwsDecodedLen(segs *[5]segment) int {
	return decodedLen(len(segs[0].text)) + decodedLen(len(segs[1].text)) + decodedLen(len(segs[2].text))
}

// decodeJWS decodes the three segments of a compact JWS one after the
// other into buf, which has jwsDecodedLen bytes, sets t.RawHeader,
// t.Payload and t.Signature to them, and returns the names of the segments
// that are not canonical base64url.
func (t *Token) decodeJWS(segs *[5]segment, buf []byte) (nonCanonical, error) {
	var nc nonCanonical
	var ends [3]int
	at := 0
	for i := range 3 {
		n, err := nc.decode(segs[i], buf[at:])
		if err != nil {
			return nil, err
		}
		at += n
		ends[i] = at
	}
	t.RawHeader = buf[:ends[0]:ends[0]]
	t.Payload = buf[ends[0]:ends[1]:ends[1]]
	t.Signature = buf[ends[1]:ends[2]:ends[2]]
	return nc, nil
}

// parseCompactJWE reads a compact JWE's protected header and validates the
// other four segments without decrypting anything.
func (t *Token) parseCompactJWE(segs [5]segment) error {
	h := segs[0]
	buf := make([]byte, decodedLen(len(h.text)))
	var nc nonCanonical
	n, err := nc.decode(h, buf)
	if err != nil {
		return err
	}
	for _, s := range segs[1:] {
		if _, err := nc.decode(s, nil); err != nil {
			return err
		}
	}
	t.RawHeader = buf[:n:n]
	hdr, hp, err := parseHeader(h, string(t.RawHeader))
	if err != nil {
		return err
	}
	t.Kind, t.Header = KindJWE, hdr
	t.reportNonCanonical(nc)
	t.reportParser("the header", "header parameter", &hp)
	t.checkHeader(headerView{protected: hdr, jwe: true})
	t.add(FindingJWE, SeverityInfo, "JWE: the payload is encrypted and was not read; only the header is decoded")
	return nil
}

// parsePayload sets Claims and cdata from the decoded payload text and adds
// the payload findings.
func (t *Token) parsePayload(text string) {
	p := newJSONParser(text)
	p.watch, p.arena = "cdata", &t.arena
	v, err := p.document()
	claims, isObject := v.(map[string]any)
	switch {
	case len(text) == 0:
		t.add(FindingNotJSONPayload, SeverityInfo, "the payload is empty (detached?): there are no claims")
		return
	case err != nil:
		t.add(FindingNotJSONPayload, SeverityInfo, "the payload is not JSON: there are no claims")
		return
	case !isObject:
		t.add(FindingNotJSONPayload, SeverityInfo, "the payload is JSON but not an object: there are no claims")
		return
	}
	t.Claims = claims
	t.reportParser("the claims", "claim", &p)
	if p.watchStart >= 0 {
		// A string is already decoded in the claims (as CData decodes it);
		// any other value is taken as compact JSON text.
		if s, ok := claims["cdata"].(string); ok {
			t.cdata = s
		} else {
			t.cdata = cdataValue(text[p.watchStart:p.watchEnd])
		}
		t.hasCData = true
		if n := utf8.RuneCountInString(t.cdata); n > MaxCDataLength {
			t.add(FindingCDataTooLong, SeverityLow, cdataTooLongMessage(n))
		}
	}
}

// cdataTooLongMessage is the message of a cdata-too-long finding for a
// cdata of n characters.
func cdataTooLongMessage(n int) string {
	return fmt.Sprintf("cdata is %d characters, over the Woleet limit of %d: the token was not issued by Woleet as it is", n, MaxCDataLength)
}

// cdataValue converts the raw JSON text of a cdata value, which the parser
// accepted, to a new string: a JSON string gives its value, anything else its
// compact JSON text. The result never shares memory with raw.
func cdataValue(raw string) string {
	if raw[0] == '"' {
		if inner := raw[1 : len(raw)-1]; strings.IndexByte(inner, '\\') < 0 && utf8.ValidString(inner) {
			return strings.Clone(inner)
		}
		v, _ := unquote(raw)
		return v
	}
	return compactJSON(raw)
}

// reportParser adds the findings a JSON parse left: duplicate members and
// invalid UTF-8. where names the JSON text ("the header"), noun its members.
func (t *Token) reportParser(where, noun string, p *jsonParser) {
	if len(p.dups) > 0 {
		for _, d := range slices.Compact(slices.Sorted(slices.Values(p.dups))) {
			t.add(FindingDuplicateMember, SeverityMedium,
				fmt.Sprintf("%s %s appears more than once in %s; the last value is used (as by most JWT libraries)", noun, quoteShort(d), where))
		}
	}
	if p.invalidUTF8 {
		t.add(FindingInvalidUTF8, SeverityMedium, "invalid UTF-8 in "+where+", replaced by U+FFFD")
	}
}

// reportNonCanonical adds a non-canonical-base64 finding naming the segments.
func (t *Token) reportNonCanonical(names nonCanonical) {
	if len(names) == 0 {
		return
	}
	t.add(FindingNonCanonicalBase64, SeverityMedium,
		"not canonical base64url ("+strings.Join(names, ", ")+"): padding, '+' or '/', or non-zero trailing bits; "+
			"the token is not byte-for-byte what its signer produced, and so has another fingerprint")
}
