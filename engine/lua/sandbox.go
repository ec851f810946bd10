package lua

import (
	"errors"
	"fmt"
	"math"
	"strings"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"
)

// The sandbox: which libraries scripts get, and how what they built at load
// time is made read-only.
//
// Only base, table, string and math are opened. From base, these are removed
// because they reach the file system, load code at run time or break
// isolation: dofile, loadfile, load, loadstring, require, module,
// collectgarbage, getfenv, setfenv, newproxy, _printregs. print goes to
// Options.Log. math.random is the per-call seeded generator and
// math.randomseed raises an error.
//
// Read-only tables are proxies: an empty table whose protected metatable
// forwards reads (__index, __len) to the real table and refuses writes
// (__newindex). The real table is never handed to scripts: pairs, ipairs,
// next, rawget, unpack, table.concat, table.getn and table.maxn read through
// proxies, and rawset, table.insert, table.remove and table.sort refuse them.

// stdlibs are opened in this order.
var stdlibs = []struct {
	name string
	open glua.LGFunction
}{
	{glua.BaseLibName, glua.OpenBase},
	{glua.TabLibName, glua.OpenTable},
	{glua.StringLibName, glua.OpenString},
	{glua.MathLibName, glua.OpenMath},
}

var removedGlobals = []string{
	"dofile", "loadfile", "load", "loadstring", "require", "module",
	"collectgarbage", "getfenv", "setfenv", "newproxy", "_printregs",
}

// openSandbox opens the allowed libraries and installs the wrappers.
func (r *Runtime) openSandbox() error {
	L := r.L
	for _, lib := range stdlibs {
		L.Push(L.NewFunction(lib.open))
		L.Push(glua.LString(lib.name))
		if err := L.PCall(1, 0, nil); err != nil {
			return fmt.Errorf("open %s library: %w", lib.name, err)
		}
	}
	g := L.G.Global
	for _, name := range removedGlobals {
		g.RawSetString(name, glua.LNil)
	}
	r.roNewIndex = L.NewFunction(r.luaReadOnlyWrite)
	r.roLen = L.NewFunction(r.luaReadOnlyLen)

	gfn := func(t *glua.LTable, name string) glua.LGFunction {
		if f, ok := t.RawGetString(name).(*glua.LFunction); ok && f.IsG {
			return f.GFunction
		}
		return nil
	}
	set := func(t *glua.LTable, name string, f glua.LGFunction) { t.RawSetString(name, L.NewFunction(f)) }

	// Base: proxy-aware iteration and raw access.
	next := gfn(g, "next")
	rawget := gfn(g, "rawget")
	unpack := gfn(g, "unpack")
	rawset := gfn(g, "rawset")
	if next == nil || rawget == nil || unpack == nil || rawset == nil {
		return errors.New("base library lacks next, rawget, rawset or unpack")
	}
	r.next = L.NewFunction(r.throughProxy(next))
	g.RawSetString("next", r.next)
	r.ipairsAux = L.NewFunction(r.luaIpairsAux)
	set(g, "pairs", r.luaPairs)
	set(g, "ipairs", r.luaIpairs)
	set(g, "rawget", r.throughProxy(rawget))
	set(g, "unpack", r.throughProxy(unpack))
	set(g, "rawset", r.refuseProxy(rawset, "rawset"))
	set(g, "print", r.luaLog)

	tbl, ok1 := g.RawGetString("table").(*glua.LTable)
	str, ok2 := g.RawGetString("string").(*glua.LTable)
	mth, ok3 := g.RawGetString("math").(*glua.LTable)
	if !ok1 || !ok2 || !ok3 {
		return errors.New("table, string or math library missing")
	}
	for _, name := range []string{"insert", "remove", "sort"} {
		if f := gfn(tbl, name); f != nil {
			set(tbl, name, r.refuseProxy(f, "table."+name))
		}
	}
	for _, name := range []string{"getn", "maxn"} {
		if f := gfn(tbl, name); f != nil {
			set(tbl, name, r.throughProxy(f))
		}
	}
	set(tbl, "concat", r.luaConcat)

	format := gfn(str, "format")
	if format == nil {
		return errors.New("string.format missing")
	}
	set(str, "format", r.checkFormat(format))
	set(str, "rep", r.luaRep)
	set(str, "gsub", r.luaGsub)
	str.RawSetString("dump", glua.LNil)

	set(mth, "random", r.luaRandom)
	set(mth, "randomseed", func(L *glua.LState) int {
		L.RaiseError("math.randomseed is not available: math.random and ctx.random are seeded by the engine for each call")
		return 0
	})
	return nil
}

