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
	r     *Runtime // sees through proxies; nil for plain Lua values (tests)
	buf   []byte
	path  []*glua.LTable // tables being encoded, to detect cycles
	pairs [][]kv         // scratch per depth

	// While encoding a state after a call (encodeState): the state, the
	// pass number, whether the tables are still exactly what decoding the
	// JSON would give, and the plain tables adopted in this call's passes.
	state     *stateRoot
	epoch     uint64
	canonical bool
	adopted   map[*glua.LTable]bool
	badUTF8   bool
}

type kv struct {
	k   string
	n   float64
	num bool // the key is the number n, not the string k
	v   glua.LValue
}

func (p *kv) key() glua.LValue {
	if p.num {
		return glua.LNumber(p.n)
	}
	return glua.LString(p.k)
}

// encode returns a fresh copy of v encoded as JSON.
func (e *encoder) encode(v glua.LValue) ([]byte, error) {
	e.buf = e.buf[:0]
	e.path = e.path[:0]
	if _, err := e.value(v, 0, nil); err != nil {
		return nil, err
	}
	return slices.Clone(e.buf), nil
}

// encodeState encodes a state root after a call, adopting the tables the
// call created. canonical reports whether the tables may be kept for the
// next call (see state.go). The bytes are the encoder's buffer, valid until
// its next use.
func (e *encoder) encodeState(root *stateRoot) (b []byte, canonical bool, err error) {
	e.buf = e.buf[:0]
	e.path = e.path[:0]
	e.state, e.canonical = root, true
	e.epoch++
	defer func() { e.state = nil }()
	if _, err := e.table(root.table, 0, nil); err != nil {
		return nil, false, err
	}
	return e.buf, e.canonical, nil
}

// value encodes v. For a plain table adopted into a state it returns the
// proxy that replaces it in its parent.
func (e *encoder) value(v glua.LValue, depth int, parent *tracked) (glua.LValue, error) {
	switch v := v.(type) {
	case *glua.LNilType:
		e.buf = append(e.buf, "null"...)
	case glua.LBool:
		e.buf = strconv.AppendBool(e.buf, bool(v))
	case glua.LNumber:
		return nil, e.number(float64(v))
	case glua.LString:
		e.buf = e.appendString(e.buf, string(v))
	case *glua.LTable:
		return e.table(v, depth, parent)
	default:
		return nil, fmt.Errorf("cannot encode a %s value as JSON", v.Type())
	}
	return nil, nil
}

func (e *encoder) appendString(b []byte, s string) []byte {
	b, ok := appendJSONString(b, s)
	if !ok {
		e.canonical = false // decoding gives U+FFFD, not these bytes
	}
	return b
}

func (e *encoder) number(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("cannot encode %v as JSON", f)
	}
	// Below 2^53 every integral float is exact, so print it as an integer.
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		if f == 0 && math.Signbit(f) {
			e.canonical = false // -0 is written 0
		}
		e.buf = strconv.AppendInt(e.buf, int64(f), 10)
		return nil
	}
	e.buf = strconv.AppendFloat(e.buf, f, 'g', -1, 64)
	return nil
}

func (e *encoder) table(t *glua.LTable, depth int, parent *tracked) (glua.LValue, error) {
	var (
		real  = t
		rec   *tracked
		adopt *tracked // a plain table becoming part of the state
	)
	if e.r != nil {
		if rec = e.r.trackedOf(t); rec != nil {
			if e.state != nil {
				if rec.root != e.state || rec.parent != parent || rec.epoch == e.epoch {
					e.canonical = false // moved, shared, or from another state
				}
				rec.epoch = e.epoch
			}
			if !rec.dirty && rec.enc != nil {
				e.buf = append(e.buf, rec.enc...)
				return nil, nil
			}
			real = e.r.realOf(rec)
		} else if rt := e.r.realTable(t); rt != t {
			real = rt // a read-only host table (ctx.hunt, ctx.action...)
			if e.state != nil {
				e.canonical = false
			}
		} else if e.state != nil && depth > 0 {
			switch {
			case t.Metatable != glua.LNil, e.adopted[t], e.r.rootOf(t) != nil, t == e.r.posTable:
				e.canonical = false
			default:
				adopt = e.r.track(t, e.state, parent)
				if e.adopted == nil {
					e.adopted = make(map[*glua.LTable]bool)
				}
				e.adopted[t] = true
			}
		} else if e.state != nil && t.Metatable != glua.LNil {
			e.canonical = false // a root with a metatable
		}
	}
	if depth >= maxDepth {
		return nil, fmt.Errorf("table nesting deeper than %d", maxDepth)
	}
	if slices.Contains(e.path, real) {
		return nil, errors.New("cannot encode a table that contains itself")
	}
	e.path = append(e.path, real)
	defer func() { e.path = e.path[:len(e.path)-1] }()

	self := rec
	if adopt != nil {
		self = adopt
	}
	start := len(e.buf)
	var (
		live int
		err  error
	)
	if depth == 0 && e.state != nil && e.state.table == real {
		live, err = e.rootEntries(e.state)
	} else {
		live, err = e.entries(real, depth, self)
	}
	if err != nil {
		return nil, err
	}
	if e.state == nil {
		return nil, nil
	}
	if self != nil {
		self.enc = slices.Clone(e.buf[start:])
		self.dirty = false
		e.r.compact(self, live)
	} else if depth == 0 && keySlots(real) > 2*live+maxGarbageKeys {
		e.canonical = false // a root remembering many deleted keys: decode it afresh
	}
	if adopt != nil {
		return adopt.proxy, nil
	}
	return nil, nil
}

