package lua

import (
	"cmp"
	"slices"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/geo"
)

// The Lua API of game rules, implemented here; docs/lua-api.md documents it
// with examples.
//
// Handlers, called by the engine:
//
//	on_join(ctx, player)       a player joins the hunt
//	on_move(ctx, player, pos)  a position fix: pos = {lat=, lon=, at=} (at: fix time, unix ms)
//	on_leave(ctx, player)      a player leaves
//	on_end(ctx)                the hunt ends (time is up, or an operator ended it)
//
// ctx fields: hunt (the definition, read-only), state (the hunt's state),
// now (the action's time, unix ms), action ({type, seq, player}, read-only).
// ctx functions: emit, broadcast, audit, reject, end_hunt, distance, near,
// random, keys, log. player and ctx.state are stored after the call
// (state.go); event and audit data are JSON-encoded when given.

// ctxMethods are the ctx functions, reached through ctx's protected
// metatable, so every call shares them and no call can replace them.
func (r *Runtime) ctxMethods() map[string]glua.LGFunction {
	return map[string]glua.LGFunction{
		"emit":      r.luaEmit,
		"broadcast": r.luaBroadcast,
		"audit":     r.luaAudit,
		"reject":    r.luaReject,
		"end_hunt":  r.luaEndHunt,
		"distance":  luaDistance,
		"near":      r.luaNear,
		"random":    r.luaRandom,
		"keys":      r.luaKeys,
		"log":       r.luaLog,
	}
}

// newCtx builds ctx, ctx.action and pos: tables that live as long as the
// Runtime (building them per call cost more than most handlers).
//
// ctx is an empty table whose protected metatable reads from a hidden table
// of the call's fields (hunt, state, now) and the API functions; the Runtime
// mirrors that table in Go, so a call only writes the fields that changed.
// ctx.action is built on first use in a call, read-only. A handler that
// assigns a field of ctx writes into the empty table, which only shadows
// the field for the rest of its call: ctx is replaced after such a call
// (checkCtx). pos is a plain table whose fields are set before each call;
// it too is replaced after a call that added fields to it.
func (r *Runtime) newCtx() {
	L := r.L
	if r.ctxFields == nil {
		r.ctxFields = L.NewTable()
		for name, f := range r.ctxMethods() {
			r.ctxFields.RawSetString(name, L.NewFunction(f))
		}
		for _, k := range []string{"hunt", "state", "now"} {
			r.ctxFields.RawSetString(k, glua.LFalse)
		}
		lazy := L.NewTable()
		lazy.RawSetString("__index", L.NewFunction(r.luaCtxLazy))
		r.ctxFields.Metatable = lazy
		r.ctxMeta = L.NewTable()
		r.ctxMeta.RawSetString("__index", r.ctxFields)
		r.ctxMeta.RawSetString("__metatable", glua.LFalse)
		r.actionReal = L.CreateTable(0, 3)
		r.actionProxy = r.newProxy(r.actionReal)
		for _, k := range []string{"type", "seq", "player"} {
			r.actionReal.RawSetString(k, glua.LFalse)
		}
	}
	r.ctxTable = L.NewTable()
	r.ctxTable.Metatable = r.ctxMeta
	r.posTable = L.CreateTable(0, 3)
	for _, k := range []string{"lat", "lon", "at"} {
		r.posTable.RawSetString(k, glua.LNumber(0))
	}
}

// luaCtxLazy is __index of ctx's hidden fields: ctx.action.
func (r *Runtime) luaCtxLazy(L *glua.LState) int {
	if L.Get(2) != glua.LString("action") || !r.inCall {
		L.Push(glua.LNil)
		return 1
	}
	if r.actionFor != r.call {
		c := r.call
		r.actionReal.RawSetString("type", glua.LString(c.Action.Type))
		r.actionReal.RawSetString("seq", glua.LNumber(c.Action.Seq))
		r.actionReal.RawSetString("player", glua.LString(c.Action.Player))
		r.actionFor = c
	}
	L.Push(r.actionProxy)
	return 1
}

// checkCtx replaces ctx and pos after a call that added fields to them.
func (r *Runtime) checkCtx() {
	if !probeOK || len(keySlice(r.ctxTable)) != 0 || arrayLen(r.ctxTable) != 0 || len(keySlice(r.posTable)) != 3 {
		r.newCtx()
	}
	r.actionFor = nil
}

// setCtx fills ctx for one call, writing only what changed.
func (r *Runtime) setCtx(c *core.Call, hunt *huntDef, state *glua.LTable) {
	if r.ctxHunt != hunt.table {
		r.ctxFields.RawSetString("hunt", hunt.table)
		r.ctxHunt = hunt.table
	}
	if r.ctxState != state {
		r.ctxFields.RawSetString("state", state)
		r.ctxState = state
	}
	if now := glua.LNumber(c.Now); r.ctxNow != now {
		r.ctxFields.RawSetString("now", now)
		r.ctxNow = now
	}
}

// hostOnly guards functions that only make sense during a handler call.
func (r *Runtime) hostOnly(L *glua.LState, name string) {
	if !r.inCall {
		L.RaiseError("ctx.%s is only available inside a handler", name)
	}
}

