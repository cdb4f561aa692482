package output

import (
	endian "encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file is the one place that decides which characters of untrusted
// text (a token's cdata and claims, an API's error message) may reach the
// output raw, and how each format escapes the others:
//
//   - tables, Markdown, CSV and messages: a visible Go escape (\x1b,
//     \u202e, \u2028; \xff for a byte that is not UTF-8), see [Clean];
//   - JSON: the \uXXXX escape of the character, which a JSON reader turns
//     back into the same text (lossless), see [AppendJSONString] and
//     [AppendEscapedJSON].
//
// A format's own separators (a table's borders, CSV's commas and line
// ends, JSON's white space) are written by the format, never taken from
// the text.

// Unsafe reports whether r must not be printed raw from untrusted text: a
// C0 control (including TAB, LF, CR and ESC) or DEL, a C1 control (U+0080
// to U+009F, among them the one-character CSI U+009B), a format character
// (category Cf: the bidirectional overrides and isolates U+202A–U+202E and
// U+2066–U+2069, the zero-width characters U+200B–U+200F and U+2060–U+2064,
// U+FEFF, the soft hyphen), the line and paragraph separators U+2028 and
// U+2029, or utf8.RuneError. A terminal acts on the controls; the others
// make text look other than it is.
func Unsafe(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r < 0xad:
		return false
	case r == '\u2028', r == '\u2029', r == utf8.RuneError:
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// Clean makes untrusted text safe to print on a terminal and in any text
// format: every [Unsafe] character becomes a visible Go escape such as \x1b,
// \u202e or \u2028, and a byte that is not UTF-8 becomes \xNN. Other text,
// non-ASCII letters included, is unchanged.
func Clean(s string) string {
	if !needsCleaning(s) {
		return s
	}
	return string(appendClean(nil, s, ""))
}

// CleanDocument is [Clean] for a whole rendered document (an HTML page)
// whose own markup holds no unsafe character: every one in it came from
// untrusted text and becomes its visible escape, except the document's
// line structure (TAB, LF and CR), which is kept.
func CleanDocument(doc []byte) []byte {
	if !needsCleaning(string(doc)) {
		return doc
	}
	return appendClean(make([]byte, 0, len(doc)), string(doc), "\t\n\r")
}

// appendClean appends s to dst with every Unsafe character but those in
// keep escaped as Clean escapes it.
func appendClean(dst []byte, s, keep string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			dst = fmt.Appendf(dst, `\x%02x`, s[i])
		case Unsafe(r) && !strings.ContainsRune(keep, r):
			q := strconv.QuoteRuneToASCII(r)
			dst = append(dst, q[1:len(q)-1]...)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

func needsCleaning(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return strings.ContainsFunc(s[i:], Unsafe)
		}
	}
	return false
}

// CSVWriter writes CSV records whose every cell has gone through [Clean]:
// CSV quoting keeps a cell in its column, but a terminal or a spreadsheet
// would still act on what is inside the quotes.
type CSVWriter struct {
	w *csv.Writer
}

// NewCSVWriter returns a CSVWriter that writes to w.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{w: csv.NewWriter(w)} }

// Write writes one record; it is buffered until Flush.
func (c *CSVWriter) Write(cells []string) error {
	if err := c.w.Write(cleanAll(cells)); err != nil {
		return fmt.Errorf("writing csv: %w", err)
	}
	return nil
}

// Flush writes what is buffered and returns the first error of any write.
func (c *CSVWriter) Flush() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("writing csv: %w", err)
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// needsEscape8 reports whether any of the eight bytes in x may need
// AppendJSONString's attention: a control character, DEL, '"', '\\' or a
// byte of a multi-byte character. It may say so wrongly for a byte after a
// true match, never miss one.
func needsEscape8(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	quote, backslash, del := x^(lo*'"'), x^(lo*'\\'), x^(lo*0x7f)
	return ((x-lo*0x20)&^x|(quote-lo)&^quote|(backslash-lo)&^backslash|(del-lo)&^del|x)&hi != 0
}

// AppendJSONString appends s as a JSON string without HTML escaping: quotes
// and backslashes escaped, \n, \r, \t, \b and \f as such, every other
// [Unsafe] character as \uXXXX (a surrogate pair above U+FFFF), and invalid
// UTF-8 as \ufffd, as encoding/json writes it.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start, i := 0, 0
	// Fast path: eight bytes at a time while none needs a closer look.
	for i+8 <= len(s) && !needsEscape8(endian.LittleEndian.Uint64([]byte(s[i:i+8]))) {
		i += 8
	}
	for i < len(s) {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != 0x7f {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = appendUEscape(dst, rune(b))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if Unsafe(r) {
			dst = append(dst, s[start:i]...)
			dst = appendUEscape(dst, r)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendUEscape appends r as \uXXXX, or a surrogate pair above U+FFFF.
func appendUEscape(dst []byte, r rune) []byte {
	if r > 0xffff {
		r -= 0x10000
		dst = appendUEscape(dst, 0xd800+(r>>10))
		return appendUEscape(dst, 0xdc00+(r&0x3ff))
	}
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// AppendEscapedJSON appends valid JSON text (from encoding/json, or a
// token's own header and claims) with every raw [Unsafe] character replaced
// by its \uXXXX escape. In valid JSON such a character can only be inside
// a string, where the escape means the same character: the document is
// unchanged, and what a reader decodes is exactly the same text. Invalid
// UTF-8 becomes \ufffd.
func AppendEscapedJSON(dst, text []byte) []byte {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	// Eight bytes at a time while none is DEL or part of a multi-byte
	// character.
	for ; i+8 <= len(text); i += 8 {
		x := endian.LittleEndian.Uint64(text[i:])
		del := x ^ (lo * 0x7f)
		if (x|(del-lo)&^del)&hi != 0 {
			break
		}
	}
	for i < len(text) && text[i] < 0x7f {
		i++
	}
	if i == len(text) {
		return append(dst, text...) // ASCII without DEL: nothing to escape
	}
	dst = append(dst, text[:i]...)
	start := i
	for i < len(text) {
		if text[i] < 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRune(text[i:])
		if !Unsafe(r) {
			i += size
			continue
		}
		dst = append(dst, text[start:i]...)
		dst = appendUEscape(dst, r)
		i += size
		start = i
	}
	return append(dst, text[start:]...)
}
