package lua

import (
	"errors"
	"fmt"
	"math"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// The sandbox: which libraries scripts get, and how what they built at load
// time is made read-only.
//
// Only base, table, string and math are opened, plus a small os with the
// action's time (os.time, os.date, os.difftime; osdate.go). Functions that
// reach the file system, load code at run time or break isolation are
// replaced by stubs that raise an error naming what is not available:
// dofile, loadfile, load, loadstring, module, getfenv, setfenv, newproxy,
// string.dump, the rest of os, and the io, debug and package libraries.
// require only finds the game's own modules (lib/*.lua), while the scripts
// load. collectgarbage does nothing and returns 0. print goes to
// Options.Log. math.random is the per-call seeded generator and
// math.randomseed raises an error. tostring of a table or function is
// "table" or "function", never an address, so it can be stored.
//
// Read-only tables are proxies: an empty table whose protected metatable
// forwards reads (__index, __len) to the real table and refuses writes
// (__newindex). Tracked tables (state.go) are proxies too, whose writes go
// through a host function. The real table is never handed to scripts:
// pairs, ipairs, next, rawget, unpack, table.concat, table.getn and
// table.maxn read through proxies; rawset, table.insert, table.remove and
// table.sort write through tracked proxies and refuse read-only ones.

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

// unavailable lists the stubbed globals and why each is missing.
var unavailable = map[string]string{
	"dofile":     "scripts cannot read files",
	"loadfile":   "scripts cannot read files",
	"load":       "scripts cannot compile code at run time (put it in a file of the game)",
	"loadstring": "scripts cannot compile code at run time (put it in a file of the game)",
	"module":     "use require with the game's own modules (lib/*.lua)",
	"getfenv":    "function environments are fixed",
	"setfenv":    "function environments are fixed",
	"newproxy":   "userdata cannot be created",
	"_printregs": "it is a debugging aid of the interpreter",
}

// unavailableLibs are libraries replaced by a table whose every field
// raises an error.
var unavailableLibs = map[string]string{
	"io":        "scripts have no file access",
	"debug":     "the debug library is not available to game scripts",
	"package":   "use require with the game's own modules (lib/*.lua)",
	"coroutine": "coroutines are not available to game scripts",
	"channel":   "channels are not available to game scripts",
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
	for name, why := range unavailable {
		g.RawSetString(name, r.stub(name, why))
	}
	for name, why := range unavailableLibs {
		g.RawSetString(name, r.stubLib(name, why))
	}
	r.roNewIndex = L.NewFunction(r.luaReadOnlyWrite)
	r.roLen = L.NewFunction(r.luaReadOnlyLen)
	r.trackSet = L.NewFunction(r.luaTrackedSet)
	r.lazyIndex = L.NewFunction(r.luaLazyIndex)

	gfn := func(t *glua.LTable, name string) glua.LGFunction {
		if f, ok := t.RawGetString(name).(*glua.LFunction); ok && f.IsG {
			return f.GFunction
		}
		return nil
	}
	set := func(t *glua.LTable, name string, f glua.LGFunction) { t.RawSetString(name, L.NewFunction(f)) }

	// Base: proxy-aware iteration and raw access.
	rawget := gfn(g, "rawget")
	unpack := gfn(g, "unpack")
	if rawget == nil || unpack == nil {
		return errors.New("base library lacks rawget or unpack")
	}
	r.next = L.NewFunction(r.luaNext)
	g.RawSetString("next", r.next)
	r.ipairsAux = L.NewFunction(r.luaIpairsAux)
	set(g, "pairs", r.luaPairs)
	set(g, "ipairs", r.luaIpairs)
	set(g, "rawget", r.throughProxy(rawget))
	set(g, "unpack", r.throughProxy(unpack))
	set(g, "rawset", r.luaRawset)
	set(g, "print", r.luaLog)
	set(g, "tostring", r.luaTostring)
	for _, name := range []string{"error", "assert"} {
		if f := gfn(g, name); f != nil {
			set(g, name, r.chargeMessage(f, name))
		}
	}
	set(g, "require", r.luaRequire)
	set(g, "collectgarbage", func(L *glua.LState) int {
		L.Push(glua.LNumber(0)) // memory is the engine's business
		return 1
	})

	tbl, ok1 := g.RawGetString("table").(*glua.LTable)
	str, ok2 := g.RawGetString("string").(*glua.LTable)
	mth, ok3 := g.RawGetString("math").(*glua.LTable)
	if !ok1 || !ok2 || !ok3 {
		return errors.New("table, string or math library missing")
	}
	insert, remove, sort := gfn(tbl, "insert"), gfn(tbl, "remove"), gfn(tbl, "sort")
	if insert == nil || remove == nil || sort == nil {
		return errors.New("table library lacks insert, remove or sort")
	}
	set(tbl, "insert", r.tableWrite(insert, "table.insert", true))
	set(tbl, "remove", r.tableWrite(remove, "table.remove", false))
	set(tbl, "sort", r.tableWrite(sort, "table.sort", false))
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
	set(str, "find", r.luaFind)
	set(str, "match", r.luaMatch)
	set(str, "gmatch", r.luaGmatch)
	str.RawSetString("gfind", str.RawGetString("gmatch"))
	for _, name := range []string{"upper", "lower", "reverse"} {
		if f := gfn(str, name); f != nil {
			set(str, name, r.sized(f, "string."+name))
		}
	}
	str.RawSetString("dump", r.stub("string.dump", "compiled code cannot be inspected"))

	set(mth, "random", r.luaRandom)
	set(mth, "randomseed", func(L *glua.LState) int {
		L.RaiseError("math.randomseed is not available: math.random and ctx.random are seeded by the engine for each call")
		return 0
	})
	g.RawSetString("os", r.osLib())
	return nil
}

// stub is a function that raises "<name> is not available: <why>".
func (r *Runtime) stub(name, why string) *glua.LFunction {
	return r.L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("%s is not available: %s", name, why)
		return 0
	})
}

