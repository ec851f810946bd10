package lua

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/core"
)

// benchHunt is a 500-beacon hunt on a 20x25 grid with 100 m spacing, a
// hunt state with 100 players and a session that found 20 beacons.
func benchHunt(tb testing.TB) (def, state, session json.RawMessage) {
	tb.Helper()
	type beacon struct {
		ID         string  `json:"id"`
		Name       string  `json:"name"`
		Lat        float64 `json:"lat"`
		Lon        float64 `json:"lon"`
		Type       string  `json:"type"`
		Container  string  `json:"container"`
		Difficulty float64 `json:"difficulty"`
		Terrain    float64 `json:"terrain"`
		Hint       string  `json:"hint"`
	}
	var bs []beacon
	for i := range 500 {
		bs = append(bs, beacon{
			ID: fmt.Sprintf("b%03d", i), Name: fmt.Sprintf("Beacon %d", i),
			Lat: 48.85 + float64(i/25)*0.0009, Lon: 2.35 + float64(i%25)*0.00137,
			Type: "traditional", Container: "small", Difficulty: 1 + float64(i%5)/2, Terrain: 1.5, Hint: "look up",
		})
	}
	mustJSON := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	def = mustJSON(map[string]any{
		"id": "bench", "name": "Bench", "radius_m": 30, "max_speed_mps": 10,
		"first_finder_bonus": 5, "ends_at": 0, "beacons": bs,
	})
	first := map[string]string{}
	for i := range 100 {
		first[fmt.Sprintf("b%03d", i*5)] = fmt.Sprintf("p%03d", i)
	}
	var top []map[string]any
	for i := range 10 {
		top = append(top, map[string]any{"player": fmt.Sprintf("p%03d", i), "score": 500 - i})
	}
	state = mustJSON(map[string]any{"players": 100, "first": first, "top": top})
	found := map[string]int64{}
	for i := range 20 {
		found[fmt.Sprintf("b%03d", i)] = 1_700_000_000_000 + int64(i)
	}
	session = mustJSON(map[string]any{
		"id": "p001", "score": 400, "found": found, "joined_at": 1_700_000_000_000,
		"moves": 1000, "rejects": 3, "lat": 48.8590, "lon": 2.3570, "at": 1_700_000_100_000, "last_seen": 1_700_000_100_000,
	})
	return def, state, session
}

// loopScripts is main.lua with ctx.near replaced by the plain loop over
// every beacon, to show what the index saves.
func loopScripts(b *testing.B) string {
	src, err := os.ReadFile(filepath.Join(treasureHuntDir, "main.lua"))
	if err != nil {
		b.Fatal(err)
	}
	const near = "for _, b in ipairs(ctx.near(pos.lat, pos.lon, hunt.radius_m or 0)) do\n    if found[b.id] == nil then"
	const loop = "local radius = hunt.radius_m or 0\n  for _, b in ipairs(hunt.beacons) do\n    if found[b.id] == nil and ctx.distance(pos.lat, pos.lon, b.lat, b.lon) <= radius then"
	if !strings.Contains(string(src), near) {
		b.Fatal("main.lua no longer has the ctx.near loop this benchmark rewrites")
	}
	return scriptDir(b, map[string]string{"main.lua": strings.Replace(string(src), near, loop, 1)})
}

func BenchmarkOnMove(b *testing.B) {
	def, state, session := benchHunt(b)
	// The same player with nothing found, in a hunt nobody has scored in:
	// the per-call floor, without the cost of decoding big tables.
	smallState := json.RawMessage(`{"players":1}`)
	smallSession := json.RawMessage(`{"at":1700000100000,"found":{},"id":"p001","joined_at":1700000000000,"lat":48.859,"lon":2.357,"moves":1,"rejects":0,"score":0}`)
	main := func(*testing.B) string { return treasureHuntDir }
	for _, bc := range []struct {
		name           string
		dir            func(*testing.B) string
		noBudget       bool
		state, session json.RawMessage
	}{
		{"near/budget", main, false, state, session},
		{"near/no_budget", main, true, state, session},
		{"loop/budget", loopScripts, false, state, session},
		{"loop/no_budget", loopScripts, true, state, session},
		{"small_state/budget", main, false, smallState, smallSession},
		{"small_state/no_budget", main, true, smallState, smallSession},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// A generous budget: the cost of checking it does not depend on
			// its length, and a shared machine can stall a call for 100ms.
			r := newRuntime(b, Options{Dir: bc.dir(b), Budget: 10 * time.Second})
			r.noBudget = bc.noBudget
			c := &core.Call{
				Game: "treasurehunt", Handler: "on_move", HuntDef: def, HuntState: bc.state, Session: bc.session,
				Action: core.Action{Hunt: "bench", Player: "p001", Type: "move", Seq: 1001,
					// 50 m east of the last fix, 10 s later, between beacons.
					Lat: 48.8590, Lon: 2.35768, At: 1_700_000_110_000, TS: 1_700_000_110_000},
				Seed: 1, Now: 1_700_000_110_000,
			}
			res, err := r.Call(c)
			if err != nil || res.Reject != "" || len(res.Events) != 0 {
				b.Fatalf("warm-up: %+v %v", res, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := r.Call(c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}

// BenchmarkBudgetOverhead isolates what the budget costs the VM: with a
// context, gopher-lua checks it before every instruction.
func BenchmarkBudgetOverhead(b *testing.B) {
	dir := scriptDir(b, map[string]string{"main.lua": `
function on_end(ctx)
  local x = 0
  for i = 1, 10000 do x = x + i end
end`})
	for _, noBudget := range []bool{false, true} {
		name := "budget"
		if noBudget {
			name = "no_budget"
		}
		b.Run(name, func(b *testing.B) {
			r := newRuntime(b, Options{Dir: dir, Budget: 10 * time.Second})
			r.noBudget = noBudget
			c := &core.Call{Handler: "on_end"}
			for b.Loop() {
				if _, err := r.Call(c); err != nil {
					b.Fatal(err)
				}
			}
			// Two VM instructions per iteration (ADD, FORLOOP).
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/20000, "ns/instr")
		})
	}
}