// realTable returns the table a read-only proxy stands for, or t itself.
func (r *Runtime) realTable(t *glua.LTable) *glua.LTable {
	mt, ok := t.Metatable.(*glua.LTable)
	if !ok || mt.RawGetString("__newindex") != r.roNewIndex {
		return t
	}
	if real, ok := mt.RawGetString("__index").(*glua.LTable); ok {
		return real
	}
	return t
}

func (r *Runtime) isProxy(t *glua.LTable) bool { return r.realTable(t) != t }

// newProxy makes a read-only view of real.
func (r *Runtime) newProxy(real *glua.LTable) *glua.LTable {
	mt := r.L.CreateTable(0, 4)
	mt.RawSetString("__index", real)
	mt.RawSetString("__newindex", r.roNewIndex)
	mt.RawSetString("__len", r.roLen)
	mt.RawSetString("__metatable", glua.LFalse)
	p := r.L.NewTable()
	p.Metatable = mt
	return p
}

func (r *Runtime) luaReadOnlyWrite(L *glua.LState) int {
	if L.Get(1) == r.env {
		L.RaiseError("cannot assign global %s: globals are read-only in handlers (keep state in ctx.state or the player table)", glua.LVAsString(L.Get(2)))
	}
	L.RaiseError("attempt to modify a read-only table")
	return 0
}

func (r *Runtime) luaReadOnlyLen(L *glua.LState) int {
	L.Push(glua.LNumber(r.realTable(L.CheckTable(1)).Len()))
	return 1
}

// throughProxy lets f, which reads its first argument raw, read a proxy's
// real table. The real table only replaces the argument slot of this Go
// call; it never reaches the script.
func (r *Runtime) throughProxy(f glua.LGFunction) glua.LGFunction {
	return func(L *glua.LState) int {
		if t, ok := L.Get(1).(*glua.LTable); ok {
			if real := r.realTable(t); real != t {
				L.Replace(1, real)
			}
		}
		return f(L)
	}
}

// refuseProxy wraps f, which writes its first argument raw, so that it
// refuses read-only tables.
func (r *Runtime) refuseProxy(f glua.LGFunction, name string) glua.LGFunction {
	return func(L *glua.LState) int {
		if t, ok := L.Get(1).(*glua.LTable); ok && r.isProxy(t) {
			L.RaiseError("%s: attempt to modify a read-only table", name)
		}
		return f(L)
	}
}

func (r *Runtime) luaPairs(L *glua.LState) int {
	t := L.CheckTable(1)
	L.Push(r.next)
	L.Push(t)
	L.Push(glua.LNil)
	return 3
}

func (r *Runtime) luaIpairs(L *glua.LState) int {
	t := L.CheckTable(1)
	L.Push(r.ipairsAux)
	L.Push(t)
	L.Push(glua.LNumber(0))
	return 3
}

func (r *Runtime) luaIpairsAux(L *glua.LState) int {
	t := r.realTable(L.CheckTable(1))
	i := L.CheckInt(2) + 1
	v := t.RawGetInt(i)
	if v == glua.LNil {
		return 0
	}
	L.Push(glua.LNumber(i))
	L.Push(v)
	return 2
}

// String builders with a size cap: without it one call can allocate
// gigabytes in a single VM instruction, which no time budget can stop.

