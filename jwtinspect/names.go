package jwtinspect

import (
	"slices"
	"strings"
	"unsafe"
)

// nameStack holds the member names of the objects a scanner is in,
// innermost last, so that [Summary.Parse] finds duplicate members at any
// depth without a map, and with memory it reuses from token to token.
//
// Names are kept as spans of the text, not as strings: a string would
// point into the text, which the escape analysis would then move to the
// heap for every scanner, CData's included.
type nameStack struct {
	spans []nameSpan
	arena []byte // the decoded names that had escapes
}

// nameSpan is one member name: text[off:end], or arena[off:end] when the
// name was decoded.
type nameSpan struct {
	off, end int
	decoded  bool
}

// linearDupCheck is the most names of one object that pop compares pair by
// pair; more are sorted first.
const linearDupCheck = 16

// reset empties the stack, keeping its memory.
func (ns *nameStack) reset() {
	ns.spans, ns.arena = ns.spans[:0], ns.arena[:0]
}

// push adds the member name whose string literal, which the scanner
// accepted, is text[start:end], and returns it decoded: the string is valid
// until the stack is reset.
func (ns *nameStack) push(text string, start, end int) string {
	inner := text[start+1 : end-1]
	if strings.IndexByte(inner, '\\') < 0 {
		// Invalid UTF-8 would need decoding too, but then the scanner's
		// invalidUTF8 sends the token to Parse anyway.
		ns.spans = append(ns.spans, nameSpan{off: start + 1, end: end - 1})
		return inner
	}
	at := len(ns.arena)
	ns.arena, _ = appendUnquote(ns.arena, inner)
	ns.spans = append(ns.spans, nameSpan{off: at, end: len(ns.arena), decoded: true})
	return ns.name(text, ns.spans[len(ns.spans)-1])
}

// name returns the name sp stands for, valid until the stack is reset.
func (ns *nameStack) name(text string, sp nameSpan) string {
	if !sp.decoded {
		return text[sp.off:sp.end]
	}
	if sp.off == sp.end {
		return ""
	}
	// The arena is only appended to until reset, and a reallocation leaves
	// the old bytes to the strings that point to them.
	return unsafe.String(&ns.arena[sp.off], sp.end-sp.off)
}

// pop removes the names of the object that ends, those from index base
// on, and reports whether two of them are the same.
func (ns *nameStack) pop(text string, base int) (dup bool) {
	names := ns.spans[base:]
	if len(names) <= linearDupCheck {
		for i := 1; i < len(names) && !dup; i++ {
			a := ns.name(text, names[i])
			for _, b := range names[:i] {
				if ns.name(text, b) == a {
					dup = true
					break
				}
			}
		}
	} else {
		// Copy the names to the arena and sort them there: a sort function
		// that read the text would move it to the heap.
		for i, sp := range names {
			if !sp.decoded {
				at := len(ns.arena)
				ns.arena = append(ns.arena, text[sp.off:sp.end]...)
				names[i] = nameSpan{off: at, end: len(ns.arena), decoded: true}
			}
		}
		slices.SortFunc(names, func(a, b nameSpan) int {
			return strings.Compare(ns.name("", a), ns.name("", b))
		})
		for i := 1; i < len(names) && !dup; i++ {
			dup = ns.name("", names[i]) == ns.name("", names[i-1])
		}
	}
	ns.spans = ns.spans[:base]
	return dup
}
