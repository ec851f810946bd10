package lua

import (
	"errors"
	"strings"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/veltrix/veltrix/engine/core"
)

// hostile loads one script whose on_join is the harmless "ok" handler and
// whose on_move runs body, and checks that on_join still works after each
// attempt.
type hostile struct {
	t *testing.T
	r *Runtime
}

func newHostile(t *testing.T, o Options, src string) *hostile {
	t.Helper()
	o.Dir = scriptDir(t, map[string]string{"main.lua": `
function on_join(ctx, player)
  player.ok = (player.ok or 0) + 1
  ctx.emit(player.id, "ok", {hunt = ctx.hunt.id, n = #ctx.hunt.beacons})
end
` + src})
	return &hostile{t: t, r: newRuntime(t, o)}
}

func (h *hostile) call(handler string) (*core.Result, error) {
	return h.r.Call(&core.Call{
		Handler: handler, Action: core.Action{Hunt: "h1", Player: "p1", Type: "x"},
		HuntDef: testHuntDef, Now: 1000, Seed: 1,
	})
}

// fails runs on_move, expects an error containing want, then checks that
// the runtime still serves on_join correctly.
func (h *hostile) fails(want string) *ScriptError {
	h.t.Helper()
	_, err := h.call("on_move")
	if err == nil {
		h.t.Fatalf("on_move succeeded, want an error containing %q", want)
	}
	var se *ScriptError
	if !errors.As(err, &se) {
		h.t.Fatalf("error %T %v is not a *ScriptError", err, err)
	}
	if !strings.Contains(err.Error(), want) {
		h.t.Fatalf("error %q does not contain %q", err, want)
	}
	h.ok()
	return se
}

func (h *hostile) ok() {
	h.t.Helper()
	res, err := h.call("on_join")
	if err != nil {
		h.t.Fatalf("on_join after a failure: %v", err)
	}
	if len(res.Events) != 1 || string(res.Events[0].Data) != `{"hunt":"h1","n":3}` ||
		string(res.Session) != `{"id":"p1","ok":1}` {
		h.t.Fatalf("on_join after a failure: %+v session %s", res.Events, res.Session)
	}
	if top := h.r.L.GetTop(); top != 0 {
		h.t.Fatalf("stack top %d after call", top)
	}
}

func TestSyntaxError(t *testing.T) {
	dir := scriptDir(t, map[string]string{
		"00_ok.lua": "local x = 1\n",
		"main.lua":  "function on_join(ctx, p)\n  local x = = 2\nend\n",
	})
	_, err := Load(Options{Dir: dir})
	var se *ScriptError
	if !errors.As(err, &se) || se.File != "game/main.lua" || se.Line != 2 {
		t.Fatalf("err = %v (%#v)", err, se)
	}
	if !strings.HasPrefix(err.Error(), "game/main.lua:2: ") {
		t.Errorf("message %q", err)
	}
}

func TestTestFilesAreNotLoaded(t *testing.T) {
	dir := scriptDir(t, map[string]string{
		"main.lua":      "function on_join(ctx, p) p.v = 1 end\n",
		"main_test.lua": "this is not lua",
	})
	newRuntime(t, Options{Dir: dir})
}

func TestRuntimeError(t *testing.T) {
	h := newHostile(t, Options{}, `
function on_move(ctx, player, pos)
  local t = nil
  return t.x
end`)
	se := h.fails("attempt to index")
	if se.File != "game/main.lua" || se.Line != 9 || se.Handler != "on_move" {
		t.Errorf("ScriptError = %#v", se)
	}
	if want := "game/main.lua:9: on_move: attempt to index"; !strings.HasPrefix(se.Error(), want) {
		t.Errorf("Error() = %q, want prefix %q", se.Error(), want)
	}
	// Twice: nothing was left behind by the first failure.
	h.fails("attempt to index")
}

func TestErrorValues(t *testing.T) {
	h := newHostile(t, Options{}, `function on_move(ctx) error({code = 1}) end`)
	h.fails("error object is a table")
	h = newHostile(t, Options{}, `function on_move(ctx) error("plain", 0) end`)
	if se := h.fails("plain"); se.File != "game/main.lua" || se.Line != 0 {
		t.Errorf("ScriptError = %#v", se)
	}
}