func (r *Runtime) luaRep(L *glua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt64(2)
	if n <= 0 || s == "" {
		L.Push(glua.LString(""))
		return 1
	}
	if n > int64(r.prog.opts.MaxStringBytes/len(s)) {
		L.RaiseError("string.rep: result would exceed %d bytes", r.prog.opts.MaxStringBytes)
	}
	L.Push(glua.LString(strings.Repeat(s, int(n))))
	return 1
}

func (r *Runtime) luaConcat(L *glua.LState) int {
	t := r.realTable(L.CheckTable(1))
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := L.OptInt(4, t.Len())
	limit := r.prog.opts.MaxStringBytes
	var b strings.Builder
	for k := i; k <= j; k++ {
		v := t.RawGetInt(k)
		if !glua.LVCanConvToString(v) {
			L.RaiseError("table.concat: invalid value (a %s) at index %d", v.Type(), k)
		}
		s := glua.LVAsString(v)
		if b.Len()+len(s)+len(sep) > limit {
			L.RaiseError("table.concat: result would exceed %d bytes", limit)
		}
		if k > i {
			b.WriteString(sep)
		}
		b.WriteString(s)
	}
	L.Push(glua.LString(b.String()))
	return 1
}

// checkFormat validates a string.format pattern the way Lua 5.1 does (width
// and precision of at most two digits, known conversions) and bounds the
// result before gopher-lua hands it to fmt.Sprintf.
func (r *Runtime) checkFormat(format glua.LGFunction) glua.LGFunction {
	return func(L *glua.LState) int {
		f := L.CheckString(1)
		size, specs := len(f), 0
		for i := 0; i < len(f); i++ {
			if f[i] != '%' {
				continue
			}
			i++
			if i < len(f) && f[i] == '%' {
				continue
			}
			start := i
			for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
				i++
			}
			width := 0
			for i < len(f) && f[i] >= '0' && f[i] <= '9' && width < 3 {
				i, width = i+1, width+1
			}
			prec := 0
			if i < len(f) && f[i] == '.' {
				i++
				for i < len(f) && f[i] >= '0' && f[i] <= '9' && prec < 3 {
					i, prec = i+1, prec+1
				}
			}
			if i-start > 10 || width > 2 || prec > 2 {
				L.RaiseError("string.format: invalid format (flags, width or precision too long)")
			}
			if i >= len(f) || strings.IndexByte("cdiouxXeEfgGqs", f[i]) < 0 {
				L.RaiseError("string.format: invalid conversion in %q", f[start-1:min(i+1, len(f))])
			}
			specs++
			arg := L.Get(specs + 1)
			if s, ok := arg.(glua.LString); ok {
				size += 2*len(s) + 2 // %q may escape every byte
			}
			size += 100 + 2*99 // room for the widest number or padding
		}
		if size > r.prog.opts.MaxStringBytes {
			L.RaiseError("string.format: result may exceed %d bytes", r.prog.opts.MaxStringBytes)
		}
		return format(L)
	}
}