// entries encodes the contents of t as an array or an object and returns
// how many entries it has. self is t's record when t is (becoming) tracked.
func (e *encoder) entries(t *glua.LTable, depth int, self *tracked) (int, error) {
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
			return 0, fmt.Errorf("cannot encode a table with a %s key as JSON", k.Type())
		}
	}
	defer func() { e.pairs[depth] = ps[:0] }()

	if len(ps) == 0 {
		e.buf = append(e.buf, "{}"...)
		return 0, nil
	}
	if arrayLike {
		// Integer keys >= 1: an array if they are exactly 1..n.
		slices.SortFunc(ps, func(a, b kv) int { return cmpFloat(a.n, b.n) })
		arrayLike = ps[len(ps)-1].n == float64(len(ps))
	}
	if arrayLike {
		e.buf = append(e.buf, '[')
		for i := range ps {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.child(t, &ps[i], depth, self); err != nil {
				return 0, err
			}
		}
		e.buf = append(e.buf, ']')
		return len(ps), nil
	}
	// An object: JSON keys are strings, so numeric keys are written in
	// decimal (they come back as strings when decoded).
	for i := range ps {
		if ps[i].num {
			ps[i].k = formatKey(ps[i].n)
			e.canonical = false
		}
	}
	slices.SortFunc(ps, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	e.buf = append(e.buf, '{')
	for i := range ps {
		if i > 0 {
			if ps[i].k == ps[i-1].k {
				return 0, fmt.Errorf("table has both a number and a string key %q", ps[i].k)
			}
			e.buf = append(e.buf, ',')
		}
		e.buf = e.appendString(e.buf, ps[i].k)
		e.buf = append(e.buf, ':')
		if err := e.child(t, &ps[i], depth, self); err != nil {
			return 0, err
		}
	}
	e.buf = append(e.buf, '}')
	return len(ps), nil
}

