package lua

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/core"
)

// chaos is a game whose handlers change their state in every way the state
// cache must get right (state.go): nested tables added, changed, deleted,
// moved and shared between states; arrays with holes; number keys; -0;
// invalid UTF-8; metatables; host tables stored in state; table.insert,
// remove and sort on stored arrays; and calls that fail halfway. Each call
// reports what it saw, iteration orders included, in an event.
const chaos = `
local function sig(t, depth)
  if type(t) ~= "table" or depth > 3 then return tostring(t) end
  local parts = {}
  for k, v in pairs(t) do parts[#parts + 1] = tostring(k) .. "=" .. sig(v, depth + 1) end
  return "{" .. table.concat(parts, ",") .. "}#" .. #t
end

function on_join(ctx, p)
  p.items = p.items or {a = 1, b = {c = 2}}
  p.list = p.list or {3, 1, 2}
  ctx.state.players = (ctx.state.players or 0) + 1
  ctx.emit(p.id, "seen", {p = sig(p, 0), s = sig(ctx.state, 0)})
end

function on_move(ctx, p, pos)
  local s = ctx.state
  local op = ctx.random(24)
  local k = "k" .. ctx.random(6)
  if op == 1 then p.items[k] = ctx.random(100)
  elseif op == 2 then p.items[k] = nil
  elseif op == 3 then local first = next(p.items) if first then p.items[first] = nil end
  elseif op == 4 then table.insert(p.list, ctx.random(9)) if #p.list > 8 then table.remove(p.list, 1) end
  elseif op == 5 then table.sort(p.list)
  elseif op == 6 then table.sort(p.list, function(a, b) return a > b end)
  elseif op == 7 then p.moved = p.items p.items = {fresh = true}
  elseif op == 8 then s.shared = p.list
  elseif op == 9 then s.action = ctx.action s.pos = pos
  elseif op == 10 then p.nums = p.nums or {} p.nums[ctx.random(5)] = true
  elseif op == 11 then local ok = pcall(setmetatable, p.items, {}) p.mt = ok
  elseif op == 12 then p.z = -0.0 p.inv = 1 / p.z
  elseif op == 13 then p.bad = "caf\255"
  elseif op == 14 then p.items["1"] = 1 p.items[1] = nil
  elseif op == 15 then p.deep = {a = {b = {c = {d = ctx.random(3)}}}}
  elseif op == 16 then p.items.b = p.items.b or {} p.items.b.c = (p.items.b.c or 0) + 1
  elseif op == 17 then if ctx.random(2) == 1 then p.items.half = 1 error("fails after a write") end
  elseif op == 18 then rawset(p.items, k, "raw")
  elseif op == 19 then s.log = s.log or {} s.log[#s.log + 1] = p.id if #s.log > 5 then table.remove(s.log, 1) end
  elseif op == 20 then local t = {} p.a1 = t s.a2 = t
  elseif op == 21 then p.mtroot = setmetatable({}, {__index = function() return 1 end})
  elseif op == 22 then p.list[#p.list + 2] = 1
  elseif op == 23 then for key in pairs(p.items) do p.items[key] = nil end
  else p.count = (p.count or 0) + 1 end
  if p.mtroot then p.mtroot = nil end
  ctx.emit(p.id, "seen", {op = op, p = sig(p, 0), s = sig(ctx.state, 0), n = #p.list})
end
`