// luaGsub is string.gsub rebuilt on gopher-lua's pattern matcher: the
// original copies the whole string for every replacement (quadratic) and has
// no size cap.
func (r *Runtime) luaGsub(L *glua.LState) int {
	str := L.CheckString(1)
	pat := L.CheckString(2)
	L.CheckTypes(3, glua.LTString, glua.LTTable, glua.LTFunction)
	repl := L.Get(3)
	limit := L.OptInt(4, -1)
	matches, err := pm.Find(pat, []byte(str), 0, limit)
	if err != nil {
		L.RaiseError("string.gsub: %s", err.Error())
	}
	maxLen := r.prog.opts.MaxStringBytes
	var b strings.Builder
	last := 0
	grow := func(s string) {
		if b.Len()+len(s) > maxLen {
			L.RaiseError("string.gsub: result would exceed %d bytes", maxLen)
		}
		b.WriteString(s)
	}
	for _, m := range matches {
		start, end := m.Capture(0), m.Capture(1)
		grow(str[last:start])
		last = end
		whole := str[start:end]
		var out glua.LValue
		switch repl := repl.(type) {
		case glua.LString:
			grow(expandRepl(L, string(repl), m, str))
			continue
		case *glua.LTable:
			out = L.GetTable(repl, captureValue(L, m, str, 1))
		case *glua.LFunction:
			L.Push(repl)
			n := max(1, m.CaptureLength()/2-1)
			for c := 1; c <= n; c++ {
				L.Push(captureValue(L, m, str, c))
			}
			L.Call(n, 1)
			out = L.Get(-1)
			L.Pop(1)
		}
		switch {
		case glua.LVIsFalse(out):
			grow(whole) // false or nil keeps the match
		case glua.LVCanConvToString(out):
			grow(glua.LVAsString(out))
		default:
			L.RaiseError("string.gsub: invalid replacement value (a %s)", out.Type())
		}
	}
	grow(str[last:])
	L.Push(glua.LString(b.String()))
	L.Push(glua.LNumber(len(matches)))
	return 2
}

// captureValue returns capture c (1-based) of m; with no captures, capture 1
// is the whole match. Position captures are numbers.
func captureValue(L *glua.LState, m *pm.MatchData, str string, c int) glua.LValue {
	idx := 2 * c
	if c == 0 || (c == 1 && m.CaptureLength() == 2) {
		idx = 0
	} else if idx >= m.CaptureLength() {
		L.RaiseError("string.gsub: invalid capture index %%%d", c)
	}
	if m.IsPosCapture(idx) {
		return glua.LNumber(m.Capture(idx))
	}
	return glua.LString(str[m.Capture(idx):m.Capture(idx+1)])
}

// expandRepl expands %0-%9 and %% in a gsub replacement string.
func expandRepl(L *glua.LState, repl string, m *pm.MatchData, str string) string {
	if strings.IndexByte(repl, '%') < 0 {
		return repl
	}
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '%' || i+1 == len(repl) {
			b.WriteByte(c)
			continue
		}
		i++
		if d := repl[i]; d >= '0' && d <= '9' {
			b.WriteString(glua.LVAsString(captureValue(L, m, str, int(d-'0'))))
		} else {
			b.WriteByte(d)
		}
	}
	return b.String()
}

// luaRandom is math.random and ctx.random: Lua 5.1 semantics over the
// call's seeded PCG generator.
func (r *Runtime) luaRandom(L *glua.LState) int {
	if !r.inCall {
		L.RaiseError("random numbers are only available inside a handler (they are seeded for each call)")
	}
	switch L.GetTop() {
	case 0:
		L.Push(glua.LNumber(r.rng.Float64()))
	case 1:
		hi := L.CheckInt64(1)
		if hi < 1 {
			L.ArgError(1, "interval is empty")
		}
		L.Push(glua.LNumber(r.rng.Int64N(hi) + 1))
	case 2:
		lo, hi := L.CheckInt64(1), L.CheckInt64(2)
		if lo > hi {
			L.ArgError(2, "interval is empty")
		}
		span := uint64(hi - lo)
		if span == math.MaxUint64 {
			L.ArgError(2, "interval is too large")
		}
		L.Push(glua.LNumber(lo + int64(r.rng.Uint64N(span+1))))
	default:
		L.RaiseError("wrong number of arguments")
	}
	return 1
}

// Freezing: after the scripts ran at load, everything reachable from the
// globals becomes read-only for handlers, so no call can leave state behind
// for the next one.

type freezer struct {
	r      *Runtime
	tables map[*glua.LTable]*glua.LTable // real -> proxy
	funcs  map[*glua.LFunction]bool
	cells  map[*glua.Upvalue]bool
}

func newFreezer(r *Runtime) *freezer {
	return &freezer{
		r:      r,
		tables: make(map[*glua.LTable]*glua.LTable),
		funcs:  make(map[*glua.LFunction]bool),
		cells:  make(map[*glua.Upvalue]bool),
	}
}