// stubLib is a library table whose every field raises an error.
func (r *Runtime) stubLib(name, why string) *glua.LTable {
	t := r.L.NewTable()
	mt := r.L.NewTable()
	mt.RawSetString("__index", r.L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("%s.%s is not available: %s", name, L.ToStringMeta(L.Get(2)).String(), why)
		return 0
	}))
	t.Metatable = mt
	return t
}

// realTable returns the table a read-only or tracked proxy stands for, or
// t itself.
func (r *Runtime) realTable(t *glua.LTable) *glua.LTable {
	mt, ok := t.Metatable.(*glua.LTable)
	if !ok {
		return t
	}
	if ni := mt.RawGetString("__newindex"); ni != r.roNewIndex && ni != r.trackSet {
		return t
	}
	if real, ok := mt.RawGetString("__index").(*glua.LTable); ok {
		return real
	}
	if rec := r.trackedOf(t); rec != nil {
		return r.realOf(rec) // a lazy state table
	}
	return t
}

// isReadOnly reports whether t is a read-only proxy.
func (r *Runtime) isReadOnly(t *glua.LTable) bool {
	mt, ok := t.Metatable.(*glua.LTable)
	return ok && mt.RawGetString("__newindex") == r.roNewIndex
}

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
	switch L.Get(1) {
	case r.env:
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

// tableWrite wraps table.insert, table.remove or table.sort: read-only
// tables are refused, a tracked table is changed through its real table and
// marked dirty, and an insert position far past the end is refused before
// gopher-lua fills the gap.
func (r *Runtime) tableWrite(f glua.LGFunction, name string, insert bool) glua.LGFunction {
	return func(L *glua.LState) int {
		t, ok := L.Get(1).(*glua.LTable)
		if !ok {
			return f(L)
		}
		if r.isReadOnly(t) {
			L.RaiseError("%s: attempt to modify a read-only table", name)
		}
		real, rec := t, r.trackedOf(t)
		if rec != nil {
			real = r.realOf(rec)
		}
		if insert && L.GetTop() >= 3 {
			if r.budget.arrayWrite(real, float64(L.CheckNumber(2))) {
				L.RaiseError("%s", r.budget.err.msg)
			}
		}
		if n := int64(real.Len()); r.budget.charge(n / 8) {
			L.RaiseError("%s", r.budget.err.msg)
		}
		if rec == nil {
			return f(L)
		}
		L.Replace(1, real)
		rec.sorted = nil
		rec.markDirty()
		return f(L)
	}
}

// luaRawset is rawset: through tracked tables, refused on read-only ones.
func (r *Runtime) luaRawset(L *glua.LState) int {
	t := L.CheckTable(1)
	k, v := L.CheckAny(2), L.CheckAny(3)
	if r.isReadOnly(t) {
		L.RaiseError("rawset: attempt to modify a read-only table")
	}
	if rec := r.trackedOf(t); rec != nil {
		r.trackedWrite(L, rec, k, v)
	} else {
		if n, ok := k.(glua.LNumber); ok && r.budget.arrayWrite(t, float64(n)) {
			L.RaiseError("%s", r.budget.err.msg)
		}
		L.RawSet(t, k, v)
	}
	L.SetTop(1)
	return 1
}

// luaNext is next: in key order over tracked tables and state roots (see
// state.go), in the table's own order otherwise.
func (r *Runtime) luaNext(L *glua.LState) int {
	t := L.CheckTable(1)
	k := L.Get(2)
	if n, ok := r.stateNext(L, t, k); ok {
		return n
	}
	nk, nv := r.realTable(t).Next(k)
	if nk == glua.LNil {
		L.Push(glua.LNil)
		return 1
	}
	L.Push(nk)
	L.Push(nv)
	return 2
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

// chargeMessage wraps error or assert: the message is copied into the error,
// so a loop raising a huge message would allocate without bound.
func (r *Runtime) chargeMessage(f glua.LGFunction, name string) glua.LGFunction {
	n := 1
	if name == "assert" {
		n = 2
	}
	return func(L *glua.LState) int {
		if s, ok := L.Get(n).(glua.LString); ok && r.budget.str(int64(len(s)), name) {
			r.raiseBudget(L)
		}
		return f(L)
	}
}

// luaTostring is tostring without addresses: they differ from run to run,
// and a script may store what tostring returns.
func (r *Runtime) luaTostring(L *glua.LState) int {
	L.Push(glua.LString(r.tostring(L, L.CheckAny(1))))
	return 1
}

func (r *Runtime) tostring(L *glua.LState, v glua.LValue) string {
	switch v := v.(type) {
	case glua.LString:
		return string(v)
	case glua.LNumber, glua.LBool, *glua.LNilType:
		return v.String()
	}
	if L.GetMetaField(v, "__tostring") != glua.LNil {
		return L.ToStringMeta(v).String()
	}
	return v.Type().String()
}

// String builders with a size cap: without it one call can allocate
// gigabytes in a single VM instruction, which no instruction budget can
// stop. What they build is charged to the call's memory budget.

func (r *Runtime) raiseBudget(L *glua.LState) {
	L.RaiseError("%s", r.budget.err.msg)
}

func (r *Runtime) luaRep(L *glua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt64(2)
	if n <= 0 || s == "" {
		L.Push(glua.LString(""))
		return 1
	}
	if n > int64(r.prog.opts.MaxStringBytes/len(s)) {
		r.budget.fail(ErrMemory, "string.rep: a string of %d bytes exceeds the limit of %d", n*int64(len(s)), r.prog.opts.MaxStringBytes)
		r.raiseBudget(L)
	}
	if r.budget.str(n*int64(len(s)), "string.rep") {
		r.raiseBudget(L)
	}
	L.Push(glua.LString(strings.Repeat(s, int(n))))
	return 1
}

// sized wraps a string function whose result is as long as its argument.
func (r *Runtime) sized(f glua.LGFunction, name string) glua.LGFunction {
	return func(L *glua.LState) int {
		if r.budget.str(int64(len(L.CheckString(1))), name) {
			r.raiseBudget(L)
		}
		return f(L)
	}
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
			r.budget.fail(ErrMemory, "table.concat: a string of more than %d bytes exceeds the limit", limit)
			r.raiseBudget(L)
		}
		if k > i {
			b.WriteString(sep)
		}
		b.WriteString(s)
	}
	if r.budget.str(int64(b.Len()), "table.concat") || r.budget.charge(int64(j-i+1)/8) {
		r.raiseBudget(L)
	}
	L.Push(glua.LString(b.String()))
	return 1
}

