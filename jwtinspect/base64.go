package jwtinspect

import "encoding/binary"

// A hand-rolled base64url decoder: strict RFC 4648 §5 without padding is
// canonical; padding, the standard alphabet ('+', '/') and non-zero trailing
// bits still decode but are reported, so that a token that differs from its
// canonical form (and so has a different fingerprint) never passes silently.

const (
	b64Std = 0x40 // the character is '+' or '/', from the standard alphabet
	b64Bad = 0x80 // the character is not in either alphabet
)

// b64Table maps a byte to its 6-bit value, possibly with b64Std set, or to
// b64Bad. It is computed once and never written again.
var b64Table = func() (t [256]byte) {
	const url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		t[i] = b64Bad
	}
	for i := 0; i < len(url); i++ {
		t[url[i]] = byte(i)
	}
	t['+'] = 62 | b64Std
	t['/'] = 63 | b64Std
	return t
}()

// decodedLen returns an upper bound of the decoded size of n base64 characters.
func decodedLen(n int) int { return n/4*3 + (n%4*3)/4 }

// decodeB64 decodes the base64url text src into dst, which must hold
// decodedLen(len(src)) bytes, and returns the number of bytes written. With a
// nil dst it only validates. canonical is false when src is padded, uses the
// standard alphabet or has non-zero trailing bits. bad is the index in src of
// the first byte that makes it undecodable, or -1.
func decodeB64(dst []byte, src string) (n int, canonical bool, bad int) {
	canonical = true
	body := src
	for len(body) > 0 && body[len(body)-1] == '=' {
		body = body[:len(body)-1]
	}
	i := 0
	// Fast paths, for the URL alphabet. Validating only (a nil dst): eight
	// characters at a time.
	if dst == nil {
		for ; i+8 <= len(body); i += 8 {
			q := body[i : i+8]
			if (b64Table[q[0]]|b64Table[q[1]]|b64Table[q[2]]|b64Table[q[3]]|
				b64Table[q[4]]|b64Table[q[5]]|b64Table[q[6]]|b64Table[q[7]])&(b64Std|b64Bad) != 0 {
				break // the quad loop below reports or handles it
			}
			n += 6
		}
	}
	// Sixteen characters make twelve bytes, written as two 8-byte stores
	// while dst has room for them. x and y gather the 6-bit values of each
	// half, the first one highest, in two chains that the processor runs
	// side by side, and acc their flags; shifting x and y rather than each
	// value keeps the value in its register for acc. The quad loop below
	// decodes the rest, and reports or handles any other character.
	pairs := 0
	if dst != nil && len(dst) >= 14 {
		pairs = min(len(body)/16, (len(dst)-14)/12+1)
	}
	for ; i < 16*pairs; i += 16 {
		q := body[i : i+16]
		v := uint64(b64Table[q[0]])
		x, acc := v, v
		v = uint64(b64Table[q[1]])
		x = x<<6 | v
		acc |= v
		v = uint64(b64Table[q[2]])
		x = x<<6 | v
		acc |= v
		v = uint64(b64Table[q[3]])
		x = x<<6 | v
		acc |= v
		v = uint64(b64Table[q[4]])
		x = x<<6 | v
		acc |= v
		v = uint64(b64Table[q[5]])
		x = x<<6 | v
		acc |= v
		v = uint64(b64Table[q[6]])
		x = x<<6 | v
		acc |= v
		v = uint64(b64Table[q[7]])
		x = x<<6 | v
		acc |= v
		v = uint64(b64Table[q[8]])
		y := v
		acc |= v
		v = uint64(b64Table[q[9]])
		y = y<<6 | v
		acc |= v
		v = uint64(b64Table[q[10]])
		y = y<<6 | v
		acc |= v
		v = uint64(b64Table[q[11]])
		y = y<<6 | v
		acc |= v
		v = uint64(b64Table[q[12]])
		y = y<<6 | v
		acc |= v
		v = uint64(b64Table[q[13]])
		y = y<<6 | v
		acc |= v
		v = uint64(b64Table[q[14]])
		y = y<<6 | v
		acc |= v
		v = uint64(b64Table[q[15]])
		y = y<<6 | v
		acc |= v
		if acc&(b64Std|b64Bad) != 0 {
			break
		}
		binary.BigEndian.PutUint64(dst[n:], x<<16)
		binary.BigEndian.PutUint64(dst[n+6:], y<<16)
		n += 12
	}
	for ; i+4 <= len(body); i += 4 {
		q := body[i : i+4]
		a, b, c, d := b64Table[q[0]], b64Table[q[1]], b64Table[q[2]], b64Table[q[3]]
		if (a|b|c|d)&(b64Std|b64Bad) != 0 {
			for k := range 4 {
				if b64Table[q[k]]&b64Bad != 0 {
					return n, false, i + k
				}
			}
			canonical = false
			a, b, c, d = a&63, b&63, c&63, d&63
		}
		if dst != nil {
			o := dst[n : n+3 : n+3]
			o[0] = a<<2 | b>>4
			o[1] = b<<4 | c>>2
			o[2] = c<<6 | d
		}
		n += 3
	}
	rest := body[i:]
	var v [3]byte
	for k := 0; k < len(rest); k++ {
		x := b64Table[rest[k]]
		if x&b64Bad != 0 {
			return n, false, i + k
		}
		if x&b64Std != 0 {
			canonical = false
		}
		v[k] = x & 63
	}
	if len(rest) == 1 { // one character cannot encode a byte
		return n, false, i
	}
	if pad := len(src) - len(body); pad > 0 {
		canonical = false
		if len(rest) == 0 || len(rest)+pad != 4 { // padding must complete the last quad
			return n, false, len(body)
		}
	}
	switch len(rest) {
	case 2:
		if v[1]&0x0f != 0 {
			canonical = false
		}
		if dst != nil {
			dst[n] = v[0]<<2 | v[1]>>4
		}
		n++
	case 3:
		if v[2]&0x03 != 0 {
			canonical = false
		}
		if dst != nil {
			dst[n] = v[0]<<2 | v[1]>>4
			dst[n+1] = v[1]<<4 | v[2]>>2
		}
		n += 2
	}
	return n, canonical, -1
}

// inputOffset maps the index of a decoded byte to the index, within its
// base64 segment, of the first character that encodes it.
func inputOffset(decoded int) int { return decoded/3*4 + decoded%3 }
