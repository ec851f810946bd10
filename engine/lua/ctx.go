package lua

import (
	"cmp"
	"slices"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/geo"
)

// The Lua API of game rules.
//
// A game is a folder of Lua 5.1 scripts run in file-name order. They define
// global handler functions, which the engine calls with a fresh ctx table:
//
//	on_join(ctx, player)       a player joins the hunt
//	on_move(ctx, player, pos)  a position fix: pos = {lat=, lon=, at=} (at: fix time, unix ms)
//	on_leave(ctx, player)      a player leaves
//	on_end(ctx)                the hunt ends (time is up, or an operator ended it)
//
// A handler the game does not define rejects the action with
// "unsupported_action". player is the player's session table: {id = <player
// id>} for a new player, otherwise what the rules stored last time. The rules
// change it in place and the engine stores it again after the call.
//
// ctx fields (read them; assigning them has no effect outside the call):
//
//	ctx.hunt    the hunt's static definition (id, name, radius_m,
//	            max_speed_mps, first_finder_bonus, ends_at, beacons = array of
//	            {id, name, lat, lon, type, container, difficulty, terrain,
//	            hint}). Read-only: writing to it raises an error.
//	ctx.state   the hunt's shared state, {} at first. Change it in place; it is
//	            stored after the call. Keep it small: it is decoded and encoded
//	            on every call.
//	ctx.now     the engine's clock for this action, unix ms (never the wall clock)
//	ctx.action  {type =, seq =, player =} of the action being applied
//
// ctx functions:
//
//	ctx.emit(player_id, type, data)   send event type with data (a table or nil) to one player
//	ctx.broadcast(type, data)         send an event to every player of the hunt
//	ctx.audit(kind, data [, player])  keep an audit row; player defaults to the acting player
//	ctx.reject(reason)                reject the action with reason. The handler goes on
//	                                  (return right after it); its state changes, audit
//	                                  rows and events still apply.
//	ctx.end_hunt()                    end the hunt after this action (on_end then runs)
//	ctx.distance(lat1, lon1, lat2, lon2)  great-circle distance in metres
//	ctx.near(lat, lon, radius_m)      array of the ctx.hunt.beacons within radius_m of
//	                                  (lat, lon) by ctx.distance, in ctx.hunt.beacons
//	                                  order; an index makes it far cheaper than a loop
//	ctx.random([m [, n]])             like math.random: a float in [0,1), an integer in
//	                                  [1,m] or in [m,n]; from a generator seeded for this
//	                                  call, so replays draw the same numbers
//	ctx.keys(t)                       array of t's keys, numbers first (ascending) then
//	                                  strings (byte order), for ordered iteration
//	ctx.log(...)                      write the values to the engine log (like print)
//
// Data given to emit, broadcast and audit is copied when the function is
// called. Tables become JSON: a table whose keys are exactly 1..n is an array,
// any other table an object with sorted keys (number keys are written as
// strings and come back as strings), {} for an empty table. Functions, NaN
// and infinities cannot be encoded. ctx.state and player are encoded the same
// way after the call.
//
// The environment: base (without dofile, load*, require, collectgarbage,
// getfenv, setfenv), table, string and math; no os, io, debug, coroutine.
// math.random is ctx.random; math.randomseed raises an error. Strings built by
// string.rep, string.format, string.gsub and table.concat are capped
// (Options.MaxStringBytes). Each call has a time budget (Options.Budget).
// Everything a script creates while loading (globals, library tables, tables
// and values held by top-level locals) is read-only in handlers: keep all
// state in ctx.state or the player table.

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

func (r *Runtime) newCtxMeta() *glua.LTable {
	api := r.L.NewTable()
	for name, f := range r.ctxMethods() {
		api.RawSetString(name, r.L.NewFunction(f))
	}
	mt := r.L.NewTable()
	mt.RawSetString("__index", api)
	mt.RawSetString("__metatable", glua.LFalse)
	return mt
}

// newCtx builds the ctx table of one call.
func (r *Runtime) newCtx(c *core.Call, hunt, state *glua.LTable) *glua.LTable {
	L := r.L
	action := L.CreateTable(0, 3)
	action.RawSetString("type", glua.LString(c.Action.Type))
	action.RawSetString("seq", glua.LNumber(c.Action.Seq))
	action.RawSetString("player", glua.LString(c.Action.Player))
	ctx := L.CreateTable(0, 4)
	ctx.RawSetString("hunt", hunt)
	ctx.RawSetString("state", state)
	ctx.RawSetString("now", glua.LNumber(c.Now))
	ctx.RawSetString("action", action)
	ctx.Metatable = r.ctxMeta
	return ctx
}

// hostOnly guards functions that only make sense during a handler call.
func (r *Runtime) hostOnly(L *glua.LState, name string) {
	if !r.inCall {
		L.RaiseError("ctx.%s is only available inside a handler", name)
	}
}

// encodeArg encodes argument n (absent or nil: no data).
func (r *Runtime) encodeArg(L *glua.LState, n int, fn string) []byte {
	v := L.Get(n)
	if v == glua.LNil {
		return nil
	}
	b, err := r.enc.encode(v)
	if err != nil {
		L.RaiseError("ctx.%s: data: %s", fn, err.Error())
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
	r.nearBuf = r.hunt.near(lat, lon, radius, r.nearBuf[:0])
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
