package jwtinspect

import "unsafe"

// cdataStack is the size of the largest stack buffer CData decodes into;
// larger tokens cost one more allocation.
const cdataStack = 32 << 10

// CData returns the cdata claim of a token without building any map: the
// fast path for "whom was this token handed to?". The claim name is matched
// exactly ("CDATA" is not "cdata"); a JSON string gives its value, any other
// JSON value its compact JSON text. ok is false when the claim is absent, the
// payload is not a JSON object, or the token is a JWE.
//
// CData agrees with [Parse] (with default options) followed by
// [Token.CData] on every input: it refuses exactly the inputs Parse refuses,
// with the same [*ParseError], and otherwise returns the same value. For a
// compact token whose header and payload decode to at most 32 KiB it
// allocates at most once (the returned string); a JSON serialization takes
// the Parse path.
func CData(token string) (cdata string, ok bool, err error) {
	raw, start, err := prepare(token, DefaultMaxSize)
	if err != nil {
		return "", false, err
	}
	if raw[0] == '{' {
		t, err := Parse(token)
		if err != nil {
			return "", false, err
		}
		cdata, ok = t.CData()
		return cdata, ok, nil
	}
	segs, n, err := splitCompact(raw, start)
	if err != nil {
		return "", false, err
	}
	need := decodedLen(len(segs[0].text))
	if n == 3 {
		need += decodedLen(len(segs[1].text))
	}
	// A buffer on the stack, of the smallest of three sizes that fits:
	// zeroing it costs less than decoding into it.
	switch {
	case need <= 2<<10:
		var stack [2 << 10]byte
		return compactCData(segs, n, stack[:])
	case need <= 8<<10:
		var stack [8 << 10]byte
		return compactCData(segs, n, stack[:])
	case need <= cdataStack:
		var stack [cdataStack]byte
		return compactCData(segs, n, stack[:])
	}
	return compactCData(segs, n, make([]byte, need))
}

// compactCData is CData of a compact token split into segs, n of them,
// decoded into buf, which has room for the header and (for a JWS) the
// payload.
func compactCData(segs [5]segment, n int, buf []byte) (cdata string, ok bool, err error) {
	h, pl := segs[0], segs[1]
	// Decode and validate in the order Parse does, so that a token with
	// several faults gets the same error.
	nh, _, err := h.decode(buf)
	if err != nil {
		return "", false, err
	}
	np := 0
	if n == 3 {
		if np, _, err = pl.decode(buf[nh:]); err != nil {
			return "", false, err
		}
	}
	rest := segs[1:n] // JWE: encrypted key, iv, ciphertext, tag
	if n == 3 {
		rest = segs[2:3] // JWS: the signature
	}
	for _, s := range rest {
		if _, _, err := s.decode(nil); err != nil {
			return "", false, err
		}
	}
	// The decoded bytes are read through a string view: buf is not written
	// again, and nothing that refers to it outlives this call (cdataValue
	// returns a new string).
	text := unsafe.String(unsafe.SliceData(buf), nh+np)
	if err := validateHeader(h, text[:nh]); err != nil {
		return "", false, err
	}
	if n == 5 {
		return "", false, nil
	}
	payload := text[nh:]
	sc := newScanner(payload)
	sc.watch, sc.quiet = "cdata", true
	if err := sc.validate(); err != nil || !isObjectText(payload) || sc.watchStart < 0 {
		return "", false, nil
	}
	return cdataValue(payload[sc.watchStart:sc.watchEnd]), true, nil
}
