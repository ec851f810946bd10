package lua

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/veltrix/veltrix/engine/core"
)

func TestTreasureHuntJoin(t *testing.T) {
	w := newWorld(t, newRuntime(t, Options{Dir: treasureHuntDir}))
	res := w.join("p1")
	if res.Reject != "" {
		t.Fatalf("join rejected: %s", res.Reject)
	}
	e, ok := findEvent(res, "joined")
	if !ok || e.To != "p1" {
		t.Fatalf("no joined event for p1: %+v", res.Events)
	}
	want := `{"beacons":3,"found":0,"hunt":"h1","name":"Paris test","radius_m":30,"score":0,"top":[{"player":"p1","score":0}]}`
	if string(e.Data) != want {
		t.Errorf("joined data = %s, want %s", e.Data, want)
	}
	lb, ok := findEvent(res, "leaderboard")
	if !ok || lb.To != "" {
		t.Fatalf("no leaderboard broadcast: %+v", res.Events)
	}
	if string(lb.Data) != `{"top":[{"player":"p1","score":0}]}` {
		t.Errorf("leaderboard = %s", lb.Data)
	}
	if len(res.Audit) != 1 || res.Audit[0].Kind != "join" || res.Audit[0].Player != "p1" {
		t.Errorf("audit = %+v", res.Audit)
	}
	s := w.session("p1")
	for k, v := range map[string]any{"id": "p1", "score": 0.0, "moves": 0.0, "rejects": 0.0} {
		if s[k] != v {
			t.Errorf("session %s = %v, want %v", k, s[k], v)
		}
	}
	if w.huntState()["players"] != 1.0 {
		t.Errorf("players = %v", w.huntState()["players"])
	}

	// Joining again keeps the player's state and does not count them twice.
	w.move("p1", 48.8566, 2.3522, 1000) // discovers b1
	res = w.join("p1")
	e, _ = findEvent(res, "joined")
	if d := dataOf(t, e.Data); d["score"] != 33.0 || d["found"] != 1.0 {
		t.Errorf("rejoin data = %s", e.Data)
	}
	if w.huntState()["players"] != 1.0 {
		t.Errorf("players after rejoin = %v", w.huntState()["players"])
	}
}

func TestTreasureHuntDiscovery(t *testing.T) {
	w := newWorld(t, newRuntime(t, Options{Dir: treasureHuntDir}))
	w.join("p1")
	w.join("p2")

	// First fix 67 m south of b1: outside the radius.
	res := w.move("p1", 48.8560, 2.3522, 1000)
	if res.Reject != "" || len(res.Events) != 0 {
		t.Fatalf("first move: reject %q events %+v", res.Reject, res.Events)
	}

	// 62 m in 19 s, ending 5 m from b1: found, first finder.
	res = w.move("p1", 48.85655, 2.3522, 20000)
	if res.Reject != "" {
		t.Fatalf("move rejected: %s", res.Reject)
	}
	e, ok := findEvent(res, "discovery")
	if !ok || e.To != "p1" {
		t.Fatalf("no discovery: %+v", res.Events)
	}
	want := `{"beacon":"b1","first":true,"lat":48.8566,"lon":2.3522,"name":"Hotel de Ville","points":33,"score":33}`
	if string(e.Data) != want {
		t.Errorf("discovery = %s\nwant        %s", e.Data, want)
	}
	if len(res.Audit) != 1 || res.Audit[0].Kind != "discovery" ||
		string(res.Audit[0].Data) != `{"beacon":"b1","first":true,"lat":48.85655,"lon":2.3522,"points":33}` {
		t.Errorf("audit = %+v", res.Audit)
	}
	lb, ok := findEvent(res, "leaderboard")
	if !ok || string(lb.Data) != `{"top":[{"player":"p1","score":33},{"player":"p2","score":0}]}` {
		t.Errorf("leaderboard = %s (%v)", lb.Data, ok)
	}
	st := w.huntState()
	if first := st["first"].(map[string]any); first["b1"] != "p1" {
		t.Errorf("first = %v", first)
	}

	// The second finder gets no bonus: 10*2 + 5*1.5 = 27.5 -> 28.
	w.move("p2", 48.8566, 2.3521, 1000)
	s := w.session("p2")
	if s["score"] != 28.0 {
		t.Errorf("p2 score = %v, want 28", s["score"])
	}
	if st := w.huntState(); st["first"].(map[string]any)["b1"] != "p1" {
		t.Errorf("first changed: %v", st["first"])
	}

	// Staying at b1 finds nothing more.
	res = w.move("p1", 48.8566, 2.3522, 30000)
	if _, ok := findEvent(res, "discovery"); ok || len(res.Audit) != 0 {
		t.Errorf("second visit: events %+v audit %+v", res.Events, res.Audit)
	}
	if s := w.session("p1"); s["score"] != 33.0 || s["moves"] != 3.0 {
		t.Errorf("p1 session = %v", s)
	}
}