func TestBudget(t *testing.T) {
	bodies := map[string]string{
		"loop":        `while true do end`,
		"pcall loop":  `while true do pcall(function() while true do end end) end`,
		"pcall catch": `local ok = pcall(function() while true do end end) ctx.emit("p1", "escaped")`,
		"growth":      `local t = {} local i = 0 while true do i = i + 1 t[i] = {i} end`,
		"string grow": `local s = "" while true do s = s .. "x" if #s > 100000 then s = "" end end`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			// The instruction budget stops it, long before the time limit.
			h := newHostile(t, Options{MaxInstructions: 100_000, Budget: time.Minute}, "function on_move(ctx, player, pos) "+body+" end")
			_, err := h.call("on_move")
			if !errors.Is(err, ErrBudget) {
				t.Fatalf("err = %v, want ErrBudget", err)
			}
			if !strings.Contains(err.Error(), "on_move: instruction budget exceeded (100000 instructions)") {
				t.Errorf("message %q", err)
			}
			h.ok()
		})
	}
	// The time limit is a backstop for what instructions do not measure.
	for name, body := range bodies {
		t.Run("time/"+name, func(t *testing.T) {
			const budget = 50 * time.Millisecond
			h := newHostile(t, Options{MaxInstructions: 1 << 50, MaxMemoryBytes: 1 << 40, Budget: budget}, "function on_move(ctx, player, pos) "+body+" end")
			start := time.Now()
			_, err := h.call("on_move")
			elapsed := time.Since(start)
			if !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "on_move: time budget exceeded (50ms)") {
				t.Fatalf("err = %v, want the time budget", err)
			}
			// Generous for -race on a loaded machine; the point is "stopped".
			if elapsed > 40*budget {
				t.Errorf("stopped after %v, budget %v", elapsed, budget)
			}
			h.ok()
		})
	}
}

func TestBudgetAtLoad(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": "while true do end"})
	p, err := Load(Options{Dir: dir, MaxInstructions: 1000})
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewRuntime(p)
	if !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "game/main.lua:1: load: instruction budget exceeded (10000 instructions)") {
		t.Fatalf("err = %v, want ErrBudget at load, ten times the call budget", err)
	}
}

func TestStringCaps(t *testing.T) {
	for name, body := range map[string]string{
		"rep":          `local s = string.rep("x", 2^40)`,
		"rep method":   `local s = ("abc"):rep(1e9)`,
		"rep growth":   `local s = string.rep("x", 2^19) s = string.rep(s, 4)`,
		"concat":       `local t = {} local s = string.rep("x", 2^19) for i = 1, 5 do t[i] = s end local r = table.concat(t)`,
		"format width": `local s = string.format("%0999d", 1)`,
		"format many":  `local s = string.rep("x", 2^19) local r = string.format("%s%s%s", s, s, s)`,
		"gsub":         `local s = string.rep("x", 2^16) local r = string.gsub(s, "x", string.rep("y", 64))`,
		"gsub func":    `local big = string.rep("y", 2^10) local r = string.gsub(string.rep("x", 2^12), "x", function() return big end)`,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHostile(t, Options{MaxStringBytes: 1 << 20}, "function on_move(ctx) "+body+" end")
			want := "exceed"
			if name == "format width" {
				want = "too long"
			}
			h.fails(want)
		})
	}
}

func TestStringHelpersStillWork(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": `
function on_join(ctx, p)
  p.rep = string.rep("ab", 3)
  p.concat = table.concat({1, "b", 3}, "-")
  p.fmt = string.format("%5.2f|%d|%s|%q", 3.14159, 42, "x", "a\"b")
  p.gsub, p.n = string.gsub("hello world", "(%w+)", "<%1>")
  p.gsubt = string.gsub("$a $b", "%$(%w)", {a = "1", b = 2})
  p.gsubf = string.gsub("abc", "%w", function(c) return c:upper() end)
  p.gsubn = string.gsub("aaa", "a", "b", 2)
  p.gsube = string.gsub("abc", "", "-")
  p.upper = ("abc"):upper()
end`})
	r := newRuntime(t, Options{Dir: dir})
	res, err := r.Call(&core.Call{Handler: "on_join", Action: core.Action{Player: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"concat":"1-b-3","fmt":" 3.14|42|x|\"a\\\"b\"","gsub":"<hello> <world>","gsube":"-a-b-c-","gsubf":"ABC","gsubn":"bba","gsubt":"1 2","id":"p","n":2,"rep":"ababab","upper":"ABC"}`
	if string(res.Session) != want {
		t.Errorf("session =\n%s\nwant\n%s", res.Session, want)
	}
}

