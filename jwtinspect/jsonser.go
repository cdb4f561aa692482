package jwtinspect

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The JWS and JWE JSON serializations (RFC 7515 §7.2, RFC 7516 §7.2), in
// their general and flattened forms.

// objMember is a member whose value must be a JSON object.
type objMember struct {
	m    map[string]any
	dups []string // duplicate member names inside it
}

// sigEntry is one element of "signatures" (or the flattened top level).
type sigEntry struct {
	path      string // "signatures[1]", or "" when flattened
	protected *segment
	signature *segment
	header    *objMember
}

// member returns the path of one of the entry's members.
func (e sigEntry) member(name string) string {
	if e.path == "" {
		return name
	}
	return e.path + "." + name
}

// serialization collects the members of a JSON serialization that matter.
type serialization struct {
	strs       map[string]segment
	objs       map[string]objMember
	sigs       []sigEntry
	hasSigs    bool
	recipients []objMember
	dups       []string
}

// parseJSON parses a JWS or JWE JSON serialization held in t.Raw.
func (t *Token) parseJSON() error {
	p := newJSONParser(t.Raw)
	ser := serialization{strs: map[string]segment{}, objs: map[string]objMember{}}
	seen := map[string]bool{}
	err := p.members(func(k string) error {
		if seen[k] {
			ser.dups = append(ser.dups, k)
		}
		seen[k] = true
		switch k {
		case "payload", "protected", "signature", "ciphertext", "iv", "tag", "encrypted_key", "aad":
			sg, err := t.stringMember(&p, k)
			ser.strs[k] = sg
			return err
		case "header", "unprotected":
			om, err := t.objectMember(&p, k)
			ser.objs[k] = om
			return err
		case "signatures":
			ser.hasSigs, ser.sigs = true, nil
			return t.arrayOfObjects(&p, k, func(i int) error {
				e, err := t.sigEntry(&p, fmt.Sprintf("signatures[%d]", i))
				ser.sigs = append(ser.sigs, e)
				return err
			})
		case "recipients":
			ser.recipients = nil
			return t.arrayOfObjects(&p, k, func(i int) error {
				path := fmt.Sprintf("recipients[%d]", i)
				var header objMember
				err := p.members(func(k string) error {
					switch k {
					case "header":
						om, err := t.objectMember(&p, path+".header")
						header = om
						return err
					case "encrypted_key":
						sg, err := t.stringMember(&p, path+".encrypted_key")
						if err == nil {
							_, _, err = sg.decode(nil)
						}
						return err
					}
					_, err := p.value()
					return err
				})
				ser.recipients = append(ser.recipients, header)
				return err
			})
		}
		_, err := p.value()
		return err
	})
	if err == nil {
		p.skipWS()
		if p.i != len(p.s) {
			err = p.fail("data after the JSON value")
		}
	}
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return err
		}
		return segment{name: "json", off: t.start}.jsonFault(err, false)
	}
	for _, d := range ser.dups {
		t.add(FindingDuplicateMember, SeverityMedium,
			fmt.Sprintf("member %s appears more than once in the JSON serialization; the last value is used", quoteShort(d)))
	}
	_, isJWE := ser.strs["ciphertext"]
	_, hasPayload := ser.strs["payload"]
	_, hasSig := ser.strs["signature"]
	isJWS := hasPayload || hasSig || ser.hasSigs // no payload: a detached one (RFC 7515 Appendix F)
	switch {
	case isJWE:
		return t.jsonJWE(&ser)
	case isJWS:
		return t.jsonJWS(&ser)
	}
	return &ParseError{"json", t.start, withDetail(ErrSerialization,
		`neither a "payload" or "signature(s)" (JWS) nor a "ciphertext" (JWE) member`)}
}

// stringMember reads a member that must be a JSON string, as a segment.
func (t *Token) stringMember(p *jsonParser, path string) (segment, error) {
	start := p.i
	if start >= len(p.s) {
		return segment{}, p.failUnexpected()
	}
	if p.s[start] != '"' {
		return segment{}, &ParseError{path, t.start + start, withDetail(ErrSerialization, "must be a string")}
	}
	v, err := p.str(true)
	if err != nil {
		return segment{}, err
	}
	return segment{
		name:    path,
		text:    v,
		off:     t.start + start + 1,
		inexact: strings.IndexByte(p.s[start:p.i], '\\') >= 0,
	}, nil
}

// objectMember reads a member that must be a JSON object.
func (t *Token) objectMember(p *jsonParser, path string) (objMember, error) {
	start, ndups := p.i, len(p.dups)
	v, err := p.value()
	if err != nil {
		return objMember{}, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return objMember{}, &ParseError{path, t.start + start, withDetail(ErrSerialization, "must be a JSON object")}
	}
	om := objMember{m: m, dups: slices.Clone(p.dups[ndups:])}
	p.dups = p.dups[:ndups]
	return om, nil
}

// arrayOfObjects walks a member that must be a non-empty array of objects.
func (t *Token) arrayOfObjects(p *jsonParser, path string, fn func(i int) error) error {
	start := p.i
	wrong := &ParseError{path, t.start + start, withDetail(ErrSerialization, "must be a non-empty array of objects")}
	if start >= len(p.s) {
		return p.failUnexpected()
	}
	if p.s[start] != '[' {
		return wrong
	}
	count := 0
	err := p.elements(func(i int) error {
		if p.i >= len(p.s) {
			return p.failUnexpected()
		}
		if p.s[p.i] != '{' {
			wrong.Offset = t.start + p.i
			return wrong
		}
		count++
		return fn(i)
	})
	if err == nil && count == 0 {
		return wrong
	}
	return err
}