func TestTreasureHuntSpeedCheck(t *testing.T) {
	w := newWorld(t, newRuntime(t, Options{Dir: treasureHuntDir}))
	w.join("p1")
	w.move("p1", 48.8566, 2.3522, 10_000) // at b1

	// 378 m in 1 s.
	res := w.move("p1", 48.8600, 2.3522, 11_000)
	if res.Reject != "too_fast" {
		t.Fatalf("reject = %q, want too_fast", res.Reject)
	}
	if len(res.Events) != 0 {
		t.Errorf("events on reject: %+v", res.Events)
	}
	if len(res.Audit) != 1 || res.Audit[0].Kind != "move_rejected" {
		t.Fatalf("audit = %+v", res.Audit)
	}
	a := dataOf(t, res.Audit[0].Data)
	if a["reason"] != "too_fast" || a["at"] != 11000.0 || a["speed_mps"].(float64) < 370 {
		t.Errorf("audit data = %s", res.Audit[0].Data)
	}
	s := w.session("p1")
	if s["rejects"] != 1.0 || s["lat"] != 48.8566 || s["at"] != 10000.0 {
		t.Errorf("session after reject = %v", s)
	}

	// Measured from the rejected fix this would be 0 m/s; from the last
	// accepted one it is 189 m/s.
	if res := w.move("p1", 48.8600, 2.3522, 12_000); res.Reject != "too_fast" {
		t.Fatalf("reject = %q, want too_fast (speed from the last accepted fix)", res.Reject)
	}
	// 378 m in 70 s from the last accepted fix: accepted, b2 found.
	res = w.move("p1", 48.8600, 2.3522, 80_000)
	if res.Reject != "" {
		t.Fatalf("rejected: %s", res.Reject)
	}
	if e, ok := findEvent(res, "discovery"); !ok || dataOf(t, e.Data)["points"] != 20.0 {
		t.Errorf("b2 discovery = %+v", res.Events)
	}

	// A fix older than the last accepted one, elsewhere.
	if res := w.move("p1", 48.8601, 2.3522, 70_000); res.Reject != "time_not_monotonic" {
		t.Errorf("reject = %q, want time_not_monotonic", res.Reject)
	}
	if s := w.session("p1"); s["rejects"] != 3.0 {
		t.Errorf("rejects = %v", s["rejects"])
	}
}

func TestTreasureHuntNotJoined(t *testing.T) {
	w := newWorld(t, newRuntime(t, Options{Dir: treasureHuntDir}))
	res := w.move("p9", 48.8566, 2.3522, 1000)
	if res.Reject != "not_joined" || len(res.Events) != 0 {
		t.Fatalf("move before join: reject %q events %+v", res.Reject, res.Events)
	}
	if res := w.must("on_leave", "p9", coreAction("leave")); res.Reject != "not_joined" {
		t.Errorf("leave before join: %q", res.Reject)
	}
}

func TestTreasureHuntLeaveAndEnd(t *testing.T) {
	w := newWorld(t, newRuntime(t, Options{Dir: treasureHuntDir}))
	w.join("p1")
	w.join("p2")
	w.move("p2", 48.8566, 2.3522, 1000)
	w.move("p1", 48.8566, 2.3522, 1000)
	res := w.must("on_leave", "p1", coreAction("leave"))
	if len(res.Audit) != 1 || res.Audit[0].Kind != "leave" {
		t.Errorf("leave audit = %+v", res.Audit)
	}
	if w.session("p1")["left_at"] == nil {
		t.Error("left_at not set")
	}
	res = w.must("on_end", "p1", coreAction("end"))
	e, ok := findEvent(res, "hunt_ended")
	want := `{"top":[{"player":"p2","score":33},{"player":"p1","score":28}],"winners":["p2"]}`
	if !ok || e.To != "" || string(e.Data) != want {
		t.Errorf("hunt_ended = %s", e.Data)
	}
	if len(res.Audit) != 1 || res.Audit[0].Kind != "hunt_end" || res.Audit[0].Player != "" {
		t.Errorf("end audit = %+v", res.Audit)
	}
	if res.Session != nil {
		t.Errorf("on_end returned a session: %s", res.Session)
	}
}

