package lua

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/veltrix/veltrix/engine/core"
)

const treasureHuntDir = "../../scripts/treasurehunt"

// testHuntDef is a small hunt around Paris: b1 and b2 are 378 m apart, b3
// 571 m east of b1.
var testHuntDef = json.RawMessage(`{
  "id": "h1", "name": "Paris test", "radius_m": 30, "max_speed_mps": 10,
  "first_finder_bonus": 5, "ends_at": 0,
  "beacons": [
    {"id": "b1", "name": "Hotel de Ville", "lat": 48.8566, "lon": 2.3522, "type": "traditional", "container": "small", "difficulty": 2, "terrain": 1.5, "hint": "under the bench"},
    {"id": "b2", "name": "North", "lat": 48.8600, "lon": 2.3522, "type": "traditional", "container": "micro", "difficulty": 1, "terrain": 1, "hint": ""},
    {"id": "b3", "name": "East", "lat": 48.8566, "lon": 2.3600, "type": "mystery", "container": "regular", "difficulty": 3.5, "terrain": 2, "hint": ""}
  ]}`)

// world plays the engine's part: it keeps the hunt state and the sessions
// and applies each Result the way core does.
type world struct {
	t        *testing.T
	r        *Runtime
	def      json.RawMessage
	state    json.RawMessage
	sessions map[string]json.RawMessage
	seq      uint64
}

func newWorld(t *testing.T, r *Runtime) *world {
	return &world{t: t, r: r, def: testHuntDef, sessions: map[string]json.RawMessage{}}
}

func (w *world) call(handler, player string, a core.Action) (*core.Result, error) {
	w.seq++
	a.Hunt, a.Player, a.Seq = "h1", player, w.seq
	if a.TS == 0 {
		a.TS = 1_700_000_000_000 + int64(w.seq)*1000
	}
	c := &core.Call{
		Game: "treasurehunt", Handler: handler, Action: a, HuntDef: w.def,
		HuntState: w.state, Seed: w.seq * 7919, Now: a.TS,
	}
	if handler != "on_end" {
		c.Session = w.sessions[player]
	}
	res, err := w.r.Call(c)
	if err != nil {
		return nil, err
	}
	if res.HuntState != nil {
		w.state = res.HuntState
	}
	if res.Session != nil {
		w.sessions[player] = res.Session
	}
	return res, nil
}

func (w *world) must(handler, player string, a core.Action) *core.Result {
	w.t.Helper()
	res, err := w.call(handler, player, a)
	if err != nil {
		w.t.Fatalf("%s %s: %v", handler, player, err)
	}
	return res
}

func (w *world) join(player string) *core.Result {
	w.t.Helper()
	return w.must("on_join", player, core.Action{Type: "join"})
}

func (w *world) move(player string, lat, lon float64, at int64) *core.Result {
	w.t.Helper()
	return w.must("on_move", player, core.Action{Type: "move", Lat: lat, Lon: lon, At: at})
}

func (w *world) session(player string) map[string]any {
	w.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.sessions[player], &m); err != nil {
		w.t.Fatalf("session of %s: %v", player, err)
	}
	return m
}

func (w *world) huntState() map[string]any {
	w.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.state, &m); err != nil {
		w.t.Fatalf("hunt state: %v", err)
	}
	return m
}

// newRuntime loads dir and returns a runtime closed at the end of the test.
func newRuntime(t testing.TB, o Options) *Runtime {
	t.Helper()
	p, err := Load(o)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	r, err := NewRuntime(p)
	if err != nil {
		t.Fatalf("NewRuntime: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// scriptDir writes files into a fresh folder named "game".
func scriptDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "game")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func dataOf(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("data %s: %v", raw, err)
	}
	return m
}

func findEvent(res *core.Result, typ string) (core.Emit, bool) {
	for _, e := range res.Events {
		if e.Type == typ {
			return e, true
		}
	}
	return core.Emit{}, false
}

func coreAction(typ string) core.Action { return core.Action{Type: typ} }