// sigEntry reads one element of "signatures".
func (t *Token) sigEntry(p *jsonParser, path string) (sigEntry, error) {
	e := sigEntry{path: path}
	err := p.members(func(k string) error {
		switch k {
		case "protected", "signature":
			sg, err := t.stringMember(p, path+"."+k)
			if k == "protected" {
				e.protected = &sg
			} else {
				e.signature = &sg
			}
			return err
		case "header":
			om, err := t.objectMember(p, path+".header")
			e.header = &om
			return err
		}
		_, err := p.value()
		return err
	})
	return e, err
}

// decodeNew decodes a segment into a new buffer.
func (nc *nonCanonical) decodeNew(s segment) ([]byte, error) {
	buf := make([]byte, decodedLen(len(s.text)))
	n, err := nc.decode(s, buf)
	return buf[:n:n], err
}

// decodeProtected decodes a protected header segment and parses it.
func (nc *nonCanonical) decodeProtected(s segment) (raw []byte, hdr map[string]any, hp jsonParser, err error) {
	if raw, err = nc.decodeNew(s); err != nil {
		return nil, nil, hp, err
	}
	hdr, hp, err = parseHeader(s, string(raw))
	return raw, hdr, hp, err
}

// jsonJWS interprets a JWS JSON serialization.
func (t *Token) jsonJWS(ser *serialization) error {
	flat := sigEntry{}
	if sg, ok := ser.strs["protected"]; ok {
		flat.protected = &sg
	}
	if sg, ok := ser.strs["signature"]; ok {
		flat.signature = &sg
	}
	if om, ok := ser.objs["header"]; ok {
		flat.header = &om
	}
	flattened := flat.protected != nil || flat.signature != nil || flat.header != nil
	switch {
	case ser.hasSigs && flattened:
		return &ParseError{"json", t.start, withDetail(ErrSerialization,
			`both "signatures" and a flattened "protected", "header" or "signature" member`)}
	case !ser.hasSigs:
		ser.sigs = []sigEntry{flat}
	}
	var nc nonCanonical
	t.Kind = KindJWSJSON
	t.Signatures = make([]Signature, len(ser.sigs))
	parsers := make([]jsonParser, len(ser.sigs))
	for i, e := range ser.sigs {
		if e.signature == nil {
			return &ParseError{e.member("signature"), t.start, withDetail(ErrSerialization, "missing")}
		}
		sig := &t.Signatures[i]
		var err error
		if sig.Signature, err = nc.decodeNew(*e.signature); err != nil {
			return err
		}
		if e.protected != nil {
			raw, hdr, hp, err := nc.decodeProtected(*e.protected)
			if err != nil {
				return err
			}
			sig.Protected, sig.RawProtected = hdr, raw
			parsers[i] = hp
		}
		if e.header != nil {
			sig.Unprotected = e.header.m
		}
	}
	first := &t.Signatures[0]
	t.Header, t.RawHeader, t.Signature = first.Protected, first.RawProtected, first.Signature
	if payload, ok := ser.strs["payload"]; ok {
		var err error
		if t.Payload, err = nc.decodeNew(payload); err != nil {
			return err
		}
	}
	t.reportNonCanonical(nc)
	for i, e := range ser.sigs {
		t.reportParser(e.member("protected"), "header parameter", &parsers[i])
		if e.header != nil {
			t.reportParser(e.member("header"), "header parameter", &jsonParser{dups: e.header.dups})
		}
		where := ""
		if len(ser.sigs) > 1 {
			where = fmt.Sprintf("signature %d: ", i+1)
		}
		s := &t.Signatures[i]
		t.checkHeader(headerView{where: where, protected: s.Protected, unprotected: s.Unprotected, signed: len(s.Signature) > 0})
	}
	t.parsePayload(string(t.Payload))
	return nil
}

// jsonJWE interprets a JWE JSON serialization: the protected header is
// decoded, the other members only validated.
func (t *Token) jsonJWE(ser *serialization) error {
	var nc nonCanonical
	for _, k := range []string{"encrypted_key", "iv", "ciphertext", "tag", "aad"} {
		if sg, ok := ser.strs[k]; ok {
			if _, err := nc.decode(sg, nil); err != nil {
				return err
			}
		}
	}
	t.Kind = KindJWE
	var hp jsonParser
	if sg, ok := ser.strs["protected"]; ok {
		raw, hdr, p, err := nc.decodeProtected(sg)
		if err != nil {
			return err
		}
		t.Header, t.RawHeader, hp = hdr, raw, p
	}
	// The JOSE header of the first recipient: shared and per-recipient
	// unprotected parameters together.
	unprotected := map[string]any{}
	for _, k := range []string{"unprotected", "header"} {
		if om, ok := ser.objs[k]; ok {
			for n, v := range om.m {
				unprotected[n] = v
			}
		}
	}
	if len(ser.recipients) > 0 {
		for n, v := range ser.recipients[0].m {
			unprotected[n] = v
		}
	}
	t.reportNonCanonical(nc)
	t.reportParser("the header", "header parameter", &hp)
	t.checkHeader(headerView{protected: t.Header, unprotected: unprotected, jwe: true})
	t.add(FindingJWE, SeverityInfo, "JWE: the payload is encrypted and was not read; only the header is decoded")
	return nil
}
