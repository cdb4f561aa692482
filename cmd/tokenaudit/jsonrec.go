package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// appendInspectJSON appends rec as one line of JSON, the same document
// encoding/json would produce for it but several times faster, which is
// what lets "inspect --format jsonl" keep up with a stream of millions of
// tokens. The header and claims are the token's own JSON text, compacted, so
// numbers, escapes and member order are exactly as in the token. When that
// text cannot be copied faithfully (duplicate members, invalid UTF-8) they
// are marshalled from the decoded maps instead, where the last duplicate
// wins and invalid bytes are U+FFFD.
func appendInspectJSON(dst []byte, rec *inspectRecord, tok *jwtinspect.Token) ([]byte, error) {
	raw := !tok.HasFinding(jwtinspect.FindingDuplicateMember) && !tok.HasFinding(jwtinspect.FindingInvalidUTF8)
	var err error
	dst = append(dst, `{"kind":`...)
	dst = appendJSONString(dst, string(rec.Kind))
	dst = append(dst, `,"alg":`...)
	dst = appendOptString(dst, rec.Alg)
	dst = append(dst, `,"header":`...)
	if dst, err = appendObject(dst, rec.Header, tok.RawHeader, raw && len(tok.Signatures) == 0); err != nil {
		return nil, err
	}
	dst = append(dst, `,"claims":`...)
	if dst, err = appendObject(dst, rec.Claims, tok.Payload, raw); err != nil {
		return nil, err
	}
	dst = append(dst, `,"payload":`...)
	dst = appendOptString(dst, rec.Payload)
	dst = append(dst, `,"cdata":`...)
	dst = appendOptString(dst, rec.CData)
	dst = append(dst, `,"fingerprint":`...)
	dst = appendJSONString(dst, rec.Fingerprint)
	dst = append(dst, `,"signature_bytes":`...)
	dst = strconv.AppendInt(dst, int64(rec.SignatureBytes), 10)
	if len(rec.Signatures) > 0 {
		sigs, err := json.Marshal(rec.Signatures)
		if err != nil {
			return nil, err
		}
		dst = append(dst, `,"signatures":`...)
		dst = append(dst, sigs...)
	}
	dst = append(dst, `,"times":{"iat":`...)
	dst = appendOptString(dst, rec.Times.IssuedAt)
	dst = append(dst, `,"nbf":`...)
	dst = appendOptString(dst, rec.Times.NotBefore)
	dst = append(dst, `,"exp":`...)
	dst = appendOptString(dst, rec.Times.Expires)
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, string(rec.Times.Status))
	dst = append(dst, `},"findings":[`...)
	for i, f := range rec.Findings {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = appendJSONString(dst, f.ID)
		dst = append(dst, `,"severity":`...)
		dst = appendJSONString(dst, string(f.Severity))
		dst = append(dst, `,"message":`...)
		dst = appendJSONString(dst, f.Message)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"verified":`...)
	if rec.Verified == nil {
		dst = append(dst, "null"...)
	} else {
		v, err := json.Marshal(rec.Verified)
		if err != nil {
			return nil, err
		}
		dst = append(dst, v...)
	}
	return append(dst, "}\n"...), nil
}

// appendObject appends a header or claims object: the token's own text when
// raw is allowed and it compacts cleanly, the marshalled map otherwise.
func appendObject(dst []byte, m map[string]any, text []byte, raw bool) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	if raw && bytes.IndexAny(text, " \t\r\n") < 0 {
		// Parse has checked the text is a valid JSON object, and it has no
		// white space to remove: the common case, copied as it is.
		return append(dst, text...), nil
	}
	if raw {
		// json.Compact leaves the buffer as it was when it fails.
		buf := bytes.NewBuffer(dst)
		if err := json.Compact(buf, text); err == nil {
			return buf.Bytes(), nil
		}
		dst = buf.Bytes()
	}
	b, err := marshalNoEscape(m)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// marshalNoEscape is json.Marshal without HTML escaping and without the
// trailing newline.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func appendOptString(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, *s)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping as encoding/json
// does without HTML escaping: quotes, backslashes, control characters,
// U+2028 and U+2029; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
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
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
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
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