// encodeArg encodes argument n (absent or nil: no data), charging the
// call's budget for the bytes.
func (r *Runtime) encodeArg(L *glua.LState, n int, fn string) []byte {
	v := L.Get(n)
	if v == glua.LNil {
		return nil
	}
	b, err := r.enc.encode(v)
	if err != nil {
		L.RaiseError("ctx.%s: data: %s", fn, err.Error())
	}
	if r.budget.allocate(int64(len(b))) || r.budget.charge(int64(len(b))/32) {
		r.raiseBudget(L)
	}
	if max := r.prog.opts.MaxEventBytes; len(b) > max {
		L.RaiseError("ctx.%s: data of %d bytes of JSON exceeds the limit of %d", fn, len(b), max)
	}
	return b
}

func checkName(L *glua.LState, n int, what string) string {
	s := L.CheckString(n)
	if s == "" {
		L.ArgError(n, what+" must not be empty")
	}
	return s
}

func (r *Runtime) luaEmit(L *glua.LState) int {
	r.hostOnly(L, "emit")
	to := checkName(L, 1, "player id")
	typ := checkName(L, 2, "event type")
	r.res.Events = append(r.res.Events, core.Emit{To: to, Type: typ, Data: r.encodeArg(L, 3, "emit")})
	return 0
}

func (r *Runtime) luaBroadcast(L *glua.LState) int {
	r.hostOnly(L, "broadcast")
	typ := checkName(L, 1, "event type")
	r.res.Events = append(r.res.Events, core.Emit{Type: typ, Data: r.encodeArg(L, 2, "broadcast")})
	return 0
}

func (r *Runtime) luaAudit(L *glua.LState) int {
	r.hostOnly(L, "audit")
	kind := checkName(L, 1, "audit kind")
	data := r.encodeArg(L, 2, "audit")
	player := r.call.Action.Player
	if L.Get(3) != glua.LNil {
		player = L.CheckString(3)
	}
	r.res.Audit = append(r.res.Audit, core.AuditEntry{Kind: kind, Player: player, Data: data})
	return 0
}

func (r *Runtime) luaReject(L *glua.LState) int {
	r.hostOnly(L, "reject")
	r.res.Reject = checkName(L, 1, "reject reason")
	return 0
}

func (r *Runtime) luaEndHunt(L *glua.LState) int {
	r.hostOnly(L, "end_hunt")
	r.res.EndHunt = true
	return 0
}

func luaDistance(L *glua.LState) int {
	d := geo.Distance(float64(L.CheckNumber(1)), float64(L.CheckNumber(2)), float64(L.CheckNumber(3)), float64(L.CheckNumber(4)))
	L.Push(glua.LNumber(d))
	return 1
}

func (r *Runtime) luaNear(L *glua.LState) int {
	r.hostOnly(L, "near")
	lat, lon, radius := float64(L.CheckNumber(1)), float64(L.CheckNumber(2)), float64(L.CheckNumber(3))
	var examined int
	r.nearBuf, examined = r.hunt.near(lat, lon, radius, r.nearBuf[:0])
	if r.budget.charge(int64(examined/4+len(r.nearBuf))) || r.budget.allocate(16*int64(len(r.nearBuf))) {
		r.raiseBudget(L)
	}
	out := L.CreateTable(len(r.nearBuf), 0)
	for _, i := range r.nearBuf {
		out.Append(r.hunt.beacons[i])
	}
	L.Push(out)
	return 1
}

func (r *Runtime) luaKeys(L *glua.LState) int {
	t := r.realTable(L.CheckTable(1))
	var nums []float64
	var strs []string
	for k, _ := t.Next(glua.LNil); k != glua.LNil; k, _ = t.Next(k) {
		switch k := k.(type) {
		case glua.LNumber:
			nums = append(nums, float64(k))
		case glua.LString:
			strs = append(strs, string(k))
		default:
			L.RaiseError("ctx.keys: cannot order a %s key", k.Type())
		}
	}
	if n := int64(len(nums) + len(strs)); r.budget.charge(n) || r.budget.allocate(16*n) {
		r.raiseBudget(L)
	}
	slices.SortFunc(nums, cmp.Compare[float64])
	slices.Sort(strs)
	out := L.CreateTable(len(nums)+len(strs), 0)
	for _, n := range nums {
		out.Append(glua.LNumber(n))
	}
	for _, s := range strs {
		out.Append(glua.LString(s))
	}
	L.Push(out)
	return 1
}

// maxLogBytes keeps a chatty script from flooding the log.
const maxLogBytes = 4096

func (r *Runtime) luaLog(L *glua.LState) int {
	if r.prog.opts.Log == nil {
		return 0
	}
	var b strings.Builder
	b.WriteString(L.Where(1))
	for i := 1; i <= L.GetTop(); i++ {
		if i > 1 {
			b.WriteByte('\t')
		}
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
		if b.Len() > maxLogBytes {
			break
		}
	}
	msg := b.String()
	if len(msg) > maxLogBytes {
		msg = msg[:maxLogBytes] + "..."
	}
	r.prog.opts.Log(msg)
	return 0
}
