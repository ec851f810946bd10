package lua

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	glua "github.com/yuin/gopher-lua"
)

// maxDepth bounds nesting in both directions: a cyclic or absurdly deep table
// must fail cleanly instead of exhausting the Go stack.
const maxDepth = 64

// Encoding: Lua value -> JSON.
//
// The bytes must be identical for identical tables whatever the insertion
// history, because they are stored and replayed: object keys are sorted
// (LTable iteration order is not), a table whose keys are exactly 1..n is an
// array, an empty table is {}, integral numbers print as integers.

// encoder turns Lua values into JSON. It reuses its scratch buffers, so it
// belongs to one Runtime.
type encoder struct {
	real  func(*glua.LTable) *glua.LTable // sees through read-only proxies
	buf   []byte
	path  []*glua.LTable // tables being encoded, to detect cycles
	pairs [][]kv         // scratch per depth
}

type kv struct {
	k   string
	n   float64
	num bool // the key is the number n, not the string k
	v   glua.LValue
}

// encode returns a fresh copy of v encoded as JSON.
func (e *encoder) encode(v glua.LValue) ([]byte, error) {
	e.buf = e.buf[:0]
	e.path = e.path[:0]
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return slices.Clone(e.buf), nil
}

func (e *encoder) value(v glua.LValue, depth int) error {
	switch v := v.(type) {
	case *glua.LNilType:
		e.buf = append(e.buf, "null"...)
	case glua.LBool:
		e.buf = strconv.AppendBool(e.buf, bool(v))
	case glua.LNumber:
		return e.number(float64(v))
	case glua.LString:
		e.buf = appendJSONString(e.buf, string(v))
	case *glua.LTable:
		return e.table(v, depth)
	default:
		return fmt.Errorf("cannot encode a %s value as JSON", v.Type())
	}
	return nil
}

func (e *encoder) number(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("cannot encode %v as JSON", f)
	}
	// Below 2^53 every integral float is exact, so print it as an integer.
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		e.buf = strconv.AppendInt(e.buf, int64(f), 10)
		return nil
	}
	e.buf = strconv.AppendFloat(e.buf, f, 'g', -1, 64)
	return nil
}

