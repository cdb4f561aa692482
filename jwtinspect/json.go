package jwtinspect

import (
	"errors"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// maxDepth bounds the nesting of arrays and objects, as encoding/json does.
const maxDepth = 10000

// scanner is a strict RFC 8259 lexer and validator over a string. It never
// stores what it reads, so a text it scans may live on the caller's stack.
// skip validates a value without allocating; jsonParser builds values on top
// of the same lexer, so both accept exactly the same texts (which is what
// lets [CData] agree with [Parse]).
type scanner struct {
	s     string
	i     int
	depth int

	// watch names a member of the top-level object whose raw value span
	// [watchStart, watchEnd) is recorded; the last occurrence wins.
	watch                string
	watchStart, watchEnd int

	// arena, when not nil, is where str appends the strings it must
	// decode, rather than allocate each one. It is a pointer so that the
	// scanner's own text never flows to the heap through it (which would
	// keep CData's text off the stack).
	arena *[]byte

	// names, when not nil, makes skip and eachMember look for duplicate
	// member names in every object, without a map.
	names *nameStack
	// nameStart and nameEnd are the span of the last member name's string
	// literal that member scanned.
	nameStart, nameEnd int

	invalidUTF8 bool // some string held invalid UTF-8
	// quiet makes every syntax error errSyntax, which costs no allocation,
	// for callers that only need to know whether the text is valid.
	quiet bool
}

// errSyntax is the error of a quiet scanner.
var errSyntax = errors.New("invalid JSON")

// errDuplicate is the error of a scanner with names that met a duplicate
// member name: only a map reads such an object exactly.
var errDuplicate = errors.New("duplicate member name")

// jsonParser builds values as encoding/json would with UseNumber: objects
// as map[string]any, numbers as json.Number, the last of duplicate members
// winning, invalid UTF-8 replaced by U+FFFD.
type jsonParser struct {
	scanner
	dups []string // names of duplicate members; nested ones marked so
	mem  valueMemory
}

// jsonError is a syntax error at byte off of the JSON text.
type jsonError struct {
	off int
	msg string
}

func (e *jsonError) Error() string { return e.msg + " at JSON byte " + strconv.Itoa(e.off) }

func newScanner(s string) scanner { return scanner{s: s, watchStart: -1, watchEnd: -1} }

func newJSONParser(s string) jsonParser { return jsonParser{scanner: newScanner(s)} }

func (p *scanner) fail(msg string) error {
	if p.quiet {
		return errSyntax
	}
	return &jsonError{p.i, msg}
}

func (p *scanner) failUnexpected() error {
	if p.quiet {
		return errSyntax
	}
	if p.i >= len(p.s) {
		return p.fail("unexpected end of JSON")
	}
	return p.fail("unexpected character " + strconv.QuoteRune(rune(p.s[p.i])))
}

func (p *scanner) skipWS() {
	if p.i < len(p.s) && p.s[p.i] > ' ' {
		return // the common case: no white space
	}
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// end checks that only white space follows the value.
func (p *scanner) end() error {
	p.skipWS()
	if p.i != len(p.s) {
		return p.fail("data after the JSON value")
	}
	return nil
}

// validate checks that the text is one JSON value.
func (p *scanner) validate() error {
	if err := p.skip(); err != nil {
		return err
	}
	return p.end()
}

// skip validates one value, recording the watched member's span.
func (p *scanner) skip() error {
	p.skipWS()
	return p.skipAt()
}

// skipAt is skip with the scanner past any white space.
func (p *scanner) skipAt() error {
	if p.i >= len(p.s) {
		return p.failUnexpected()
	}
	switch c := p.s[p.i]; {
	case c == '{':
		if err := p.open('{'); err != nil {
			return err
		}
		base := 0
		if p.names != nil {
			base = len(p.names.spans)
		}
		for n := 0; ; n++ {
			lit, more, err := p.nextMember(n, false)
			if err != nil {
				return err
			}
			if !more {
				if p.names != nil && p.names.pop(p.s, base) {
					return errDuplicate
				}
				return nil
			}
			if p.names != nil {
				p.names.push(p.s, p.nameStart, p.nameEnd)
			}
			watched := p.watched(lit)
			if watched {
				p.watchStart = p.i
			}
			if err := p.skipAt(); err != nil {
				return err
			}
			if watched {
				p.watchEnd = p.i
			}
		}
	case c == '[':
		if err := p.open('['); err != nil {
			return err
		}
		for n := 0; ; n++ {
			more, err := p.next(']', n)
			if err != nil || !more {
				return err
			}
			if err := p.skip(); err != nil {
				return err
			}
		}
	case c == '"':
		if j, stop, _ := scanRun(p.s, p.i+1); stop == stopQuote {
			p.i = j + 1 // the common case, without str's frame
			return nil
		}
		_, err := p.str(false)
		return err
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		_, err := p.number()
		return err
	}
	return p.failUnexpected()
}

// watched reports whether a member of the current object, whose name is
// the string literal lit, is the watched member of the top-level object.
func (p *scanner) watched(lit string) bool {
	if p.depth != 1 || p.watch == "" {
		return false
	}
	if strings.IndexByte(lit, '\\') < 0 {
		return lit[1:len(lit)-1] == p.watch
	}
	return unquotedEquals(lit, p.watch)
}

// unquotedEquals reports whether the string literal lit, which str
// accepted, stands for want; it allocates nothing when want is short.
func unquotedEquals(lit, want string) bool {
	inner := lit[1 : len(lit)-1]
	if len(inner) > 6*len(want) {
		return false // each byte of the value takes at most six of the literal
	}
	if len(inner) > 0 && len(want) > 0 && inner[0] != '\\' && inner[0] < utf8.RuneSelf && inner[0] != want[0] {
		return false // an ASCII byte that is not an escape stands for itself
	}
	var buf [128]byte
	if 3*len(inner) > len(buf) {
		v, _ := unquote(lit)
		return v == want
	}
	v, _ := appendUnquote(buf[:0], inner)
	return string(v) == want
}

// member scans a member name and its colon; with decode it returns the
// decoded name, otherwise the name's string literal as written.
func (p *scanner) member(decode bool) (string, error) {
	p.skipWS()
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", p.failUnexpected()
	}
	start := p.i
	var k string
	var err error
	if j, stop, escaped := scanRun(p.s, p.i+1); stop == stopQuote && (!decode || !escaped) {
		// The common case, without str's frame.
		p.i = j + 1
		k = p.s[start+1 : j]
	} else if k, err = p.str(decode); err != nil {
		return "", err
	}
	p.nameStart, p.nameEnd = start, p.i
	if !decode {
		k = p.s[start:p.i]
	}
	if p.i < len(p.s) && p.s[p.i] == ':' { // the common case: no white space
		p.i++
		return k, nil
	}
	p.skipWS()
	if p.i >= len(p.s) || p.s[p.i] != ':' {
		return "", p.failUnexpected()
	}
	p.i++
	return k, nil
}

// eachMember scans a text that must be one JSON object, and calls fn with
// each member's name (decoded) and the JSON text of its value, which skip
// has validated. It stops early, with no error, when fn returns false. The
// scanner must have names: the name fn gets is valid until eachMember
// returns.
func (p *scanner) eachMember(fn func(name, value string) bool) error {
	p.skipWS()
	if err := p.open('{'); err != nil {
		return err
	}
	for n := 0; ; n++ {
		_, more, err := p.nextMember(n, false)
		if err != nil {
			return err
		}
		if !more {
			if p.names.pop(p.s, 0) {
				return errDuplicate
			}
			return p.end()
		}
		name := p.names.push(p.s, p.nameStart, p.nameEnd)
		start := p.i
		if err := p.skip(); err != nil {
			return err
		}
		if !fn(name, p.s[start:p.i]) {
			return nil
		}
	}
}

// document parses one JSON value that fills the whole text.
func (p *jsonParser) document() (any, error) {
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	return v, p.end()
}

// value parses any JSON value.
func (p *jsonParser) value() (any, error) {
	p.skipWS()
	return p.valueAt()
}

// valueAt is value with the parser past any white space.
func (p *jsonParser) valueAt() (_ any, err error) {
	if p.i >= len(p.s) {
		return nil, p.failUnexpected()
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		var s string
		if j, stop, escaped := scanRun(p.s, p.i+1); stop == stopQuote && !escaped {
			s, p.i = p.s[p.i+1:j], j+1 // the common case, without str's frame
		} else if s, err = p.str(true); err != nil {
			return nil, err
		}
		if v, ok := boxCommon(s); ok {
			return v, nil
		}
		return p.mem.box(s, stringType, p.i, len(p.s)), nil
	case c == '-' || '0' <= c && c <= '9':
		n, err := p.number()
		if err != nil {
			return nil, err
		}
		return p.mem.box(n, numberType, p.i, len(p.s)), nil
	}
	// true, false, null: validated by skip, which builds nothing.
	start := p.i
	if err := p.skip(); err != nil {
		return nil, err
	}
	switch p.s[start] {
	case 't':
		return true, nil
	case 'f':
		return false, nil
	}
	return nil, nil
}

func (p *scanner) literal(lit string) error {
	if !strings.HasPrefix(p.s[p.i:], lit) {
		return p.fail("invalid literal")
	}
	p.i += len(lit)
	return nil
}

// number scans a JSON number and returns its text exactly as written.
func (p *scanner) number() (string, error) {
	s, start, i := p.s, p.i, p.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if i = digits(s, i); i == start || s[i-1] == '-' {
		p.i = i
		return "", p.fail("invalid number")
	}
	if i < len(s) && s[i] == '.' {
		if d := digits(s, i+1); d > i+1 {
			i = d
		} else {
			p.i = d
			return "", p.fail("invalid number")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if d := digits(s, i); d > i {
			i = d
		} else {
			p.i = d
			return "", p.fail("invalid number")
		}
	}
	p.i = i
	return s[start:i], nil
}

// digits returns the index after the run of decimal digits at s[i:].
func digits(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// str scans a JSON string starting at its opening quote. With decode it
// returns the string's value (a substring of the text when no escape or
// invalid UTF-8 needs rewriting); otherwise it only validates.
func (p *scanner) str(decode bool) (string, error) {
	s, start := p.s, p.i
	i := start + 1
	plain := true    // no escape and valid UTF-8: the value is s[start+1:i]
	invalid := false // invalid UTF-8 in this string
	for {
		j, stop, escaped := scanRun(s, i)
		plain = plain && !escaped
		switch stop {
		case stopQuote:
			p.i = j + 1
			if !decode {
				return "", nil
			}
			if plain {
				return s[start+1 : j], nil
			}
			return p.decodeLit(s[start:p.i], invalid), nil
		case stopNonASCII:
			r, size := utf8.DecodeRuneInString(s[j:])
			if r == utf8.RuneError && size == 1 {
				p.invalidUTF8 = true
				invalid, plain = true, false
			}
			i = j + size
			continue
		}
		p.i = j
		switch stop {
		case stopEnd:
			return "", p.fail("unterminated string")
		case stopBadU:
			return "", p.fail("invalid \\u escape")
		case stopBadEscape:
			return "", p.fail("invalid escape")
		}
		return "", p.fail("control character in string")
	}
}

// Where scanRun stops.
const (
	stopQuote     = iota // at the closing quote
	stopNonASCII         // at a byte that is not ASCII
	stopEnd              // the text ends inside the string
	stopBadU             // at a \u not followed by four hexadecimal digits
	stopBadEscape        // at a backslash followed by no escape
	stopControl          // at a control character
)

// scanRun scans the inside of a string literal from s[i]: printable ASCII
// and valid escapes, up to the index j where it stops, and why (a fault is
// reported at j). escaped says it met an escape. It calls nothing, so that
// it keeps its state in registers.
func scanRun(s string, i int) (j, stop int, escaped bool) {
	for {
		// Skip to the next byte that needs a look: eight bytes at a time
		// (as nextSpecial does), then one at a time.
		for i+8 <= len(s) {
			q := s[i : i+8]
			x := uint64(q[0]) | uint64(q[1])<<8 | uint64(q[2])<<16 | uint64(q[3])<<24 |
				uint64(q[4])<<32 | uint64(q[5])<<40 | uint64(q[6])<<48 | uint64(q[7])<<56
			if m := special8(x); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				goto special
			}
			i += 8
		}
		for i < len(s) && plainASCII[s[i]] {
			i++
		}
		if i >= len(s) {
			return i, stopEnd, escaped
		}
	special:
		switch c := s[i]; {
		case c == '"':
			return i, stopQuote, escaped
		case c == '\\':
			escaped = true
			if i+1 >= len(s) {
				return i + 1, stopEnd, escaped
			}
			switch escapeKind[s[i+1]] {
			case escapeSimple:
				i += 2
			case escapeU:
				if i+6 > len(s) || !isHex4(s[i+2:i+6]) {
					return i, stopBadU, escaped
				}
				i += 6
			default:
				return i, stopBadEscape, escaped
			}
		case c < 0x20:
			return i, stopControl, escaped
		default:
			return i, stopNonASCII, escaped
		}
	}
}

// The kinds of escape, by the byte after the backslash.
const (
	escapeInvalid = iota
	escapeSimple  // \" \\ \/ \b \f \n \r \t
	escapeU       // \uXXXX
)

// escapeKind maps the byte after a backslash to its kind of escape. It is
// computed once and never written again.
var escapeKind = func() (t [256]byte) {
	for _, c := range `"\/bfnrt` {
		t[c] = escapeSimple
	}
	t['u'] = escapeU
	return t
}()

// decodeLit decodes a string literal that str accepted and that needs
// rewriting; invalid says it holds invalid UTF-8. With an arena the value
// is appended to it, otherwise it is a new string.
func (p *scanner) decodeLit(lit string, invalid bool) string {
	if p.arena == nil {
		v, _ := unquote(lit)
		return v
	}
	arena := *p.arena
	inner := lit[1 : len(lit)-1]
	bound := len(inner) // an escape is never shorter than what it stands for
	if invalid {
		bound *= 3 // but an invalid byte becomes the three bytes of U+FFFD
	}
	if cap(arena)-len(arena) < bound {
		// A new chunk, twice the last one but no larger than the rest of
		// the text: the strings already handed out keep the old one alive,
		// and unchanged.
		arena = make([]byte, 0, bound+min(2*cap(arena)+64, len(p.s)-p.i))
	}
	at := len(arena)
	arena, _ = appendUnquote(arena, inner)
	*p.arena = arena
	if len(arena) == at {
		return ""
	}
	// The arena is only ever appended to: these bytes never change.
	return unsafe.String(&arena[at], len(arena)-at)
}

// nextSpecial returns the index of the first byte at or after s[i] that is
// not printable ASCII other than '"' and '\\' (see special8), or len(s).
func nextSpecial(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		q := s[i : i+8] // one bounds check, and one 8-byte load
		x := uint64(q[0]) | uint64(q[1])<<8 | uint64(q[2])<<16 | uint64(q[3])<<24 |
			uint64(q[4])<<32 | uint64(q[5])<<40 | uint64(q[6])<<48 | uint64(q[7])<<56
		if m := special8(x); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(s) && plainASCII[s[i]] {
		i++
	}
	return i
}

// boxCommon returns s as an interface value, with ok, when s is a common
// header value, which comes pre-boxed: that saves memory for each.
func boxCommon(s string) (v any, ok bool) {
	switch s {
	case "JWT":
		return "JWT", true
	case "HS256":
		return "HS256", true
	case "RS256":
		return "RS256", true
	case "ES256":
		return "ES256", true
	case "PS256":
		return "PS256", true
	case "EdDSA":
		return "EdDSA", true
	}
	return nil, false
}

// special8 marks, in the high bit of each of the eight bytes of x (the
// first byte the lowest), the bytes that need a closer look in a string: a
// control character, '"', '\\' or a non-ASCII byte. A byte after a marked
// one may be marked wrongly; the lowest mark is always right, and no byte
// that needs a look goes unmarked.
func special8(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(lo*'"'), x^(lo*'\\')
	return ((x-lo*0x20)&^x | (quote-lo)&^quote | (backslash-lo)&^backslash | x) & hi
}

// plainASCII marks the bytes a string may hold as they are: printable
// ASCII other than '"' and '\\'. It is computed once and never written again.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// isHex4 reports whether the four bytes of s are hexadecimal digits.
func isHex4(s string) bool {
	return (hexTable[s[0]]|hexTable[s[1]]|hexTable[s[2]]|hexTable[s[3]])&hexBad == 0
}

// hexBad marks, in hexTable, a byte that is not a hexadecimal digit.
const hexBad = 0x80

// hexTable maps a byte to its value as a hexadecimal digit, or to hexBad.
// It is computed once and never written again.
var hexTable = func() (t [256]byte) {
	for i := range t {
		t[i] = hexBad
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	for i, c := range "ABCDEF" {
		t[c] = byte(10 + i)
	}
	return t
}()

// unquote decodes a JSON string literal (quotes included) that str accepted,
// as encoding/json does: invalid UTF-8 and lone surrogates become U+FFFD.
// invalid reports such a replacement. The result is a new string.
func unquote(lit string) (v string, invalid bool) {
	inner := lit[1 : len(lit)-1]
	b, invalid := appendUnquote(make([]byte, 0, len(inner)), inner)
	if len(b) == 0 {
		return "", invalid
	}
	// b is new, and not written again.
	return unsafe.String(&b[0], len(b)), invalid
}

// appendUnquote appends the value of the inside of a JSON string literal
// that str accepted to dst, as unquote decodes it.
func appendUnquote(dst []byte, s string) (_ []byte, invalid bool) {
	for i := 0; i < len(s); {
		// Copy the run up to the next escape or non-ASCII byte (an accepted
		// literal holds no '"' or control character).
		j := nextSpecial(s, i)
		dst = append(dst, s[i:j]...)
		if i = j; i >= len(s) {
			break
		}
		if s[i] != '\\' {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				invalid = true
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(s[i+2:])
			i += 6
			if utf16IsSurrogate(r) {
				r2 := rune(-1)
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2 = hex4(s[i+2:])
				}
				if dec := utf16Decode(r, r2); dec != utf8.RuneError {
					dst = utf8.AppendRune(dst, dec)
					i += 6
					continue
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst, invalid
}

func hex4(s string) rune {
	return rune(hexTable[s[0]])<<12 | rune(hexTable[s[1]])<<8 | rune(hexTable[s[2]])<<4 | rune(hexTable[s[3]])
}

func utf16IsSurrogate(r rune) bool { return 0xd800 <= r && r < 0xe000 }

// utf16Decode joins a surrogate pair, or returns U+FFFD when r1, r2 are not one.
func utf16Decode(r1, r2 rune) rune {
	if 0xd800 <= r1 && r1 < 0xdc00 && 0xdc00 <= r2 && r2 < 0xe000 {
		return (r1-0xd800)<<10 | (r2 - 0xdc00) + 0x10000
	}
	return utf8.RuneError
}

// open consumes the opening bracket of an array or object; the scanner
// must be past any white space.
func (p *scanner) open(c byte) error {
	if p.i >= len(p.s) || p.s[p.i] != c {
		return p.failUnexpected()
	}
	p.depth++
	if p.depth > maxDepth {
		return p.fail("nesting too deep")
	}
	p.i++
	return nil
}

// next advances to element n of an array or object closed by c: it consumes
// the comma before every element but the first, and returns false (having
// consumed c) when the container ends.
func (p *scanner) next(c byte, n int) (bool, error) {
	p.skipWS()
	if i := p.i; i < len(p.s) {
		switch p.s[i] {
		case c:
			p.i = i + 1
			p.depth--
			return false, nil
		case ',':
			if n > 0 {
				p.i = i + 1
				return true, nil
			}
		}
	}
	if n == 0 {
		return true, nil // the first element, or a fault that it reports
	}
	return false, p.failUnexpected()
}

// nextMember advances to member n of an object: it returns false at the
// end (having consumed the '}'), or else the member's name (decoded, or its
// literal as written) with the scanner at the value.
func (p *scanner) nextMember(n int, decode bool) (name string, more bool, err error) {
	// The common case, in one go: no white space around the comma and the
	// name, and a name of printable ASCII (with no escape, if decoded).
	if s, i := p.s, p.i; n == 0 || i < len(s) && s[i] == ',' {
		if n > 0 {
			i++
		}
		if i < len(s) && s[i] == '"' {
			j, stop, escaped := scanRun(s, i+1)
			if stop == stopQuote && (!decode || !escaped) && j+1 < len(s) && s[j+1] == ':' {
				p.nameStart, p.nameEnd = i, j+1
				p.i = j + 2
				p.skipWS()
				if decode {
					return s[i+1 : j], true, nil
				}
				return s[i : j+1], true, nil
			}
		}
	}
	if more, err = p.next('}', n); err != nil || !more {
		return "", false, err
	}
	if name, err = p.member(decode); err != nil {
		return "", false, err
	}
	p.skipWS()
	return name, true, nil
}

// members walks an object: after each member name it calls fn with the
// decoded name; fn must consume the member's value.
func (p *jsonParser) members(fn func(key string) error) error {
	if err := p.open('{'); err != nil {
		return err
	}
	for n := 0; ; n++ {
		k, more, err := p.nextMember(n, true)
		if err != nil || !more {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
	}
}

// elements walks an array, calling fn, which must consume element n.
func (p *jsonParser) elements(fn func(n int) error) error {
	if err := p.open('['); err != nil {
		return err
	}
	for n := 0; ; n++ {
		more, err := p.next(']', n)
		if err != nil || !more {
			return err
		}
		p.skipWS()
		if err := fn(n); err != nil {
			return err
		}
	}
}

func (p *jsonParser) object() (any, error) {
	if err := p.open('{'); err != nil {
		return nil, err
	}
	m := make(map[string]any)
	for n := 0; ; n++ {
		k, more, err := p.nextMember(n, true)
		if err != nil {
			return nil, err
		}
		if !more {
			return m, nil
		}
		watched := p.depth == 1 && p.watch != "" && k == p.watch
		if watched {
			p.watchStart = p.i
		}
		v, err := p.valueAt()
		if err != nil {
			return nil, err
		}
		if watched {
			p.watchEnd = p.i
		}
		size := len(m)
		m[k] = v
		if len(m) == size {
			if p.depth > 1 {
				k += " (in a nested object)"
			}
			p.dups = append(p.dups, k)
		}
	}
}

// array parses an array. Its elements are gathered first, then copied to
// a slice of their exact number.
func (p *jsonParser) array() (any, error) {
	if err := p.open('['); err != nil {
		return nil, err
	}
	base := len(p.mem.elems)
	for n := 0; ; n++ {
		more, err := p.next(']', n)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.mem.pushElem(v)
	}
	a := p.mem.array(p.mem.elems[base:], p.i, len(p.s))
	p.mem.elems = p.mem.elems[:base]
	return a, nil
}

// compactJSON returns the JSON text raw, which the parser accepted, with
// insignificant white space removed (as json.Compact does): strings, numbers
// and member order stay exactly as written. The result is a new string.
func compactJSON(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	inStr := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inStr && c == '\\':
			b.WriteByte(c)
			i++
			c = raw[i]
		case c == '"':
			inStr = !inStr
		case !inStr && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
