package lua

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

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
	const near = "local near = ctx.near(pos.lat, pos.lon, hunt.radius_m or 0)\n  for i = 1, #near do\n    local b = near[i]\n    if found[b.id] == nil then"
	const loop = "local radius = hunt.radius_m or 0\n  for _, b in ipairs(hunt.beacons) do\n    if found[b.id] == nil and ctx.distance(pos.lat, pos.lon, b.lat, b.lon) <= radius then"
	if !strings.Contains(string(src), near) {
		b.Fatal("main.lua no longer has the ctx.near loop this benchmark rewrites")
	}
	return scriptDir(b, map[string]string{"main.lua": strings.Replace(string(src), near, loop, 1)})
}

// cpuTime is the user+system CPU time of the process (who =
// syscall.RUSAGE_SELF) or of the calling thread (rusageThread).
func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

const rusageThread = 1 // RUSAGE_THREAD (Linux)

// threadCPU is the calling thread's CPU time, to the nanosecond
// (clock_gettime(CLOCK_THREAD_CPUTIME_ID); getrusage counts in ticks).
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

// BenchmarkOnMove measures on_move the way the engine drives it: each call
// gets the state bytes the previous call returned (so decoded tables are
// reused, see state.go), the player walks at 1 m/s between two points 10 m
// apart in a row of beacons 100 m apart (nothing discovered), and the hunt
// has 500 beacons. calls/cpu-s divides by the process's CPU time, GC
// included, which is the per-core figure on a shared machine.
func BenchmarkOnMove(b *testing.B) {
	def, state, session := benchHunt(b)
	// The same player with nothing found, in a hunt nobody has scored in.
	smallState := json.RawMessage(`{"players":1}`)
	smallSession := json.RawMessage(`{"at":1700000100000,"found":{},"id":"p001","joined_at":1700000000000,"lat":48.859,"lon":2.357,"moves":1,"rejects":0,"score":0}`)
	main := func(*testing.B) string { return treasureHuntDir }
	for _, bc := range []struct {
		name           string
		dir            func(*testing.B) string
		noBudget       bool
		cache          int
		state, session json.RawMessage
	}{
		{"typical/budget", main, false, 0, state, session},
		{"typical/no_budget", main, true, 0, state, session},
		{"typical/no_cache", main, false, -1, state, session},
		{"small/budget", main, false, 0, smallState, smallSession},
		{"small/no_budget", main, true, 0, smallState, smallSession},
		{"small/no_cache", main, false, -1, smallState, smallSession},
		{"loop/budget", loopScripts, false, 0, state, session},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// A generous time limit: a shared machine can stall a call for 100ms.
			r := newRuntime(b, Options{Dir: bc.dir(b), Budget: 10 * time.Second, CacheBytes: bc.cache})
			r.noBudget = bc.noBudget
			hunt, sess := bc.state, bc.session
			var seq uint64 = 1000
			at := int64(1_700_000_100_000)
			call := func() {
				seq++
				at += 10_000
				lon := 2.35768
				if seq%2 == 0 {
					lon -= 0.000137 // 10 m west, still 47 m from the nearest beacon
				}
				c := &core.Call{
					Game: "treasurehunt", Handler: "on_move", HuntDef: def, HuntState: hunt, Session: sess,
					Action: core.Action{Hunt: "bench", Player: "p001", Type: "move", Seq: seq, Lat: 48.8590, Lon: lon, At: at, TS: at},
					Seed:   seq, Now: at,
				}
				res, err := r.Call(c)
				if err != nil || res.Reject != "" || len(res.Events) != 0 {
					b.Fatalf("call %d: reject %q, %d events, %v", seq, res.Reject, len(res.Events), err)
				}
				if res.HuntState != nil {
					hunt = res.HuntState
				}
				if res.Session != nil {
					sess = res.Session
				}
			}
			call()
			// The calls' own thread: its CPU time does not count the time
			// other processes of a shared machine take the core.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu, thread := cpuTime(syscall.RUSAGE_SELF), cpuTime(rusageThread)
			for b.Loop() {
				call()
			}
			cpu, thread = cpuTime(syscall.RUSAGE_SELF)-cpu, cpuTime(rusageThread)-thread
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
			b.ReportMetric(float64(b.N)/cpu.Seconds(), "calls/cpu-s")
			b.ReportMetric(float64(b.N)/thread.Seconds(), "calls/thread-cpu-s")
			if !bc.noBudget {
				b.ReportMetric(float64(r.budget.used()), "instr/call")
			}
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

// BenchmarkBudgetShare measures what the budget costs on_move (typical
// state) and a tight loop: blocks of calls with the budget alternate with
// blocks of the same calls without it on a second runtime, and each side
// sums its own thread CPU time. Both halves see the same machine load,
// which a shared machine varies a lot between two separate benchmarks.
func BenchmarkBudgetShare(b *testing.B) {
	def, state, session := benchHunt(b)
	loopDir := scriptDir(b, map[string]string{"main.lua": `
function on_end(ctx)
  local x = 0
  for i = 1, 1000 do x = x + i end
end`})
	for _, name := range []string{"on_move", "loop"} {
		b.Run(name, func(b *testing.B) {
			type side struct {
				r          *Runtime
				hunt, sess json.RawMessage
				cpu        time.Duration
				seq        uint64
			}
			mk := func(noBudget bool) *side {
				dir := treasureHuntDir
				if name == "loop" {
					dir = loopDir
				}
				s := &side{r: newRuntime(b, Options{Dir: dir, Budget: 10 * time.Second}), hunt: state, sess: session, seq: 1000}
				s.r.noBudget = noBudget
				return s
			}
			sides := []*side{mk(false), mk(true)}
			call := func(s *side) {
				s.seq++
				at := int64(1_700_000_100_000) + int64(s.seq)*10_000
				lon := 2.35768
				if s.seq%2 == 0 {
					lon -= 0.000137
				}
				c := &core.Call{Game: "treasurehunt", Handler: "on_move", HuntDef: def, HuntState: s.hunt, Session: s.sess,
					Action: core.Action{Hunt: "bench", Player: "p001", Type: "move", Seq: s.seq, Lat: 48.8590, Lon: lon, At: at, TS: at},
					Seed:   s.seq, Now: at}
				if name == "loop" {
					c.Handler = "on_end"
				}
				res, err := s.r.Call(c)
				if err != nil {
					b.Fatal(err)
				}
				if res.HuntState != nil {
					s.hunt = res.HuntState
				}
				if res.Session != nil {
					s.sess = res.Session
				}
			}
			for _, s := range sides {
				call(s)
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			// Blocks of calls, alternating: long enough for each runtime
			// to run with warm caches, short enough that both see the
			// same load.
			const block = 256
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				for j := range sides {
					s := sides[(i+j)%2] // alternate which goes first
					t0 := threadCPU()
					for range block {
						call(s)
					}
					s.cpu += threadCPU() - t0
				}
			}
			b.StopTimer()
			n := float64(b.N * block)
			with, without := sides[0].cpu.Seconds(), sides[1].cpu.Seconds()
			b.ReportMetric(n/with, "calls/cpu-s(budget)")
			b.ReportMetric(n/without, "calls/cpu-s(none)")
			b.ReportMetric(100*(with-without)/with, "%budget")
		})
	}
}
