// Package jsonr reads the flat JSON objects of the hot paths (a client
// message, an action record) without encoding/json's reflection, which
// costs allocations and, in the gateway's per-message goroutines, stack
// growth. It reads only what it can with certainty: objects of plain
// strings and numbers. For anything else it says Unsure and the caller
// decodes with encoding/json, which stays the reference for both results
// and errors.
package jsonr

import "strconv"

// Kind is what Object.Next found.
type Kind uint8

const (
	// Unsure: the input is not a flat object of plain strings and numbers
	// (or not valid JSON); decode it with encoding/json.
	Unsure Kind = iota
	// End: the object ended, and the input with it (up to white space).
	End
	// String: the value is a string without escapes whose bytes are all
	// printable ASCII, so its bytes are the decoded string.
	String
	// Number: the value is a number, valid by JSON's grammar.
	Number
)

// Object reads the members of one JSON object. The zero Object is Unsure.
type Object struct {
	b       []byte
	i       int
	started bool // a member was read: the next one follows a comma
	ok      bool
}

// NewObject starts reading b, which should hold one JSON object.
func NewObject(b []byte) Object {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return Object{}
	}
	return Object{b: b, i: i + 1, ok: true}
}

// Next returns the next member's key and value: for a String the bytes
// between the quotes, for a Number its text. Keys are Strings too.
// A value is only certain once Next has returned End: the input may
// still turn out to be invalid after it.
func (o *Object) Next() (key, val []byte, k Kind) {
	if !o.ok {
		return nil, nil, Unsure
	}
	o.ok = false // until this member is read
	b := o.b
	i := skipSpace(b, o.i)
	if i >= len(b) {
		return nil, nil, Unsure
	}
	if b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return nil, nil, Unsure // trailing data
		}
		return nil, nil, End
	}
	if o.started {
		if b[i] != ',' {
			return nil, nil, Unsure
		}
		i = skipSpace(b, i+1)
	}
	key, i = str(b, i)
	if i < 0 {
		return nil, nil, Unsure
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return nil, nil, Unsure
	}
	i = skipSpace(b, i+1)
	if i >= len(b) {
		return nil, nil, Unsure
	}
	if b[i] == '"' {
		val, i = str(b, i)
		k = String
	} else {
		val, i = number(b, i)
		k = Number
	}
	if i < 0 {
		return nil, nil, Unsure
	}
	o.i, o.started, o.ok = i, true, true
	return key, val, k
}

// str reads the string starting at b[i] (a quote) and returns its bytes
// and the index after it, or -1 for anything but printable ASCII without
// escapes: encoding/json's unescaping and its replacing of invalid UTF-8
// stay its own.
func str(b []byte, i int) ([]byte, int) {
	if i >= len(b) || b[i] != '"' {
		return nil, -1
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1
		case c < 0x20 || c == '\\' || c >= 0x80:
			return nil, -1
		}
	}
	return nil, -1
}

// number reads the number starting at b[i] by JSON's grammar, returning its
// text and the index after it, or -1. What follows it is checked by the
// next call to Next (so "01" and "1x" are Unsure there).
func number(b []byte, i int) ([]byte, int) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j >= len(b):
		return nil, -1
	case b[j] == '0':
		j++
	case b[j] >= '1' && b[j] <= '9':
		j = digits(b, j+1)
	default:
		return nil, -1
	}
	if j < len(b) && b[j] == '.' {
		k := digits(b, j+1)
		if k == j+1 {
			return nil, -1
		}
		j = k
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		k := digits(b, j)
		if k == j {
			return nil, -1
		}
		j = k
	}
	return b[i:j], j
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// skipSpace skips JSON's white space (the same four bytes encoding/json skips).
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// The conversions below are encoding/json's for a Number decoded into a
// field of that type; false where it would report an error.

// Uint converts a Number as encoding/json does into a uint64.
func Uint(v []byte) (uint64, bool) {
	n, err := strconv.ParseUint(string(v), 10, 64)
	return n, err == nil
}

// Int converts a Number as encoding/json does into an int64.
func Int(v []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}

// Float converts a Number as encoding/json does into a float64.
func Float(v []byte) (float64, bool) {
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil
}
