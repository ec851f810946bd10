package lua

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// State tables: decoding once, encoding only what changed.
//
// The hunt state and each player's session arrive as JSON and leave as
// JSON. Decoding them into Lua tables and encoding them back on every call
// dominated the cost of a handler (a hunt state with 100 first finders took
// ~150 µs a call). So a Runtime keeps, per hunt and per player, the tables
// it decoded together with the bytes they encode to; when the next call
// brings the same bytes (core stores what the last call returned), the
// tables are reused as they are.
//
// Reuse must be invisible: a call on cached tables must do exactly what it
// would do on tables freshly decoded from the same bytes, or a replay from
// the store would differ from the live run. Three things make it so:
//
//  1. Every table below a state root is *tracked*: scripts get an empty
//     proxy whose protected metatable reads from the real table (__index)
//     and sends every write through a host function (__newindex) that marks
//     the table and its ancestors dirty. A clean table keeps its encoding,
//     so encoding a player whose `found` did not change copies its bytes.
//     The roots themselves (ctx.state, player) are plain tables, encoded
//     after every call; most calls change them anyway.
//  2. Iteration never depends on history: next/pairs over a tracked table
//     or a root walk the keys sorted (numbers, then strings), the order in
//     which decoding inserts them.
//  3. After each call the encoder checks that the tables are exactly what
//     decoding their JSON would give: string keys in objects, arrays without
//     holes, no metatables, no table reachable twice or from two states, no
//     read-only host tables, valid UTF-8, no negative zero. A tree that
//     fails the check is encoded (the bytes are right) but not kept: the
//     next call decodes it afresh. Tables the handler created are adopted
//     (made tracked) on the way.
//
// Any failed call drops the cached tables it touched: they may be half
// modified.

// tracked is the bookkeeping of one table from a stored state. A table
// decoded from the store starts lazy: real is nil and enc holds its JSON,
// decoded (materialize) when a handler first reads, writes or walks it, so
// what a call does not touch is never decoded.
type tracked struct {
	real, proxy, meta *glua.LTable
	parent            *tracked   // nil directly below the root
	root              *stateRoot // the state it belongs to
	dirty             bool       // written since enc was made
	enc               []byte     // the table's JSON, valid while !dirty
	sorted            []glua.LValue
	cursor            int    // index in sorted of the last key next returned
	epoch             uint64 // the last encoding pass that reached it
	deletes           int
}

// stateRoot is one decoded state: a hunt's or a player's.
type stateRoot struct {
	key    stateKey
	table  *glua.LTable // plain: scripts read and write it directly
	bytes  []byte       // what table encodes to (nil until encoded)
	sorted []glua.LValue
	cursor int
	// The root's string keys, sorted, deleted ones included, as of when
	// the table held slots hash keys, with what each encoded to in bytes:
	// the encoder's shortcut (json.go).
	order  []rootKey
	slots  int
	cached bool // in the cache's map
}

type rootKey struct {
	key      string
	prefix   []byte      // "key":
	val      glua.LValue // the value at the last encoding (LNil: absent)
	rec      *tracked    // val's record, when val is a table of this root
	start    int         // val's JSON is bytes[start:end]
	end      int
	reusable bool // val is a number, string or boolean
}

// unchanged reports whether the root holds exactly what it held when it
// was last encoded, tables below it included: then its bytes are still
// root.bytes. Plain tables are not tracked, so this compares every field.
func (root *stateRoot) unchanged() bool {
	t := root.table
	if root.bytes == nil || root.order == nil || t.Metatable != glua.LNil || arrayLen(t) != 0 || len(keySlice(t)) != root.slots {
		return false
	}
	for i := range root.order {
		rk := &root.order[i]
		v := t.RawGetString(rk.key)
		if v != rk.val {
			return false
		}
		switch {
		case rk.rec != nil:
			if rk.rec.dirty {
				return false
			}
		case rk.reusable:
			if n, ok := v.(glua.LNumber); ok && n == 0 && math.Signbit(float64(n)) != math.Signbit(float64(rk.val.(glua.LNumber))) {
				return false
			}
		case v != glua.LNil:
			return false
		}
	}
	return true
}

