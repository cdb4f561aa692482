package jwtinspect

import (
	"encoding/json"
	"unsafe"
)

// valueMemory is where a jsonParser keeps the values of one document, so
// that each string, number and array does not cost an allocation of its
// own: encoding/json allocates each one, and on large claims those
// allocations cost more than the parse.
//
// Storage handed out is never written again: a chunk is only appended to,
// and a full chunk is replaced by a new one, which leaves the values
// already made pointing into the old one (which they keep alive).
type valueMemory struct {
	strs  []string // the strings and numbers that interface values point to
	hdrs  [][]any  // the slice headers of arrays, that interface values point to
	arrs  []any    // the backing storage of arrays
	elems []any    // the elements of the arrays being read, innermost last
	used  [3]int   // the values in the full chunks of strs, arrs and hdrs
}

// pushElem appends an element of the array being read to m.elems.
func (m *valueMemory) pushElem(v any) {
	if m.elems == nil {
		m.elems = make([]any, 0, 16)
	}
	m.elems = append(m.elems, v)
}

// eface is the memory layout of an interface value with no methods: a
// word for the dynamic type and a pointer to the value.
type eface struct {
	typ, data unsafe.Pointer
}

// typeWord returns the type word of an interface value.
func typeWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

// The type words of string, json.Number and []any, the dynamic types of
// the values valueMemory makes. They are computed once and never written
// again.
var (
	stringType = typeWord("")
	numberType = typeWord(json.Number(""))
	arrayType  = typeWord([]any(nil))
)

// box returns s as an interface value of the type whose type word is typ
// (string or json.Number, which share the memory layout of a string).
// pos and textLen, the position in the JSON text and its length, size a
// new chunk.
//
// any(s) would allocate a string header for each value; box stores the
// header in a chunk shared by many values and makes the interface value
// point to it, as the runtime itself would if it had allocated it there.
func (m *valueMemory) box(s string, typ unsafe.Pointer, pos, textLen int) any {
	if len(m.strs) == cap(m.strs) {
		m.used[0] += len(m.strs)
		m.strs = make([]string, 0, chunkSize(m.used[0], pos, textLen))
	}
	m.strs = append(m.strs, s)
	return makeAny(typ, unsafe.Pointer(&m.strs[len(m.strs)-1]))
}

// makeAny returns the interface value of dynamic type typ whose value is
// at data, which must never be written again.
func makeAny(typ, data unsafe.Pointer) any {
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = typ, data
	return v
}

// array returns, as an interface value, a new slice with the elements of
// src, with its length as its capacity (so that an append to it cannot
// reach its neighbours). pos and textLen size a new chunk, as for box.
//
// Both the elements and the slice header live in chunks: any(a) would
// allocate the header of each array.
func (m *valueMemory) array(src []any, pos, textLen int) any {
	a := []any{} // an empty JSON array is an empty, not nil, slice
	if len(src) > 0 {
		if cap(m.arrs)-len(m.arrs) < len(src) {
			m.used[1] += len(m.arrs)
			m.arrs = make([]any, 0, len(src)+chunkSize(m.used[1], pos, textLen))
		}
		at := len(m.arrs)
		m.arrs = append(m.arrs, src...)
		a = m.arrs[at : at+len(src) : at+len(src)]
	}
	if len(m.hdrs) == cap(m.hdrs) {
		m.used[2] += len(m.hdrs)
		m.hdrs = make([][]any, 0, max(chunkSize(m.used[2], pos, textLen)/4, 4))
	}
	m.hdrs = append(m.hdrs, a)
	return makeAny(arrayType, unsafe.Pointer(&m.hdrs[len(m.hdrs)-1]))
}

// chunkSize returns the number of values of a new chunk, when used values
// were stored before position pos of a JSON text of textLen bytes: enough
// for the rest of the text at the density seen so far (at first, a value
// every 32 bytes), and a few more.
func chunkSize(used, pos, textLen int) int {
	rest := textLen - pos
	if used == 0 || pos == 0 {
		return min(max(rest/32, 4), 1024)
	}
	return min(rest*used/pos+4, 4096)
}
