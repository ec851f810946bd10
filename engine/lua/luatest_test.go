package lua

import (
	"strings"
	"testing"
)

func TestLuaTestRunner(t *testing.T) {
	dir := scriptDir(t, map[string]string{
		"main.lua": `
function on_join(ctx, p) p.n = (p.n or 0) + 1 ctx.emit(p.id, "hi", {n = p.n}) end
function on_move(ctx, p, pos) if pos.lat > 80 then error("too far north") end end`,
		"a_test.lua": `
function test_passes(t)
  local g = game.new{}
  local r = g:join("p1")
  t.ok(r.ok)
  t.eq(t.find(r.events, "type", "hi").data, {n = 1})
  t.eq(g:join("p1").events[1].data.n, 2)
  t.eq(g:session("p1"), {id = "p1", n = 2})
end

function test_fails_with_line(t)
  local g = game.new{}
  g:join("p1")
  t.eq(g:session("p1").n, 5, "n counts joins")
end

function test_rules_error(t)
  local g = game.new{}
  g:join("p1")
  local r = g:move("p1", 89, 0)
  t.eq(r.reason, "rules_error")
  t.ok(r.error:find("game/main.lua:3: on_move: too far north", 1, true), r.error)
end

function test_runtime_error(t)
  local x = nil
  return x.y
end

function test_helpers(t)
  t.near(0.1 + 0.2, 0.3, 1e-9)
  t.ne({1}, {2})
  t.error(function() error("boom") end, "boom")
  t.eq(t.find({{k = 1}, {k = 2}}, "k", 2), {k = 2})
end

function test_loop_is_stopped(t)
  while true do end
end
`,
		"b_test.lua": `this is not lua`,
	})
	results, err := RunTests(TestOptions{Options: Options{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range results {
		got[r.File+" "+r.Name] = r.Err
	}
	want := map[string]string{
		"game/a_test.lua test_passes":          "",
		"game/a_test.lua test_fails_with_line": "game/a_test.lua:14: t.eq: got 1, want 5 (n counts joins)",
		"game/a_test.lua test_rules_error":     "",
		"game/a_test.lua test_runtime_error":   "game/a_test.lua:27: attempt to index a non-table object(nil) with key 'y'",
		"game/a_test.lua test_helpers":         "",
		"game/a_test.lua test_loop_is_stopped": "instruction budget exceeded",
		"game/b_test.lua ":                     "game/b_test.lua:1:",
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: no result (have %v)", k, got)
			continue
		}
		if w == "" && g != "" || w != "" && !strings.Contains(g, w) {
			t.Errorf("%s: error %q, want %q", k, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("results %v", got)
	}
	// Tests run in the order they are written.
	if results[0].Name != "test_passes" || results[1].Name != "test_fails_with_line" {
		t.Errorf("order: %s, %s", results[0].Name, results[1].Name)
	}
}