// rootEntries is entries for a state root, which most calls change in a
// few fields but whose set of keys rarely changes: it walks the sorted key
// list of the previous call while the table has seen no new key (gopher-lua
// appends every new hash key to a list, whose length tells), instead of
// collecting and sorting the keys again.
func (e *encoder) rootEntries(root *stateRoot) (int, error) {
	t := root.table
	ks := keySlice(t)
	if !probeOK || arrayLen(t) != 0 || len(ks) == 0 {
		root.order = nil
		return e.entries(t, 0, nil)
	}
	if root.order == nil || root.slots != len(ks) {
		order := root.order[:0]
		for _, k := range ks {
			s, ok := k.(glua.LString)
			if !ok {
				root.order = nil
				return e.entries(t, 0, nil)
			}
			prefix, ok := appendJSONString(nil, string(s))
			if !ok {
				root.order = nil
				return e.entries(t, 0, nil)
			}
			order = append(order, rootKey{key: string(s), prefix: append(prefix, ':')})
		}
		slices.SortFunc(order, func(a, b rootKey) int { return strings.Compare(a.key, b.key) })
		root.order, root.slots = order, len(ks)
	}
	// Values equal to the previous call's (numbers, strings, booleans) are
	// copied from its bytes.
	old := root.bytes
	e.buf = append(e.buf, '{')
	live := 0
	for i := range root.order {
		rk := &root.order[i]
		v := t.RawGetString(rk.key)
		if v == glua.LNil {
			rk.val, rk.rec, rk.reusable = glua.LNil, nil, false
			continue
		}
		if live > 0 {
			e.buf = append(e.buf, ',')
		}
		live++
		e.buf = append(e.buf, rk.prefix...)
		start := len(e.buf)
		if rk.reusable && rk.end <= len(old) && v == rk.val && v != glua.LNumber(0) { // 0 == -0
			e.buf = append(e.buf, old[rk.start:rk.end]...)
		} else {
			p := kv{k: rk.key, v: v}
			if err := e.child(t, &p, 0, nil); err != nil {
				return 0, err
			}
		}
		rk.rec, rk.reusable = nil, false
		switch v.(type) {
		case glua.LNumber, glua.LString, glua.LBool:
			rk.reusable = true
		case *glua.LTable:
			v = t.RawGetString(rk.key) // an adopted table was replaced by its proxy
			if rec := e.r.trackedOf(v.(*glua.LTable)); rec != nil && rec.root == e.state && rec.parent == nil {
				rk.rec = rec
			}
		}
		rk.val = v
		rk.start, rk.end = start, len(e.buf)
	}
	if live == 0 {
		e.buf = append(e.buf[:len(e.buf)-1], "{}"...)
		return 0, nil
	}
	e.buf = append(e.buf, '}')
	return live, nil
}

// child encodes one value of t and stores the proxy of an adopted table.
func (e *encoder) child(t *glua.LTable, p *kv, depth int, self *tracked) error {
	repl, err := e.value(p.v, depth+1, self)
	if err != nil {
		return err
	}
	if repl != nil {
		t.RawSet(p.key(), repl)
	}
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
// like encoding/json does, and ok is false.
func appendJSONString(b []byte, s string) (_ []byte, ok bool) {
	ok = true
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
			ok = false
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
	return append(b, '"'), ok
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

	// Decoding a state (decodeRoot, materialize): a table below the top
	// one becomes a lazy tracked table of root whose parent is parent,
	// holding its JSON until a handler touches it (state.go).
	r      *Runtime
	root   *stateRoot
	parent *tracked
	track  bool
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
	case (c == '{' || c == '[') && d.track && depth > 0:
		start := d.i
		if err := d.skip(depth); err != nil {
			return nil, err
		}
		return d.r.trackLazy(d.s[start:d.i], d.root, d.parent).proxy, nil
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

// skip moves past one JSON value, checking it, without building it.
func (d *decoder) skip(depth int) error {
	if d.i >= len(d.s) {
		return d.errorf("unexpected end")
	}
	if depth >= maxDepth {
		return d.errorf("nesting deeper than %d", maxDepth)
	}
	switch c := d.s[d.i]; {
	case c == '{' || c == '[':
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		d.i++
		d.skipSpace()
		if d.i < len(d.s) && d.s[d.i] == closing {
			d.i++
			return nil
		}
		for {
			d.skipSpace()
			if c == '{' {
				if d.i >= len(d.s) || d.s[d.i] != '"' {
					return d.errorf("expected a string key")
				}
				if err := d.skipString(); err != nil {
					return err
				}
				d.skipSpace()
				if d.i >= len(d.s) || d.s[d.i] != ':' {
					return d.errorf("expected : after key")
				}
				d.i++
				d.skipSpace()
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.skipSpace()
			if d.i >= len(d.s) {
				return d.errorf("unterminated object or array")
			}
			if d.s[d.i] == ',' {
				d.i++
				continue
			}
			if d.s[d.i] != closing {
				return d.errorf("expected , or %c", closing)
			}
			d.i++
			return nil
		}
	case c == '"':
		return d.skipString()
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		_, err := d.number()
		return err
	}
	return d.errorf("unexpected %q", d.s[d.i])
}

// skipString moves past a string, checking its escapes.
func (d *decoder) skipString() error {
	start := d.i
	d.i++
	for d.i < len(d.s) {
		switch c := d.s[d.i]; {
		case c == '"':
			d.i++
			return nil
		case c == '\\':
			d.i = start
			_, err := d.str() // the slow path checks escapes
			return err
		case c < 0x20:
			return d.errorf("control character in string")
		default:
			d.i++
		}
	}
	return d.errorf("unterminated string")
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
