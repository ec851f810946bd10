package lua

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/geo"
)

// hostileEngine serves one hunt through engine/core with a script whose
// on_move is hostile; on_join is harmless.
func hostileEngine(t *testing.T, o Options, onMove string) *Offline {
	t.Helper()
	o.Dir = scriptDir(t, map[string]string{"main.lua": `
function on_join(ctx, player)
  player.joins = (player.joins or 0) + 1
  ctx.emit(player.id, "joined", {n = player.joins})
end
function on_move(ctx, player, pos)
` + onMove + `
end
`})
	p, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := NewRuntime(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	off := NewOffline(func(string) string { return p.Version() })
	off.AddHunt(core.Hunt{ID: "h1", Game: "g", Def: testHuntDef}, rt)
	return off
}

func do(t *testing.T, off *Offline, a core.Action) *Outcome {
	t.Helper()
	a.Hunt = "h1"
	if a.TS == 0 {
		a.TS = 1_700_000_000_000 + int64(a.Seq)*1000
	}
	out, err := off.Do(a)
	if err != nil {
		t.Fatalf("%s of %s: engine error %v", a.Type, a.Player, err)
	}
	return out
}

// TestHostileScriptsKeepTheEngineServing: each hostile on_move is answered
// with rules_error, the error (naming the script and line where there is
// one) is in the audit row and the failures the runner logs and counts,
// and the same engine goes on serving the other player and the attacker.
func TestHostileScriptsKeepTheEngineServing(t *testing.T) {
	roomy := Options{MaxInstructions: 50_000_000} // so the memory limit is what stops the call
	for _, c := range []struct {
		name, body, want string
		sentinel         error
		opts             Options
	}{
		{"runtime error", "local t = nil\n  return t.x", "game/main.lua:8: on_move: attempt to index", nil, Options{}},
		{"error()", `error("no such beacon")`, "game/main.lua:7: on_move: no such beacon", nil, Options{}},
		{"infinite loop", "while true do end", "on_move: instruction budget exceeded", ErrBudget, Options{}},
		{"loop catching its budget error", "while true do pcall(function() while true do end end) end", "instruction budget exceeded", ErrBudget, Options{}},
		{"unbounded table growth", "local t = {}\n  while true do t[#t + 1] = {i = #t} end", "budget exceeded", nil, Options{}},
		{"unbounded string growth", "local t, s = {}, string.rep('x', 100000)\n  while true do t[#t + 1] = s .. #t end", "memory budget exceeded", ErrMemory, roomy},
		{"unbounded table growth (memory)", "local t = {}\n  while true do t[#t + 1] = {unpack({1, 2, 3, 4, 5, 6, 7, 8})} end", "memory budget exceeded", ErrMemory, roomy},
		{"huge string.rep", `local s = string.rep("x", 2^40)`, "string.rep: a string of 1099511627776 bytes exceeds the limit", ErrMemory, Options{}},
		{"doubling a string", "local s = 'x'\n  for i = 1, 40 do s = s .. s end", "concatenation (..): a string of 2097152 bytes exceeds the limit", ErrMemory, Options{}},
		{"sparse array", "local t = {}\n  t[50000000] = true", "use a string key", ErrMemory, Options{}},
		{"sparse array in state", "player.t = {}\n  player.t[50000000] = true", "use a string key", ErrMemory, Options{}},
		{"pattern backtracking", `string.find(string.rep("a", 50000), "a*a*a*a*a*b")`, "instruction budget exceeded", ErrBudget, Options{}},
		{"deep recursion", "local function f(n) return f(n + 1) + 1 end\n  f(1)", "stack overflow", nil, Options{}},
		{"os.execute", `os.execute("touch /tmp/pwned")`, "game/main.lua:7: on_move: os.execute is not available", nil, Options{}},
		{"os.exit", `os.exit(1)`, "os.exit is not available", nil, Options{}},
		{"io.open", `io.open("/etc/passwd")`, "io.open is not available: scripts have no file access", nil, Options{}},
		{"require os", `require("os")`, `require("os"): modules can only be required while the scripts load`, nil, Options{}},
		{"load bytecode", `load(string.dump(function() end))`, "string.dump is not available", nil, Options{}},
		{"loadstring bytecode", `loadstring("\27LuaQ\0")`, "loadstring is not available", nil, Options{}},
		{"dofile", `dofile("/etc/passwd")`, "dofile is not available", nil, Options{}},
		{"debug", `debug.sethook()`, "debug.sethook is not available", nil, Options{}},
		{"setmetatable ctx", `setmetatable(ctx, {__index = function() return print end})`, "cannot change a protected metatable", nil, Options{}},
		{"getmetatable ctx", `getmetatable(ctx).__index.emit = nil`, "attempt to index", nil, Options{}},
		{"setmetatable hunt", `setmetatable(ctx.hunt, {})`, "cannot change a protected metatable", nil, Options{}},
		{"rawset hunt", `rawset(ctx.hunt, "radius_m", 1e9)`, "attempt to modify a read-only table", nil, Options{}},
		{"string metatable", `getmetatable("").__index = {}`, "attempt to index a non-table object(boolean)", nil, Options{}},
		{"global", `on_join = nil`, "globals are read-only in handlers", nil, Options{}},
		{"setmetatable player", `setmetatable(player.t or {}, {}) rawset(getmetatable(ctx.action) or {}, "x", 1) ctx.action.seq = 0`, "attempt to modify a read-only table", nil, Options{}},
		{"big event", "local t = {}\n  for i = 1, 3000 do t[i] = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' end\n  ctx.emit(player.id, 'x', t)", "game/main.lua:9: on_move: ctx.emit: data of 309001 bytes of JSON exceeds the limit of 262144", nil, Options{}},
		{"huge event", "local t = {}\n  for i = 1, 200000 do t[i] = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' end\n  ctx.emit(player.id, 'x', t)", "memory budget exceeded", ErrMemory, roomy},
		{"huge state", "local t = {}\n  for i = 1, 20000 do t[i] = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' end\n  player.big = t", "bytes of JSON exceed the limit of 1048576", nil, Options{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := c.opts
			o.Budget = 5 * time.Second
			off := hostileEngine(t, o, "  "+c.body)
			do(t, off, core.Action{Type: "join", Player: "mallory", Seq: 1})
			start := time.Now()
			out := do(t, off, core.Action{Type: "move", Player: "mallory", Seq: 2, Lat: 1, Lon: 2, At: 1})
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("the hostile call took %v", d)
			}
			if out.Answer.OK == nil || *out.Answer.OK || out.Answer.Reason != "rules_error" {
				t.Fatalf("answer %+v, want rules_error", out.Answer)
			}
			if len(out.Failures) != 1 || !strings.Contains(out.Failures[0].Error(), c.want) {
				t.Fatalf("failures %v, want one containing %q", out.Failures, c.want)
			}
			if c.sentinel != nil && !errors.Is(out.Failures[0], c.sentinel) {
				t.Errorf("error %v does not wrap %v", out.Failures[0], c.sentinel)
			}
			var row *core.AuditRow
			for i := range out.Audit {
				if out.Audit[i].Kind == "rules_error" {
					row = &out.Audit[i]
				}
			}
			if row == nil || !strings.Contains(string(row.Data), jsonEscape(c.want)) {
				t.Fatalf("audit %+v: no rules_error row with %q", out.Audit, c.want)
			}
			t.Logf("%s", out.Failures[0])
			// The engine goes on: another player, and the attacker again.
			if out := do(t, off, core.Action{Type: "join", Player: "alice", Seq: 1}); out.Answer.OK == nil || !*out.Answer.OK {
				t.Fatalf("alice's join after the attack: %+v %v", out.Answer, out.Failures)
			}
			out = do(t, off, core.Action{Type: "join", Player: "mallory", Seq: 3})
			if out.Answer.OK == nil || !*out.Answer.OK || len(out.Events) < 2 || string(out.Events[1].Msg.Data) != `{"n":2}` {
				t.Fatalf("mallory's join after the attack: %+v %v", out.Events, out.Failures)
			}
		})
	}
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func TestRequireOnlyFindsTheGamesModules(t *testing.T) {
	dir := scriptDir(t, map[string]string{
		"main.lua": `
local util = require("util")
function on_join(ctx, p) p.twice = util.twice(21) p.same = require == nil end`,
	})
	writeFile(t, dir, "lib/util.lua", `local M = {} function M.twice(x) return 2 * x end return M`)
	r := newRuntime(t, Options{Dir: dir})
	res, err := r.Call(&core.Call{Handler: "on_join", Action: core.Action{Player: "p"}})
	if err != nil || string(res.Session) != `{"id":"p","same":false,"twice":42}` {
		t.Fatalf("%s %v", res.Session, err)
	}
	for src, want := range map[string]string{
		`require("os")`:          `require("os"): no module lib/os.lua in the game's lib folder`,
		`require("../main")`:     `no module lib/../main.lua`,
		`require("a")`:           `a module requires itself`,
		`local x = require(nil)`: `bad argument #1 to require`,
	} {
		d := scriptDir(t, map[string]string{"main.lua": src})
		writeFile(t, d, "lib/a.lua", `return require("a")`)
		p, err := Load(Options{Dir: d})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewRuntime(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
}

func TestOSHasOnlyTheActionsTime(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": `
function on_join(ctx, p)
  p.t = os.time()
  p.d = os.date("!%Y-%m-%dT%H:%M:%S", 86400 * 365)
  p.now = os.date("%Y-%m-%d %H:%M")
  p.tt = os.date("*t", 0).year
  p.mk = os.time{year = 2025, month = 1, day = 1, hour = 0}
  p.diff = os.difftime(10, 4)
  p.tbl = tostring({}) .. "," .. tostring(print) .. "," .. string.format("%s", {})
end
function on_move(ctx) return os.clock() end`})
	r := newRuntime(t, Options{Dir: dir})
	res, err := r.Call(&core.Call{Handler: "on_join", Action: core.Action{Player: "p"}, Now: 1_700_000_123_456})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"d":"1971-01-01T00:00:00","diff":6,"id":"p","mk":1735689600,"now":"2023-11-14 22:15","t":1700000123,"tbl":"table,function,table","tt":1970}`
	if string(res.Session) != want {
		t.Errorf("session\n%s\nwant\n%s", res.Session, want)
	}
	if _, err := r.Call(&core.Call{Handler: "on_move", Action: core.Action{Player: "p"}}); err == nil || !strings.Contains(err.Error(), "os.clock is not available") {
		t.Errorf("os.clock: %v", err)
	}
}

// The instruction budget is deterministic: the same call over budget stops
// at the same instruction, with the same error, every time, and a call
// within budget counts the same instructions every time.
func TestInstructionBudgetIsDeterministic(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": `
function on_join(ctx, p)
  local n = 0
  for i = 1, p.loops or 10 do n = n + i end
  p.n = n
end`})
	r := newRuntime(t, Options{Dir: dir, MaxInstructions: 1000, Budget: time.Minute})
	call := func(loops int) (int64, error) {
		_, err := r.Call(&core.Call{Handler: "on_join", Action: core.Action{Player: "p"},
			Session: json.RawMessage(`{"loops":` + itoa(loops) + `}`)})
		return r.budget.used(), err
	}
	n1, err1 := call(300)
	n2, err2 := call(300)
	if err1 != nil || err2 != nil || n1 != n2 {
		t.Fatalf("within budget: %d %v, %d %v", n1, err1, n2, err2)
	}
	// Find the largest loop that fits: it fits every time, one more never.
	fits := 0
	for loops := 300; loops < 1000; loops++ {
		if _, err := call(loops); err != nil {
			break
		}
		fits = loops
	}
	for range 3 {
		if _, err := call(fits); err != nil {
			t.Fatalf("%d loops fitted once, not now: %v", fits, err)
		}
		if _, err := call(fits + 1); !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "instruction budget exceeded (1000 instructions)") {
			t.Fatalf("%d loops: %v", fits+1, err)
		}
	}
	t.Logf("a budget of 1000 instructions fits %d loop iterations", fits)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestVMProbe(t *testing.T) {
	if !probeOK {
		t.Fatal("the VM probe does not match gopher-lua's layout (vmprobe.go): was gopher-lua upgraded?")
	}
	// The probe sees the operands: a string just under the limit is built,
	// one byte more is refused before it is allocated.
	const limit = 1 << 16
	h := newHostile(t, Options{MaxStringBytes: limit}, `
function on_move(ctx, player)
  local half = string.rep("x", 32768)
  local ok = half .. half
  local big = ok .. "y"
end`)
	se := h.fails("a string of 65537 bytes exceeds the limit of 65536")
	if se.Line != 10 || !errors.Is(se, ErrMemory) {
		t.Errorf("ScriptError %#v", se)
	}
}

func TestPatternsFollowLua51(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": `
function on_join(ctx, p)
  local r = {}
  r[#r + 1] = table.concat({string.find("hello world", "o w")}, ",")
  r[#r + 1] = table.concat({string.find("hello world", "(o)%s(w)")}, ",")
  r[#r + 1] = tostring(string.find("a.b", ".", 1, true))
  r[#r + 1] = string.match("key = value", "(%w+)%s*=%s*(%w+)")
  r[#r + 1] = string.match("  trim  ", "^%s*(.-)%s*$")
  r[#r + 1] = string.match("[[x]]", "%b[]")
  r[#r + 1] = tostring(string.match("abc", "()b()"))
  local words = {}
  for w in string.gmatch("one two  three", "%a+") do words[#words + 1] = w end
  r[#r + 1] = table.concat(words, "|")
  local kv = {}
  for k, v in string.gmatch("a=1, b=2", "(%w+)=(%w+)") do kv[#kv + 1] = k .. v end
  r[#r + 1] = table.concat(kv, "|")
  r[#r + 1] = (string.gsub("hello world", "o", "0"))
  r[#r + 1] = (string.gsub("abc", "%w", "%0%0"))
  r[#r + 1] = (string.gsub("hello", "", "-"))
  r[#r + 1] = (string.gsub("$x $y", "%$(%w)", {x = "1"}))
  r[#r + 1] = (string.gsub("abc", "^a", "A"))
  r[#r + 1] = tostring(select(2, string.gsub("aaa", "a", "b", 2)))
  r[#r + 1] = string.match("THE (quick) fox", "%f[%a]%a+")
  p.r = table.concat(r, ";")
end
function on_move(ctx) string.find("x", "[a") end`})
	r := newRuntime(t, Options{Dir: dir})
	res, err := r.Call(&core.Call{Handler: "on_join", Action: core.Action{Player: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ R string }
	_ = json.Unmarshal(res.Session, &s)
	want := "5,7;5,7,o,w;2;key;trim;[[x]];2;one|two|three;a1|b2;hell0 w0rld;aabbcc;-h-e-l-l-o-;1 $y;Abc;2;THE"
	if s.R != want {
		t.Errorf("got  %s\nwant %s", s.R, want)
	}
	if _, err := r.Call(&core.Call{Handler: "on_move", Action: core.Action{Player: "p"}}); err == nil || !strings.Contains(err.Error(), "malformed pattern") {
		t.Errorf("malformed pattern: %v", err)
	}
}

func TestNearMatchesDistance(t *testing.T) {
	// ctx.near's pre-filters must never drop a beacon the exact test keeps.
	def, _, _ := benchHunt(t)
	r := newRuntime(t, Options{Dir: treasureHuntDir})
	h, err := r.loadHunt(def)
	if err != nil {
		t.Fatal(err)
	}
	var buf []int
	for i := range 2000 {
		lat := 48.849 + float64(i%50)*0.00037
		lon := 2.349 + float64(i/50)*0.00091
		radius := float64(i%7) * 23
		buf, _ = h.near(lat, lon, radius, buf[:0])
		var want []int
		for _, b := range h.byLat {
			if dist := geo.Distance(lat, lon, b.lat, b.lon); dist <= radius {
				want = append(want, b.idx)
			}
		}
		slices.Sort(want)
		if !slices.Equal(buf, want) {
			t.Fatalf("near(%v, %v, %v) = %v, want %v", lat, lon, radius, buf, want)
		}
	}
	// Across the antimeridian.
	far := &huntDef{byLat: []beaconPos{{lat: 0, lon: 179.9999, cosLat: 1, idx: 0}, {lat: 0, lon: -179.9999, cosLat: 1, idx: 1}}}
	if got, _ := far.near(0, 180, 30, nil); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("antimeridian: %v", got)
	}
}

// writeFile writes dir/rel, creating its folder.
func writeFile(t *testing.T, dir, rel, content string) {
	t.Helper()
	path := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Error messages copy their text: a loop raising a big one is charged.
func TestErrorMessagesAreCharged(t *testing.T) {
	for name, body := range map[string]string{
		"error":  `local s = string.rep("x", 500000) while true do pcall(error, s) end`,
		"assert": `local s = string.rep("x", 500000) while true do pcall(assert, false, s) end`,
		"index":  `local s, n = string.rep("x", 500000), nil while true do pcall(function() return n[s] end) end`,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHostile(t, Options{MaxInstructions: 1 << 40, Budget: time.Minute}, "function on_move(ctx) "+body+" end")
			se := h.fails("memory budget exceeded")
			if !errors.Is(se, ErrMemory) {
				t.Errorf("%v", se)
			}
		})
	}
}

// ctx and pos are reused between calls: what a handler assigns to them
// lasts for its call only.
func TestCtxAssignmentsDoNotLeak(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": `
function on_move(ctx, p, pos)
  p.saw = {foo = ctx.foo, now = ctx.now, lat = pos.lat, extra = pos.extra, emit = type(ctx.emit), seq = ctx.action.seq}
  ctx.foo = "leak" ctx.now = 0 ctx.emit = nil ctx.state = nil
  pos.extra = true pos.lat = 0
end`})
	r := newRuntime(t, Options{Dir: dir})
	for i := 1; i <= 3; i++ {
		res, err := r.Call(&core.Call{Handler: "on_move", Now: int64(1000 * i),
			Action: core.Action{Hunt: "h", Player: "p", Seq: uint64(i), Lat: float64(i)}})
		if err != nil {
			t.Fatal(err)
		}
		want := `"saw":{"emit":"function","lat":` + itoa(i) + `,"now":` + itoa(1000*i) + `,"seq":` + itoa(i) + `}}`
		if got := string(res.Session); !strings.Contains(got, want) {
			t.Fatalf("call %d: %s, want %s", i, got, want)
		}
	}
}