// TestStateCacheIsInvisible plays the same random game on an engine with the
// state cache, one without it (every call decodes the stored bytes afresh),
// and one whose runtime restarts every few actions: everything they publish
// and store must be byte-identical.
func TestStateCacheIsInvisible(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": chaos})
	type engine struct {
		off     *Offline
		rt      *Runtime
		prog    *Program
		restart int
	}
	newEngine := func(cache, restart int) *engine {
		p, err := Load(Options{Dir: dir, CacheBytes: cache, Budget: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		e := &engine{prog: p, restart: restart}
		e.rt, err = NewRuntime(p)
		if err != nil {
			t.Fatal(err)
		}
		e.off = NewOffline(func(string) string { return "v" })
		e.off.AddHunt(core.Hunt{ID: "h1", Game: "g", Def: testHuntDef}, e.rt)
		t.Cleanup(func() { e.rt.Close() })
		return e
	}
	engines := []*engine{newEngine(0, 0), newEngine(-1, 0), newEngine(0, 7)}
	players := []string{"p1", "p2", "p3"}
	seqs := map[string]uint64{}
	hits := 0
	for i := range 3000 {
		pl := players[i%len(players)]
		seqs[pl]++
		a := core.Action{Hunt: "h1", Player: pl, Seq: seqs[pl], Type: "move", Lat: 48.8, Lon: 2.3, At: int64(i) * 1000, TS: 1_700_000_000_000 + int64(i)*1000}
		if seqs[pl] == 1 || i%97 == 0 {
			a.Type = "join"
		}
		var outs [][]byte
		for _, e := range engines {
			if e.restart > 0 && i%e.restart == 0 {
				// A restarted engine: a new runtime, the same stored state.
				rt, err := NewRuntime(e.prog)
				if err != nil {
					t.Fatal(err)
				}
				e.rt.Close()
				e.rt = rt
				e.off.AddHunt(core.Hunt{ID: "h1", Game: "g", Def: testHuntDef}, rt)
			}
			out, err := e.off.Do(a)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			for _, ev := range out.Events {
				fmt.Fprintf(&b, "%s %s %s %s %v %s\n", ev.To, ev.Msg.Type, ev.Msg.Reason, ev.Msg.Data, ev.Msg.OK != nil && *ev.Msg.OK, ev.Msg.Version)
			}
			for _, r := range out.Audit {
				fmt.Fprintf(&b, "audit %s %s %s\n", r.Kind, r.Player, r.Data)
			}
			fmt.Fprintf(&b, "state %s\nsession %s\n", e.off.HuntState("h1"), e.off.Session("h1", pl))
			outs = append(outs, b.Bytes())
		}
		for j := 1; j < len(outs); j++ {
			if !bytes.Equal(outs[0], outs[j]) {
				t.Fatalf("action %d (%+v): engine %d differs from engine 0:\n--- 0:\n%s\n--- %d:\n%s", i, a, j, outs[0], j, outs[j])
			}
		}
		if len(engines[0].rt.cache.m) > 0 {
			hits++
		}
	}
	// The cache was in use, not bypassed by a tree always found odd.
	cached := 0
	for _, root := range engines[0].rt.cache.m {
		if root.cached {
			cached++
		}
	}
	if hits == 0 || cached == 0 {
		t.Errorf("the cache was never used (%d, %d)", hits, cached)
	}
	var sample map[string]any
	_ = json.Unmarshal(engines[0].off.Session("h1", "p1"), &sample)
	t.Logf("final session of p1: %v", sample)
}

// TestPairsOrderIsTheDecodedOrder: iterating a stored table gives the
// order decoding gives (sorted), whatever order the keys were added in.
func TestPairsOrderIsTheDecodedOrder(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": `
function on_join(ctx, p)
  p.t = p.t or {}
  p.t[ctx.action.seq == 1 and "z" or "a" .. ctx.action.seq] = true
  local ks = {}
  for k in pairs(p.t) do ks[#ks + 1] = k end
  local rs = {}
  for k in pairs(p) do rs[#rs + 1] = k end
  ctx.emit(p.id, "order", {t = table.concat(ks, ","), root = table.concat(rs, ",")})
end`})
	r := newRuntime(t, Options{Dir: dir})
	var sess json.RawMessage
	var got []string
	for seq := uint64(1); seq <= 3; seq++ {
		res, err := r.Call(&core.Call{Handler: "on_join", Action: core.Action{Hunt: "h", Player: "p", Seq: seq}, Session: sess})
		if err != nil {
			t.Fatal(err)
		}
		if res.Session != nil {
			sess = res.Session
		}
		got = append(got, string(res.Events[0].Data))
	}
	want := []string{
		`{"root":"id,t","t":"z"}`,
		`{"root":"id,t","t":"a2,z"}`,
		`{"root":"id,t","t":"a2,a3,z"}`,
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("call %d: %s, want %s", i+1, got[i], want[i])
		}
	}
}