type stateKey struct {
	hunt, player string
	session      bool
}

// recKey is the metatable field holding a tracked table's record.
const recKey = "__veltrix_rec"

// trackedOf returns the record of a tracked proxy, or nil.
func (r *Runtime) trackedOf(t *glua.LTable) *tracked {
	mt, ok := t.Metatable.(*glua.LTable)
	if !ok {
		return nil
	}
	if ud, ok := mt.RawGetString(recKey).(*glua.LUserData); ok {
		if rec, ok := ud.Value.(*tracked); ok && rec.proxy == t {
			return rec
		}
	}
	return nil
}

// track makes real a tracked table of root and returns its record.
func (r *Runtime) track(real *glua.LTable, root *stateRoot, parent *tracked) *tracked {
	return r.proxy(&tracked{real: real, root: root, parent: parent, dirty: true}, real)
}

// trackLazy makes a tracked table of root that stands for raw (JSON of an
// object or array, already checked) until it is materialized.
func (r *Runtime) trackLazy(raw []byte, root *stateRoot, parent *tracked) *tracked {
	return r.proxy(&tracked{root: root, parent: parent, enc: raw}, r.lazyIndex)
}

// proxy gives rec the proxy table scripts see: reads go to index (the real
// table, or the decoder of a lazy one), writes through trackSet.
func (r *Runtime) proxy(rec *tracked, index glua.LValue) *tracked {
	mt := r.L.CreateTable(0, 5)
	mt.RawSetString("__index", index)
	mt.RawSetString("__newindex", r.trackSet)
	mt.RawSetString("__len", r.roLen)
	mt.RawSetString("__metatable", glua.LFalse)
	ud := r.L.NewUserData()
	ud.Value = rec
	mt.RawSetString(recKey, ud)
	p := r.L.NewTable()
	p.Metatable = mt
	rec.proxy, rec.meta = p, mt
	return rec
}

// realOf returns the real table of rec, decoding it first if it is lazy.
func (r *Runtime) realOf(rec *tracked) *glua.LTable {
	if rec.real != nil {
		return rec.real
	}
	d := decoder{L: r.L, r: r, root: rec.root, parent: rec, track: true, strs: r.dec.strs}
	v, err := d.decode(rec.enc)
	t, ok := v.(*glua.LTable)
	if err != nil || !ok {
		// Checked when the state was decoded; cannot happen.
		r.L.RaiseError("state: cannot decode a stored table: %v", err)
	}
	rec.real = t
	rec.meta.RawSetString("__index", t)
	return t
}

// luaLazyIndex is __index of a lazy tracked table: its first read.
func (r *Runtime) luaLazyIndex(L *glua.LState) int {
	rec := r.trackedOf(L.CheckTable(1))
	if rec == nil {
		L.Push(glua.LNil)
		return 1
	}
	L.Push(r.realOf(rec).RawGet(L.Get(2)))
	return 1
}

func (rec *tracked) markDirty() {
	for x := rec; x != nil && !x.dirty; x = x.parent {
		x.dirty = true
		x.enc = nil
	}
}

// luaTrackedSet is __newindex of tracked tables.
func (r *Runtime) luaTrackedSet(L *glua.LState) int {
	rec := r.trackedOf(L.CheckTable(1))
	if rec == nil {
		L.RaiseError("attempt to modify a read-only table")
	}
	r.trackedWrite(L, rec, L.Get(2), L.Get(3))
	return 0
}

// trackedWrite is every write to a tracked table: __newindex, rawset.
func (r *Runtime) trackedWrite(L *glua.LState, rec *tracked, k, v glua.LValue) {
	switch k := k.(type) {
	case *glua.LNilType:
		L.RaiseError("table index is nil")
	case glua.LNumber:
		if k != k {
			L.RaiseError("table index is NaN")
		}
		if r.budget.arrayWrite(r.realOf(rec), float64(k)) {
			L.RaiseError("%s", r.budget.err.msg)
		}
	}
	real := r.realOf(rec)
	old := real.RawGet(k)
	if (old == glua.LNil) != (v == glua.LNil) {
		rec.sorted = nil // the set of keys changes
		if v == glua.LNil {
			rec.deletes++
		}
	}
	real.RawSet(k, v)
	rec.markDirty()
}