func (f *freezer) value(v glua.LValue) (glua.LValue, error) {
	switch v := v.(type) {
	case *glua.LTable:
		return f.table(v)
	case *glua.LFunction:
		return v, f.function(v)
	case *glua.LUserData, *glua.LState, glua.LChannel:
		return nil, fmt.Errorf("a %s cannot be kept across calls", v.Type())
	}
	return v, nil
}

// table returns the proxy of t, making t's contents read-only first.
func (f *freezer) table(t *glua.LTable) (*glua.LTable, error) {
	if p, ok := f.tables[t]; ok {
		return p, nil
	}
	if f.r.isProxy(t) {
		return t, nil
	}
	p := f.r.newProxy(t)
	f.tables[t] = p // before the walk: tables may contain themselves
	return p, f.contents(t)
}

// contents replaces t's table values by proxies, in place.
func (f *freezer) contents(t *glua.LTable) error {
	type entry struct{ k, v glua.LValue }
	var es []entry
	for k, v := t.Next(glua.LNil); k != glua.LNil; k, v = t.Next(k) {
		es = append(es, entry{k, v})
	}
	for _, e := range es {
		switch k := e.k.(type) {
		case *glua.LTable:
			return errors.New("a table used as a table key cannot be kept across calls")
		case *glua.LFunction:
			if err := f.function(k); err != nil {
				return err
			}
		}
		nv, err := f.value(e.v)
		if err != nil {
			return err
		}
		if nv != e.v {
			t.RawSet(e.k, nv)
		}
	}
	if mt, ok := t.Metatable.(*glua.LTable); ok {
		// t keeps its real metatable, unreachable once t is behind a proxy,
		// but what the metatable points to (__index tables) must be
		// read-only too.
		if _, err := f.table(mt); err != nil {
			return err
		}
	}
	return nil
}

// function points a Lua function at the read-only globals and freezes what
// its upvalues hold; it remembers the upvalue cells so that Call can check
// that no handler assigned them.
func (f *freezer) function(fn *glua.LFunction) error {
	if f.funcs[fn] || fn.IsG {
		return nil
	}
	f.funcs[fn] = true
	fn.Env = f.r.env
	for _, uv := range fn.Upvalues {
		if uv == nil || f.cells[uv] {
			continue
		}
		f.cells[uv] = true
		v := uv.Value()
		nv, err := f.value(v)
		if err != nil {
			return err
		}
		if nv != v {
			uv.SetValue(nv)
		}
		f.r.cells = append(f.r.cells, cell{uv: uv, v: nv})
	}
	return nil
}

// cell is a long-lived upvalue (a top-level local captured by a function)
// and the value it must keep.
type cell struct {
	uv *glua.Upvalue
	v  glua.LValue
}

// sameValue is == except that NaN equals NaN.
func sameValue(a, b glua.LValue) bool {
	if a == b {
		return true
	}
	x, ok1 := a.(glua.LNumber)
	y, ok2 := b.(glua.LNumber)
	return ok1 && ok2 && math.IsNaN(float64(x)) && math.IsNaN(float64(y))
}

// freezeGlobals makes the global table, the libraries and everything the
// scripts built read-only, and installs the proxy as every function's
// environment.
func (r *Runtime) freezeGlobals() error {
	g := r.L.G.Global
	f := newFreezer(r)
	r.env = r.newProxy(g)
	f.tables[g] = r.env
	if err := f.contents(g); err != nil {
		return err
	}
	// Strings index the string library through their shared metatable.
	if smt, ok := r.L.GetMetatable(glua.LString("")).(*glua.LTable); ok {
		if err := f.contents(smt); err != nil {
			return err
		}
		smt.RawSetString("__metatable", glua.LFalse)
	}
	for _, fn := range r.handlers {
		if fn != nil {
			if err := f.function(fn); err != nil {
				return err
			}
		}
	}
	r.L.G.Global = r.env
	r.L.Env = r.env
	return nil
}