func TestDeepRecursion(t *testing.T) {
	h := newHostile(t, Options{}, `
local function f(n) return f(n + 1) + 1 end
local function g(n) local ok, e = pcall(g, n + 1) return e end
function on_move(ctx) f(1) end
function on_leave(ctx) return g(1) end
`)
	h.fails("stack overflow")
	// Nested pcalls recurse in Go too; they must end the same way.
	if _, err := h.call("on_leave"); err != nil && !strings.Contains(err.Error(), "overflow") {
		t.Fatalf("on_leave: %v", err)
	}
	h.ok()
	// Metamethod recursion goes through Go as well.
	h = newHostile(t, Options{}, `
function on_move(ctx)
  local t = setmetatable({}, {})
  getmetatable(t).__index = function(t, k) return t[k] end
  return t.x
end`)
	h.fails("overflow")
}

func TestNoDangerousLibraries(t *testing.T) {
	for name, body := range map[string]string{
		"os.execute":  `os.execute("touch /tmp/pwned")`,
		"io.open":     `io.open("/etc/passwd")`,
		"require":     `require("os")`,
		"load":        `load("return 1")`,
		"loadstring":  `loadstring("return 1")`,
		"dofile":      `dofile("/etc/passwd")`,
		"loadfile":    `loadfile("/etc/passwd")`,
		"debug":       `debug.getinfo(1)`,
		"setfenv":     `setfenv(1, {})`,
		"getfenv":     `getfenv(1)`,
		"coroutine":   `coroutine.create(function() end)`,
		"string.dump": `string.dump(on_move)`,
		"newproxy":    `newproxy(true)`,
		"randomseed":  `math.randomseed(1)`,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHostile(t, Options{}, "function on_move(ctx) "+body+" end")
			_, err := h.call("on_move")
			if err == nil {
				t.Fatalf("%s ran", body)
			}
			t.Logf("on_move: %v", err)
			h.ok()
		})
	}
}

// One call cannot change what the next one sees.
func TestIsolationBetweenCalls(t *testing.T) {
	for name, body := range map[string]string{
		"hunt field":        `ctx.hunt.id = "evil"`,
		"hunt beacons":      `ctx.hunt.beacons[1] = nil`,
		"beacon field":      `ctx.hunt.beacons[1].lat = 0`,
		"beacon via pairs":  `for _, b in pairs(ctx.hunt.beacons) do b.id = "x" end`,
		"beacon via ipairs": `for _, b in ipairs(ctx.hunt.beacons) do b.id = "x" end`,
		"beacon via near":   `ctx.near(48.8566, 2.3522, 100)[1].id = "x"`,
		"rawset hunt":       `rawset(ctx.hunt, "id", "evil")`,
		"table.insert hunt": `table.insert(ctx.hunt.beacons, {})`,
		"table.remove hunt": `table.remove(ctx.hunt.beacons)`,
		"table.sort hunt":   `table.sort(ctx.hunt.beacons, function(a, b) return a.id > b.id end)`,
		"setmetatable hunt": `setmetatable(ctx.hunt, {})`,
		"setmetatable ctx":  `setmetatable(ctx, {__index = function() return function() end end})`,
		"global":            `evil = true`,
		"global handler":    `on_join = function() end`,
		"library":           `string.upper = function() return "x" end`,
		"math.random":       `math.random = function() return 4 end`,
		"rawset global":     `rawset(_G, "on_join", nil)`,
		"string metatable":  `getmetatable("").__index = {}`,
		"_G":                `_G.on_join = nil`,
		"module table":      `helpers.n = 2`,
		"module local":      `counter = counter + 1`,
		"upvalue table":     `cache.x = 1`,
		"nested upvalue":    `cache.inner.y = 2`,
		"class metatable":   `Class.x = 1`,
		"instance":          `instance.field = 2`,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHostile(t, Options{}, `
helpers = {n = 1}
Class = {}
Class.__index = Class
instance = setmetatable({field = 1}, Class)
local counter = 0
local cache = {inner = {}}
function on_move(ctx) `+body+` end
function on_leave(ctx, player)
  if helpers.n ~= 1 or counter ~= 0 or cache.x ~= nil or cache.inner.y ~= nil or
     evil ~= nil or Class.x ~= nil or instance.field ~= 1 then
    error("state leaked")
  end
end`)
			_, err := h.call("on_move")
			t.Logf("on_move: %v", err)
			h.ok()
			if _, err2 := h.call("on_leave"); err2 != nil {
				t.Fatalf("on_move error %v; then on_leave: %v", err, err2)
			}
			// ctx itself is fresh each call: tampering with it is allowed
			// but has no effect afterwards.
			if err == nil && !strings.Contains(name, "ctx") {
				t.Errorf("%s succeeded, want a read-only error", body)
			}
		})
	}
}