// Decoding into tracked tables.

// decodeRoot decodes a state object: the root is plain, every table below
// it tracked.
func (r *Runtime) decodeRoot(key stateKey, data []byte) (*stateRoot, error) {
	root := &stateRoot{key: key}
	if len(data) == 0 {
		root.table = r.L.CreateTable(0, 4)
		return root, nil
	}
	d := &r.dec
	d.root, d.parent, d.track = root, nil, true
	v, err := d.decode(bytes.Clone(data)) // lazy tables keep slices of it
	d.root, d.track = nil, false
	if err != nil {
		return nil, err
	}
	t, ok := v.(*glua.LTable)
	if !ok || r.trackedOf(t) != nil {
		return nil, errNotObject(v)
	}
	root.table = t
	return root, nil
}

type notObjectError struct{ t string }

func (e notObjectError) Error() string { return "a " + e.t + ", not an object" }

func errNotObject(v glua.LValue) error {
	if t, ok := v.(*glua.LTable); ok && t != nil {
		return notObjectError{"array"}
	}
	return notObjectError{v.Type().String()}
}

// Iteration in key order.

// keyLess orders table keys: numbers ascending, then strings by bytes,
// then false before true. Other keys (tables, functions) never come from
// stored state; they keep the table's own (insertion) order, after these.
func keyCmp(a, b glua.LValue) int {
	ra, rb := keyRank(a), keyRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch a := a.(type) {
	case glua.LNumber:
		return cmp.Compare(float64(a), float64(b.(glua.LNumber)))
	case glua.LString:
		return strings.Compare(string(a), string(b.(glua.LString)))
	case glua.LBool:
		return cmp.Compare(boolRank(bool(a)), boolRank(bool(b.(glua.LBool))))
	}
	return 0
}

