package jwtinspect

import (
	"errors"
	"strconv"
)

// Causes of a [*ParseError]. Test for them with [errors.Is].
var (
	// ErrEmpty: the input is empty once white space and a Bearer prefix are removed.
	ErrEmpty = errors.New("empty token")
	// ErrTooLarge: the input is longer than the size cap (see [WithMaxSize]).
	ErrTooLarge = errors.New("token too large")
	// ErrPartCount: a compact token has neither 3 parts (JWS) nor 5 (JWE).
	ErrPartCount = errors.New("wrong number of parts")
	// ErrWhitespace: white space inside a compact token.
	ErrWhitespace = errors.New("white space inside the token")
	// ErrBase64: a segment is not base64url text.
	ErrBase64 = errors.New("illegal base64url data")
	// ErrInvalidJSON: a header, or a JSON serialization, is not valid JSON.
	ErrInvalidJSON = errors.New("invalid JSON")
	// ErrHeaderNotObject: a header is valid JSON but not a JSON object.
	ErrHeaderNotObject = errors.New("not a JSON object")
	// ErrSerialization: a JSON serialization lacks a member it needs, or a
	// member has the wrong type.
	ErrSerialization = errors.New("malformed JSON serialization")
)

// ParseError reports why [Parse] or [CData] refused an input. It never
// contains token text: only the segment's name, an offset and the cause.
type ParseError struct {
	// Segment names the part of the token at fault: "input" for the token as
	// a whole; "header", "payload", "signature" for a compact JWS;
	// "encrypted-key", "iv", "ciphertext", "tag" for a compact JWE; the member
	// path (such as "signatures[1].protected") for a JSON serialization.
	Segment string
	// Offset is the byte offset in the input given to Parse (before
	// [Normalize] trimmed it) of the offending byte or, for a fault in decoded
	// JSON, of the base64url character that encodes the offending byte.
	// It is -1 when no single byte is at fault (empty or oversized input).
	Offset int
	// Err is the cause; one of the Err* variables in this package, possibly
	// wrapped with detail.
	Err error
}

// Error returns "segment: cause at byte N", such as
// "payload: illegal base64url data at byte 57".
func (e *ParseError) Error() string {
	s := e.Segment + ": " + e.Err.Error()
	if e.Offset >= 0 {
		s += " at byte " + strconv.Itoa(e.Offset)
	}
	return s
}

// Unwrap returns the cause.
func (e *ParseError) Unwrap() error { return e.Err }

// detailError is a cause with detail: it reads "<base>: <detail>" and unwraps to base.
type detailError struct {
	base   error
	detail string
}

func (e *detailError) Error() string { return e.base.Error() + " (" + e.detail + ")" }
func (e *detailError) Unwrap() error { return e.base }

// withDetail returns base with a detail that names what exactly is wrong.
func withDetail(base error, detail string) error { return &detailError{base, detail} }