func TestReadOnlyHuntIsReadable(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": `
function on_join(ctx, p)
  local ids = {}
  for i, b in ipairs(ctx.hunt.beacons) do ids[#ids + 1] = b.id end
  local keys = ctx.keys(ctx.hunt)
  local n = 0
  for k, v in pairs(ctx.hunt) do n = n + 1 end
  local near = {}
  for _, b in ipairs(ctx.near(48.8566, 2.3522, 600)) do near[#near + 1] = b.id end
  p.ids = table.concat(ids, ",")
  p.keys = table.concat(keys, ",")
  p.n = n
  p.len = #ctx.hunt.beacons
  p.near = table.concat(near, ",")
  p.raw = rawget(ctx.hunt, "id")
  p.unpacked = select("#", unpack(ctx.hunt.beacons))
  p.beacon = ctx.hunt.beacons[3]
end`})
	r := newRuntime(t, Options{Dir: dir})
	res, err := r.Call(&core.Call{Handler: "on_join", Action: core.Action{Hunt: "h1", Player: "p"}, HuntDef: testHuntDef})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"beacon":{"container":"regular","difficulty":3.5,"hint":"","id":"b3","lat":48.8566,"lon":2.36,"name":"East","terrain":2,"type":"mystery"},` +
		`"id":"p","ids":"b1,b2,b3","keys":"beacons,ends_at,first_finder_bonus,id,max_speed_mps,name,radius_m",` +
		`"len":3,"n":7,"near":"b1,b2,b3","raw":"h1","unpacked":3}`
	if string(res.Session) != want {
		t.Errorf("session =\n%s\nwant\n%s", res.Session, want)
	}
}

// A handler whose results are never popped would, with a careless Go
// caller, fill the value stack after ~5,000 calls.
func TestStackStaysBalanced(t *testing.T) {
	h := newHostile(t, Options{}, `function on_move(ctx) return 1, 2, 3, {}, "x" end`)
	for i := 0; i < 6000; i++ {
		if _, err := h.call("on_move"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if top := h.r.L.GetTop(); top != 0 {
			t.Fatalf("call %d: stack top %d", i, top)
		}
	}
	// Something left on the stack by Go code is detected and cleared.
	h.r.L.Push(glua.LNumber(1))
	if _, err := h.call("on_move"); err == nil || !strings.Contains(err.Error(), "not balanced") {
		t.Fatalf("err = %v, want a stack balance error", err)
	}
	h.ok()
}

func TestHostPanicIsRecovered(t *testing.T) {
	h := newHostile(t, Options{}, `function on_move(ctx) ctx.boom() end`)
	api := h.r.ctxFields
	api.RawSetString("boom", h.r.L.NewFunction(func(*glua.LState) int { panic("kaboom") }))
	h.fails("kaboom")
}

func TestStateEncodingErrors(t *testing.T) {
	for name, body := range map[string]string{
		"function": `ctx.state.f = print`,
		"cycle":    `local t = {} t.self = t ctx.state.t = t`,
		"nan":      `ctx.state.x = 0/0`,
		"inf":      `player.x = 1/0`,
		"depth":    `local t = {} local c = t for i = 1, 100 do c.n = {} c = c.n end ctx.state.t = t`,
		"key type": `ctx.state[true] = 1`,
		"emit fn":  `ctx.emit("p1", "x", {f = print})`,
		"dup key":  `ctx.state.t = {[1] = "a", ["1"] = "b", x = 1}`,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHostile(t, Options{}, "function on_move(ctx, player) "+body+" end")
			h.fails("")
		})
	}
}

func TestTopLevelLocalsReadOnly(t *testing.T) {
	h := newHostile(t, Options{}, `
local calls = 0
function on_move(ctx) calls = calls + 1 end
function on_end(ctx) calls = 5 error("after assigning") end
function on_leave(ctx, player) player.calls = calls end`)
	h.fails("top-level local")
	res, err := h.call("on_leave")
	if err != nil || string(res.Session) != `{"calls":0,"id":"p1"}` {
		t.Fatalf("after restore: %s %v", res.Session, err)
	}
	// Restored even when the handler fails after assigning.
	if _, err := h.r.Call(&core.Call{Handler: "on_end"}); err == nil || !strings.Contains(err.Error(), "after assigning") {
		t.Fatalf("on_end: %v", err)
	}
	res, err = h.call("on_leave")
	if err != nil || string(res.Session) != `{"calls":0,"id":"p1"}` {
		t.Fatalf("after restore: %s %v", res.Session, err)
	}
}

func TestCtxOutsideHandler(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": `local x = math.random()`})
	p, err := Load(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewRuntime(p); err == nil || !strings.Contains(err.Error(), "inside a handler") {
		t.Fatalf("err = %v", err)
	}
}
