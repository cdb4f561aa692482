package main

import (
	"bytes"
	endian "encoding/binary" // "binary" names the built CLI in the tests
	"strconv"
	"strings"
	"time"

	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// inspectJSON is what the JSON form of an inspected token is written
// from, field by field in the contract's order: either an [inspectRecord]
// and its token, or a [jwtinspect.Summary] (the fast path of "inspect
// --format jsonl", which builds neither record nor maps).
type inspectJSON struct {
	kind           jwtinspect.Kind
	alg            string // null when ""
	header, claims jsonObject
	payload        string // the payload as text, when hasPayload
	hasPayload     bool
	cdata          string
	hasCData       bool
	fingerprint    fingerprintText
	signatureBytes int
	signatures     []signatureRecord
	times          jwtinspect.Times
	status         jwtinspect.ExpiryStatus
	findings       []jwtinspect.Finding
	verified       *verifiedRecord
}

// fingerprintText holds a fingerprint's text in place, so that writing one
// allocates nothing (a slice of a local array would escape with the rest of
// an inspectJSON).
type fingerprintText struct {
	buf [len(jwtinspect.FingerprintPrefix) + 64]byte
	n   int
}

func newFingerprintText(fp string) fingerprintText {
	var f fingerprintText
	f.n = copy(f.buf[:], fp)
	return f
}

// set takes the fingerprint appended to f.buf[:0].
func (f *fingerprintText) set(b []byte) { f.n = copy(f.buf[:], b) }

func (f *fingerprintText) bytes() []byte { return f.buf[:f.n] }

// jsonObject is a header or claims object: null when absent; otherwise the
// token's own JSON text, compacted, when raw is set, or else the decoded map.
type jsonObject struct {
	present bool
	text    []byte
	raw     bool
	m       map[string]any
}

// appendInspectJSON appends rec as one line of JSON, the same document
// encoding/json would produce for it but several times faster. The header
// and claims are the token's own JSON text, compacted, so numbers, escapes
// and member order are exactly as in the token. When that text cannot be
// copied faithfully (duplicate members, invalid UTF-8) they are marshalled
// from the decoded maps instead, where the last duplicate wins and invalid
// bytes are U+FFFD.
func appendInspectJSON(dst []byte, rec *inspectRecord, tok *jwtinspect.Token) ([]byte, error) {
	raw := !tok.HasFinding(jwtinspect.FindingDuplicateMember) && !tok.HasFinding(jwtinspect.FindingInvalidUTF8)
	v := inspectJSON{
		kind:           rec.Kind,
		header:         jsonObject{present: rec.Header != nil, text: tok.RawHeader, raw: raw && len(tok.Signatures) == 0, m: rec.Header},
		claims:         jsonObject{present: rec.Claims != nil, text: tok.Payload, raw: raw, m: rec.Claims},
		fingerprint:    newFingerprintText(rec.Fingerprint),
		signatureBytes: rec.SignatureBytes,
		signatures:     rec.Signatures,
		times:          tok.Times,
		status:         rec.Times.Status,
		findings:       rec.Findings,
		verified:       rec.Verified,
	}
	if rec.Alg != nil {
		v.alg = *rec.Alg
	}
	if rec.CData != nil {
		v.cdata, v.hasCData = *rec.CData, true
	}
	if rec.Payload != nil {
		v.payload, v.hasPayload = *rec.Payload, true
	}
	return v.append(dst)
}

// summaryJSONOK reports whether appendSummaryJSON can write s: a compact
// JWS (which always has a header), whose header and claims are copied as
// they are. The others need the maps of [jwtinspect.Parse] and go to
// appendInspectJSON.
func summaryJSONOK(s *jwtinspect.Summary) bool {
	return (s.Kind() == jwtinspect.KindJWS || s.Kind() == jwtinspect.KindUnsecured) &&
		!s.HasFinding(jwtinspect.FindingDuplicateMember) && !s.HasFinding(jwtinspect.FindingInvalidUTF8)
}

// appendSummaryJSON appends the JSON line of a token that summaryJSONOK
// accepts: the same bytes as appendInspectJSON of its record, without
// building the record.
func appendSummaryJSON(dst []byte, s *jwtinspect.Summary, now time.Time) []byte {
	cdata, hasCData := s.CData()
	v := inspectJSON{
		kind:           s.Kind(),
		alg:            s.Alg(),
		header:         jsonObject{present: true, text: s.RawHeader(), raw: true},
		claims:         jsonObject{present: s.HasClaims(), text: s.Payload(), raw: true},
		cdata:          cdata,
		hasCData:       hasCData,
		fingerprint:    newFingerprintText(""),
		signatureBytes: len(s.Signature()),
		times:          s.Times(),
		status:         s.ExpiryStatus(now),
		findings:       s.Findings(),
	}
	v.fingerprint.set(s.AppendFingerprint(v.fingerprint.buf[:0]))
	if !s.HasClaims() && s.Payload() != nil {
		v.payload, v.hasPayload = strings.ToValidUTF8(string(s.Payload()), "\uFFFD"), true
	}
	// The maps are never needed: raw is set and the text is valid JSON.
	out, _ := v.append(dst)
	return out
}

// append appends the document as one line.
func (v *inspectJSON) append(dst []byte) ([]byte, error) {
	var err error
	dst = append(dst, `{"kind":`...)
	dst = output.AppendJSONString(dst, string(v.kind))
	dst = append(dst, `,"alg":`...)
	if v.alg == "" {
		dst = append(dst, "null"...)
	} else {
		dst = output.AppendJSONString(dst, v.alg)
	}
	dst = append(dst, `,"header":`...)
	if dst, err = appendObject(dst, v.header); err != nil {
		return nil, err
	}
	dst = append(dst, `,"claims":`...)
	if dst, err = appendObject(dst, v.claims); err != nil {
		return nil, err
	}
	dst = append(dst, `,"payload":`...)
	if v.hasPayload {
		dst = output.AppendJSONString(dst, v.payload)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"cdata":`...)
	if v.hasCData {
		dst = output.AppendJSONString(dst, v.cdata)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"fingerprint":"`...)
	dst = append(dst, v.fingerprint.bytes()...) // "sha256:" and hex digits: nothing to escape
	dst = append(dst, `","signature_bytes":`...)
	dst = strconv.AppendInt(dst, int64(v.signatureBytes), 10)
	if len(v.signatures) > 0 {
		sigs, err := output.MarshalJSON(v.signatures, "")
		if err != nil {
			return nil, err
		}
		dst = append(dst, `,"signatures":`...)
		dst = append(dst, sigs...)
	}
	dst = append(dst, `,"times":{"iat":`...)
	dst = appendTime(dst, v.times.IssuedAt)
	dst = append(dst, `,"nbf":`...)
	dst = appendTime(dst, v.times.NotBefore)
	dst = append(dst, `,"exp":`...)
	dst = appendTime(dst, v.times.Expires)
	dst = append(dst, `,"status":`...)
	dst = output.AppendJSONString(dst, string(v.status))
	dst = append(dst, `},"findings":[`...)
	for i, f := range v.findings {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = output.AppendJSONString(dst, f.ID)
		dst = append(dst, `,"severity":`...)
		dst = output.AppendJSONString(dst, string(f.Severity))
		dst = append(dst, `,"message":`...)
		dst = output.AppendJSONString(dst, f.Message)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"verified":`...)
	if v.verified == nil {
		dst = append(dst, "null"...)
	} else {
		b, err := output.MarshalJSON(v.verified, "")
		if err != nil {
			return nil, err
		}
		dst = append(dst, b...)
	}
	return append(dst, "}\n"...), nil
}

// appendTime appends t as a JSON string in RFC 3339, UTC, as timeText
// writes it, or null.
func appendTime(dst []byte, t *time.Time) []byte {
	if t == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339)
	return append(dst, '"')
}

// appendObject appends a header or claims object: the token's own text,
// compacted, when raw is allowed, the marshalled map otherwise.
func appendObject(dst []byte, o jsonObject) ([]byte, error) {
	switch {
	case !o.present:
		return append(dst, "null"...), nil
	case o.raw:
		return appendCompact(dst, o.text), nil
	}
	b, err := marshalNoEscape(o.m)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// appendCompact appends JSON text that jwtinspect has accepted with the
// white space between tokens removed, as json.Compact would: strings,
// numbers and member order stay exactly as written, except that unsafe
// characters in strings are escaped (see output.AppendEscapedJSON).
func appendCompact(dst, text []byte) []byte {
	if !hasSpaceOrControl(text) {
		return output.AppendEscapedJSON(dst, text) // the common case
	}
	start := len(dst)
	inString := false
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case inString && c == '\\':
			dst = append(dst, c, text[i+1]) // valid JSON: an escape never ends the text
			i++
			continue
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			continue
		}
		dst = append(dst, text[i])
	}
	if !hasNonASCII(dst[start:]) {
		return dst
	}
	return output.AppendEscapedJSON(dst[:start], bytes.Clone(dst[start:]))
}

// hasNonASCII reports whether b holds a byte at or above 0x7f.
func hasNonASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x7f {
			return true
		}
	}
	return false
}

// hasSpaceOrControl reports whether b holds a byte at or below ' ', eight
// bytes at a time: what white space in valid JSON text must be.
func hasSpaceOrControl(b []byte) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := endian.LittleEndian.Uint64(b[i:])
		if (x-lo*0x21)&^x&hi != 0 { // a byte below 0x21 (bytes ≥ 0x80 never match)
			return true
		}
	}
	for ; i < len(b); i++ {
		if b[i] <= ' ' {
			return true
		}
	}
	return false
}

// marshalNoEscape is json.Marshal without HTML escaping, with every
// unsafe character escaped (see output.MarshalJSON) and without the
// trailing newline.
func marshalNoEscape(v any) ([]byte, error) { return output.MarshalJSON(v, "") }