func keyRank(v glua.LValue) int {
	switch v.(type) {
	case glua.LNumber:
		return 0
	case glua.LString:
		return 1
	case glua.LBool:
		return 2
	}
	return 3
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sortedKeys appends t's keys in iteration order.
func sortedKeys(t *glua.LTable, out []glua.LValue) []glua.LValue {
	out = out[:0]
	for k, _ := t.Next(glua.LNil); k != glua.LNil; k, _ = t.Next(k) {
		out = append(out, k)
	}
	slices.SortStableFunc(out, keyCmp) // stable: rank-3 keys keep insertion order
	return out
}

// orderedNext is next(t, k) over real in the order of keys, a snapshot
// rebuilt when nil. ok is false when k is not a key of the table.
func orderedNext(real *glua.LTable, keys *[]glua.LValue, cursor *int, k glua.LValue) (nk, nv glua.LValue, ok bool) {
	if *keys == nil {
		*keys = sortedKeys(real, make([]glua.LValue, 0, 8))
	}
	i := 0
	if k != glua.LNil {
		ks := *keys
		switch {
		case *cursor < len(ks) && ks[*cursor] == k:
			i = *cursor + 1
		default:
			j, found := findKey(ks, k)
			if !found {
				return nil, nil, false
			}
			i = j + 1
		}
	}
	for ks := *keys; i < len(ks); i++ {
		if v := real.RawGet(ks[i]); v != glua.LNil {
			*cursor = i
			return ks[i], v, true
		}
	}
	return glua.LNil, glua.LNil, true
}

func findKey(ks []glua.LValue, k glua.LValue) (int, bool) {
	if keyRank(k) < 3 {
		j, found := slices.BinarySearchFunc(ks, k, keyCmp)
		if found {
			return j, true
		}
		return 0, false
	}
	for j, x := range ks {
		if x == k {
			return j, true
		}
	}
	return 0, false
}

// rootOf returns the call's state root whose table is t, if any.
func (r *Runtime) rootOf(t *glua.LTable) *stateRoot {
	for _, root := range r.roots {
		if root != nil && root.table == t {
			return root
		}
	}
	return nil
}

// stateNext is next for tables whose order must not depend on history. It
// reports false when t is a table of another kind.
func (r *Runtime) stateNext(L *glua.LState, t *glua.LTable, k glua.LValue) (int, bool) {
	var (
		real   *glua.LTable
		keys   *[]glua.LValue
		cursor *int
	)
	if rec := r.trackedOf(t); rec != nil {
		real, keys, cursor = r.realOf(rec), &rec.sorted, &rec.cursor
	} else if root := r.rootOf(t); root != nil {
		// Roots are written directly, so nothing tells when their keys
		// change: a traversal starts from a fresh snapshot.
		if k == glua.LNil {
			root.sorted = nil
		}
		real, keys, cursor = root.table, &root.sorted, &root.cursor
	} else {
		return 0, false
	}
	nk, nv, ok := orderedNext(real, keys, cursor, k)
	if !ok && k != glua.LNil {
		*keys = nil // the key may have been added since the snapshot
		nk, nv, ok = orderedNext(real, keys, cursor, k)
	}
	if !ok {
		L.RaiseError("invalid key to 'next'")
	}
	if nk == glua.LNil {
		L.Push(glua.LNil)
		return 1, true
	}
	L.Push(nk)
	L.Push(nv)
	return 2, true
}

// The cache of decoded states.

type stateCache struct {
	m        map[stateKey]*stateRoot
	bytes    int // sum of len(root.bytes)
	maxBytes int
}

func (c *stateCache) get(k stateKey, data []byte) *stateRoot {
	root := c.m[k]
	if root == nil || len(data) == 0 || !bytes.Equal(root.bytes, data) {
		return nil
	}
	return root
}

// put keeps root, whose bytes changed from old (nil if it was not cached).
func (c *stateCache) put(root *stateRoot, old []byte) {
	if c.maxBytes <= 0 || len(root.bytes) > c.maxBytes/4 {
		c.drop(root.key)
		return
	}
	if root.cached && c.m[root.key] == root {
		c.bytes += len(root.bytes) - len(old)
		if c.bytes <= c.maxBytes {
			return
		}
	}
	if c.m == nil {
		c.m = make(map[stateKey]*stateRoot)
	}
	if old := c.m[root.key]; old != nil {
		c.bytes -= len(old.bytes)
	}
	if !root.cached {
		c.m[root.key] = root
		c.bytes += len(root.bytes)
		root.cached = true
	}
	for k, v := range c.m { // random eviction: only speed depends on it
		if c.bytes <= c.maxBytes {
			break
		}
		if k != root.key {
			c.remove(k, v)
		}
	}
}

func (c *stateCache) remove(k stateKey, root *stateRoot) {
	c.bytes -= len(root.bytes)
	root.cached = false
	delete(c.m, k)
}

func (c *stateCache) drop(k stateKey) {
	if old := c.m[k]; old != nil {
		c.remove(k, old)
	}
}

func (c *stateCache) clear() {
	for k, v := range c.m {
		c.remove(k, v)
	}
}

// Encoding a state after a call: see stateEncoder in json.go.

// maxGarbageKeys is how many deleted keys a table may remember (gopher-lua
// never frees them) before it is rebuilt.
const maxGarbageKeys = 64

// compact rebuilds a tracked table that remembers too many deleted keys.
func (r *Runtime) compact(rec *tracked, live int) {
	if keySlots(rec.real) <= 2*live+maxGarbageKeys {
		return
	}
	fresh := r.L.CreateTable(arrayLen(rec.real), live)
	for k, v := rec.real.Next(glua.LNil); k != glua.LNil; k, v = rec.real.Next(k) {
		fresh.RawSet(k, v)
	}
	rec.real = fresh
	rec.meta.RawSetString("__index", fresh)
	rec.sorted, rec.deletes = nil, 0
}