func (e *encoder) table(t *glua.LTable, depth int) error {
	if e.real != nil {
		t = e.real(t)
	}
	if depth >= maxDepth {
		return fmt.Errorf("table nesting deeper than %d", maxDepth)
	}
	if slices.Contains(e.path, t) {
		return errors.New("cannot encode a table that contains itself")
	}
	e.path = append(e.path, t)
	defer func() { e.path = e.path[:len(e.path)-1] }()

	for len(e.pairs) <= depth {
		e.pairs = append(e.pairs, nil)
	}
	ps := e.pairs[depth][:0]
	arrayLike := true
	for k, v := t.Next(glua.LNil); k != glua.LNil; k, v = t.Next(k) {
		switch k := k.(type) {
		case glua.LString:
			arrayLike = false
			ps = append(ps, kv{k: string(k), v: v})
		case glua.LNumber:
			f := float64(k)
			if f != math.Trunc(f) || f < 1 {
				arrayLike = false
			}
			ps = append(ps, kv{n: f, num: true, v: v})
		default:
			return fmt.Errorf("cannot encode a table with a %s key as JSON", k.Type())
		}
	}
	defer func() { e.pairs[depth] = ps[:0] }()

	if len(ps) == 0 {
		e.buf = append(e.buf, "{}"...)
		return nil
	}
	if arrayLike {
		// Integer keys >= 1: an array if they are exactly 1..n.
		slices.SortFunc(ps, func(a, b kv) int { return cmpFloat(a.n, b.n) })
		arrayLike = ps[len(ps)-1].n == float64(len(ps))
	}
	if arrayLike {
		e.buf = append(e.buf, '[')
		for i, p := range ps {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(p.v, depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
		return nil
	}
	// An object: JSON keys are strings, so numeric keys are written in
	// decimal (they come back as strings when decoded).
	for i := range ps {
		if ps[i].num {
			ps[i].k = formatKey(ps[i].n)
		}
	}
	slices.SortFunc(ps, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	e.buf = append(e.buf, '{')
	for i, p := range ps {
		if i > 0 {
			if p.k == ps[i-1].k {
				return fmt.Errorf("table has both a number and a string key %q", p.k)
			}
			e.buf = append(e.buf, ',')
		}
		e.buf = appendJSONString(e.buf, p.k)
		e.buf = append(e.buf, ':')
		if err := e.value(p.v, depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

func formatKey(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string; invalid UTF-8 becomes U+FFFD
// like encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 break JavaScript parsers that eval JSON.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Decoding: JSON -> Lua value.
//
// Object keys are inserted in sorted order so that `pairs` walks them in the
// same order on every replay. Numbers become Lua numbers (float64); object
// keys stay strings; null becomes nil (a null array element leaves a hole).

type decoder struct {
	L    *glua.LState
	s    []byte
	i    int
	kvs  [][]kv            // scratch per depth
	strs map[string]string // interned short strings: keys and ids repeat on every call
}

// Interning bounds: strings longer than maxIntern are rarely repeated, and
// the table starts over when full so a stream of unique ids cannot grow it.
const (
	maxIntern     = 64
	maxInternSize = 1 << 14
)

func (d *decoder) intern(b []byte) string {
	if len(b) > maxIntern {
		return string(b)
	}
	if s, ok := d.strs[string(b)]; ok { // no allocation for the lookup
		return s
	}
	if d.strs == nil || len(d.strs) >= maxInternSize {
		d.strs = make(map[string]string, 256)
	}
	s := string(b)
	d.strs[s] = s
	return s
}

func (d *decoder) decode(data []byte) (glua.LValue, error) {
	d.s, d.i = data, 0
	d.skipSpace()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.i != len(d.s) {
		return nil, d.errorf("unexpected data after the value")
	}
	return v, nil
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", d.i, fmt.Sprintf(format, args...))
}

func (d *decoder) skipSpace() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (glua.LValue, error) {
	if d.i >= len(d.s) {
		return nil, d.errorf("unexpected end")
	}
	if depth >= maxDepth {
		return nil, d.errorf("nesting deeper than %d", maxDepth)
	}
	switch c := d.s[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		s, err := d.str()
		return glua.LString(s), err
	case c == 't':
		return glua.LTrue, d.literal("true")
	case c == 'f':
		return glua.LFalse, d.literal("false")
	case c == 'n':
		return glua.LNil, d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	default:
		return nil, d.errorf("unexpected %q", c)
	}
}

func (d *decoder) literal(word string) error {
	if !strings.HasPrefix(string(d.s[d.i:min(len(d.s), d.i+len(word))]), word) {
		return d.errorf("invalid literal")
	}
	d.i += len(word)
	return nil
}

func (d *decoder) number() (glua.LValue, error) {
	start := d.i
	for d.i < len(d.s) {
		c := d.s[d.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			d.i++
			continue
		}
		break
	}
	f, err := strconv.ParseFloat(string(d.s[start:d.i]), 64)
	if err != nil {
		return nil, d.errorf("invalid number %q", d.s[start:d.i])
	}
	return glua.LNumber(f), nil
}

func (d *decoder) str() (string, error) {
	d.i++ // opening quote
	start := d.i
	for d.i < len(d.s) {
		switch c := d.s[d.i]; {
		case c == '"':
			s := d.intern(d.s[start:d.i])
			d.i++
			return s, nil
		case c == '\\':
			return d.escapedStr(start)
		case c < 0x20:
			return "", d.errorf("control character in string")
		default:
			d.i++
		}
	}
	return "", d.errorf("unterminated string")
}

// escapedStr finishes a string that has escapes (the slow path).
func (d *decoder) escapedStr(start int) (string, error) {
	b := append([]byte(nil), d.s[start:d.i]...)
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			return string(b), nil
		case c < 0x20:
			return "", d.errorf("control character in string")
		case c != '\\':
			b = append(b, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.s) {
			break
		}
		d.i += 2
		switch e := d.s[d.i-1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if d.i+1 < len(d.s) && d.s[d.i] == '\\' && d.s[d.i+1] == 'u' {
					d.i += 2
					if lo, ok := d.hex4(); ok {
						r2 = utf16.DecodeRune(r, lo)
					}
				}
				r = r2
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", d.errorf("invalid escape \\%c", e)
		}
	}
	return "", d.errorf("unterminated string")
}

func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.s) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(d.s[d.i:d.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	d.i += 4
	return rune(n), true
}

func (d *decoder) array(depth int) (glua.LValue, error) {
	d.i++ // [
	for len(d.kvs) <= depth {
		d.kvs = append(d.kvs, nil)
	}
	vs := d.kvs[depth][:0]
	defer func() { d.kvs[depth] = vs[:0] }()
	d.skipSpace()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		return d.L.CreateTable(0, 0), nil
	}
	for {
		d.skipSpace()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		vs = append(vs, kv{v: v})
		d.skipSpace()
		if d.i >= len(d.s) {
			return nil, d.errorf("unterminated array")
		}
		if d.s[d.i] == ',' {
			d.i++
			continue
		}
		if d.s[d.i] != ']' {
			return nil, d.errorf("expected , or ] in array")
		}
		d.i++
		break
	}
	// Sized tables: gopher-lua's default table preallocates 32 slots and a
	// 32-entry map, which dominated the cost of decoding small sessions.
	t := d.L.CreateTable(len(vs), 0)
	for n, e := range vs {
		if e.v != glua.LNil {
			t.RawSetInt(n+1, e.v)
		}
	}
	return t, nil
}

func (d *decoder) object(depth int) (glua.LValue, error) {
	d.i++ // {
	for len(d.kvs) <= depth {
		d.kvs = append(d.kvs, nil)
	}
	ps := d.kvs[depth][:0]
	defer func() { d.kvs[depth] = ps[:0] }()
	d.skipSpace()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return d.L.CreateTable(0, 0), nil
	}
	for {
		d.skipSpace()
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return nil, d.errorf("expected a string key")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return nil, d.errorf("expected : after key")
		}
		d.i++
		d.skipSpace()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		ps = append(ps, kv{k: k, v: v})
		d.skipSpace()
		if d.i >= len(d.s) {
			return nil, d.errorf("unterminated object")
		}
		if d.s[d.i] == ',' {
			d.i++
			continue
		}
		if d.s[d.i] != '}' {
			return nil, d.errorf("expected , or } in object")
		}
		d.i++
		break
	}
	// Our own output is already sorted; only foreign input pays for sorting.
	cmp := func(a, b kv) int { return strings.Compare(a.k, b.k) }
	if !slices.IsSortedFunc(ps, cmp) {
		slices.SortStableFunc(ps, cmp)
	}
	t := d.L.CreateTable(0, len(ps))
	for _, p := range ps {
		if p.v != glua.LNil {
			t.RawSetString(p.k, p.v) // a duplicate key: the last one wins, as in encoding/json
		}
	}
	return t, nil
}