func TestTreasureHuntLeaderboardTop10(t *testing.T) {
	w := newWorld(t, newRuntime(t, Options{Dir: treasureHuntDir}))
	for i := range 12 {
		w.join(fmt.Sprintf("p%02d", i))
	}
	w.move("p11", 48.8566, 2.3522, 1000)
	top := w.huntState()["top"].([]any)
	if len(top) != 10 {
		t.Fatalf("top has %d entries", len(top))
	}
	if top[0].(map[string]any)["player"] != "p11" || top[1].(map[string]any)["player"] != "p00" ||
		top[9].(map[string]any)["player"] != "p08" {
		t.Errorf("top = %v", top)
	}
}

func TestUnsupportedHandler(t *testing.T) {
	r := newRuntime(t, Options{Dir: scriptDir(t, map[string]string{"main.lua": `function on_join(ctx, p) end`})})
	w := newWorld(t, r)
	res, err := w.call("on_move", "p1", coreAction("move"))
	if err != nil || res.Reject != "unsupported_action" {
		t.Fatalf("res %+v err %v", res, err)
	}
	res, err = w.call("on_fly", "p1", coreAction("fly"))
	if err != nil || res.Reject != "unsupported_action" {
		t.Fatalf("unknown handler: res %+v err %v", res, err)
	}
}

// The same calls on two fresh runtimes give byte-identical results.
func TestDeterminism(t *testing.T) {
	run := func() []byte {
		w := newWorld(t, newRuntime(t, Options{Dir: treasureHuntDir}))
		var out bytes.Buffer
		steps := []func() *core.Result{
			func() *core.Result { return w.join("p1") },
			func() *core.Result { return w.join("p2") },
			func() *core.Result { return w.move("p1", 48.8560, 2.3522, 1000) },
			func() *core.Result { return w.move("p1", 48.8566, 2.3522, 20000) },
			func() *core.Result { return w.move("p2", 48.8566, 2.3600, 20000) },
			func() *core.Result { return w.move("p2", 48.8600, 2.3600, 21000) },
			func() *core.Result { return w.move("p1", 48.8600, 2.3522, 90000) },
			func() *core.Result { return w.must("on_leave", "p2", coreAction("leave")) },
			func() *core.Result { return w.must("on_end", "p1", coreAction("end")) },
		}
		for _, s := range steps {
			b, err := json.Marshal(s())
			if err != nil {
				t.Fatal(err)
			}
			out.Write(b)
			out.WriteByte('\n')
		}
		return out.Bytes()
	}
	a, b := run(), run()
	if !bytes.Equal(a, b) {
		t.Fatalf("runs differ:\n%s\n%s", a, b)
	}
}

func TestRandomIsSeededPerCall(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": `
function on_join(ctx, player)
  player.r = {ctx.random(), ctx.random(6), ctx.random(10, 20), math.random(1000000)}
end`})
	draw := func(r *Runtime, seed uint64) []any {
		res, err := r.Call(&core.Call{Handler: "on_join", Action: coreAction("join"), Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		var s map[string]any
		if err := json.Unmarshal(res.Session, &s); err != nil {
			t.Fatal(err)
		}
		return s["r"].([]any)
	}
	r1 := newRuntime(t, Options{Dir: dir})
	r2 := newRuntime(t, Options{Dir: dir})
	a, b := draw(r1, 42), draw(r2, 42)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("same seed, different numbers: %v %v", a, b)
	}
	if c := draw(r1, 42); !reflect.DeepEqual(a, c) {
		t.Errorf("same seed on a used runtime: %v %v", a, c)
	}
	if d := draw(r1, 43); reflect.DeepEqual(a, d) {
		t.Errorf("different seeds, same numbers: %v", d)
	}
	if n := a[1].(float64); n < 1 || n > 6 || n != float64(int(n)) {
		t.Errorf("random(6) = %v", n)
	}
	if n := a[2].(float64); n < 10 || n > 20 {
		t.Errorf("random(10, 20) = %v", n)
	}
}