// checkFormat validates a string.format pattern the way Lua 5.1 does (width
// and precision of at most two digits, known conversions), bounds the
// result before gopher-lua hands it to fmt.Sprintf, and formats tables and
// functions given to %s without their address.
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
			if f[i] == 's' || f[i] == 'q' {
				switch arg.(type) {
				case glua.LString, glua.LNumber:
				default:
					if specs+1 <= L.GetTop() {
						arg = glua.LString(r.tostring(L, arg))
						L.Replace(specs+1, arg)
					}
				}
			}
			if s, ok := arg.(glua.LString); ok {
				size += 2*len(s) + 2 // %q may escape every byte
			}
			size += 100 + 2*99 // room for the widest number or padding
		}
		if size > r.prog.opts.MaxStringBytes {
			r.budget.fail(ErrMemory, "string.format: the result may exceed the limit of %d bytes", r.prog.opts.MaxStringBytes)
			r.raiseBudget(L)
		}
		if r.budget.str(int64(size), "string.format") {
			r.raiseBudget(L)
		}
		return format(L)
	}
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

// luaRequire returns a module of the game (lib/<name>.lua): its chunk runs
// once, while the scripts load, and what it returns is kept.
func (r *Runtime) luaRequire(L *glua.LState) int {
	name := L.CheckString(1)
	if r.loaded {
		L.RaiseError("require(%q): modules can only be required while the scripts load (at the top of a file)", name)
	}
	if v, ok := r.modules[name]; ok {
		if v == nil {
			L.RaiseError("require(%q): a module requires itself (directly or through others)", name)
		}
		L.Push(v)
		return 1
	}
	proto, ok := r.prog.modules[name]
	if !ok {
		L.RaiseError("require(%q): no module %s in the game's lib folder (only the game's own modules can be required)", name, moduleFile(name))
	}
	r.modules[name] = nil // loading
	L.Push(L.NewFunctionFromProto(proto))
	L.Push(glua.LString(name))
	L.Call(1, 1)
	v := L.Get(-1)
	L.Pop(1)
	if v == glua.LNil {
		v = glua.LTrue
	}
	r.modules[name] = v
	L.Push(v)
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
	if f.r.isReadOnly(t) {
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
