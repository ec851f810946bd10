package lua

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/veltrix/veltrix/engine/core"
)

func TestCtxAPI(t *testing.T) {
	var logs []string
	dir := scriptDir(t, map[string]string{
		"00_util.lua": `function twice(x) return 2 * x end`,
		"main.lua": `
function on_leave(ctx, player)
  ctx.emit("p2", "hello", {n = twice(21)})
  ctx.emit("p3", "bare")
  ctx.broadcast("news", {list = {3, 2, 1}, empty = {}})
  ctx.audit("a1", {x = 1})
  ctx.audit("a2", nil, "other")
  ctx.reject("nope")
  ctx.end_hunt()
  ctx.log("n =", 1, true, nil)
  print("printed")
  ctx.state.keys = table.concat(ctx.keys({b = 1, a = 2, [10] = 3, [2] = 4, [-1] = 5}), ",")
  ctx.state.now = ctx.now
  ctx.state.action = ctx.action
  ctx.state.d = math.floor(ctx.distance(48.8566, 2.3522, 48.8600, 2.3522))
  player.seen = true
end`})
	r := newRuntime(t, Options{Dir: dir, Log: func(m string) { logs = append(logs, m) }})
	res, err := r.Call(&core.Call{
		Handler: "on_leave", Action: core.Action{Hunt: "h1", Player: "p1", Type: "leave", Seq: 7},
		HuntDef: testHuntDef, Now: 1234, Session: json.RawMessage(`{"id":"p1"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(res)
	want := `{"HuntState":{"action":{"player":"p1","seq":7,"type":"leave"},"d":378,"keys":"-1,2,10,a,b","now":1234},` +
		`"Session":{"id":"p1","seen":true},` +
		`"Events":[{"to":"p2","type":"hello","data":{"n":42}},{"to":"p3","type":"bare"},{"type":"news","data":{"empty":{},"list":[3,2,1]}}],` +
		`"Audit":[{"kind":"a1","player":"p1","data":{"x":1}},{"kind":"a2","player":"other"}],"Reject":"nope","EndHunt":true}`
	if string(got) != want {
		t.Errorf("result =\n%s\nwant\n%s", got, want)
	}
	if len(logs) != 2 || !strings.HasSuffix(logs[0], "n =\t1\ttrue\tnil") || !strings.Contains(logs[0], "game/main.lua:10:") ||
		!strings.HasSuffix(logs[1], "printed") {
		t.Errorf("logs = %q", logs)
	}
}

func TestUnchangedStateIsNil(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": `function on_join(ctx, p) end`})
	r := newRuntime(t, Options{Dir: dir})
	res, err := r.Call(&core.Call{Handler: "on_join", Action: core.Action{Player: "p1"},
		HuntState: json.RawMessage(`{"a":1}`), Session: json.RawMessage(`{"id":"p1"}`)})
	if err != nil || res.HuntState != nil || res.Session != nil {
		t.Fatalf("res = %+v, err %v; want nil state and session (unchanged)", res, err)
	}
	// Non-canonical input is written back canonically.
	res, err = r.Call(&core.Call{Handler: "on_join", Action: core.Action{Player: "p1"},
		HuntState: json.RawMessage(`{ "b":1, "a":2 }`)})
	if err != nil || string(res.HuntState) != `{"a":2,"b":1}` || string(res.Session) != `{"id":"p1"}` {
		t.Fatalf("res = %+v, err %v", res, err)
	}
}

func TestBadInput(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": `function on_join(ctx, p) end`})
	r := newRuntime(t, Options{Dir: dir})
	for name, c := range map[string]*core.Call{
		"state":   {HuntState: json.RawMessage(`{"a":`)},
		"session": {Session: json.RawMessage(`"x"`)},
		"def":     {HuntDef: json.RawMessage(`{]`)},
	} {
		c.Handler = "on_join"
		if _, err := r.Call(c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := r.Call(&core.Call{Handler: "on_join"}); err != nil {
		t.Errorf("after bad input: %v", err)
	}
}

func TestHandlerMustBeFunction(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": `on_move = 1`})
	p, err := Load(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewRuntime(p); err == nil || !strings.Contains(err.Error(), "on_move is a number") {
		t.Fatalf("err = %v", err)
	}
}

func TestVersion(t *testing.T) {
	a := scriptDir(t, map[string]string{"main.lua": `x = 1`})
	b := scriptDir(t, map[string]string{"main.lua": `x = 2`})
	pa, err := Load(Options{Dir: a})
	if err != nil {
		t.Fatal(err)
	}
	pa2, _ := Load(Options{Dir: a})
	pb, _ := Load(Options{Dir: b})
	if pa.Version() != pa2.Version() || pa.Version() == pb.Version() || len(pa.Version()) != 12 {
		t.Errorf("versions %q %q %q", pa.Version(), pa2.Version(), pb.Version())
	}
	pv, _ := Load(Options{Dir: a, Version: "1.2.3"})
	if pv.Version() != "1.2.3" {
		t.Errorf("version = %q", pv.Version())
	}
	if _, err := Load(Options{Dir: t.TempDir()}); err == nil {
		t.Error("empty folder loaded")
	}
}

// One Program serves runtimes on several goroutines (run with -race).
func TestProgramSharedAcrossGoroutines(t *testing.T) {
	p, err := Load(Options{Dir: treasureHuntDir})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 4)
	for range 4 {
		go func() {
			r, err := NewRuntime(p)
			if err != nil {
				done <- err
				return
			}
			defer r.Close()
			for i := range 50 {
				if _, err := r.Call(&core.Call{Handler: "on_join", HuntDef: testHuntDef,
					Action: core.Action{Hunt: "h1", Player: "p", Seq: uint64(i)}}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestClosedRuntime(t *testing.T) {
	r := newRuntime(t, Options{Dir: treasureHuntDir})
	r.Close()
	r.Close()
	if _, err := r.Call(&core.Call{Handler: "on_join"}); err == nil {
		t.Fatal("call on a closed runtime succeeded")
	}
}

// A worker serves every hunt of its partitions: hundreds of hunts must each
// be converted to Lua tables once, not again on every call.
func TestHuntDefinitionsConvertedOncePerHunt(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": `function on_move(ctx, p) end`})
	r := newRuntime(t, Options{Dir: dir})
	const hunts = 500
	defs := make([]json.RawMessage, hunts)
	for i := range defs {
		defs[i] = json.RawMessage(fmt.Sprintf(`{"id":"h%d","beacons":[{"id":"b","lat":1,"lon":2}]}`, i))
	}
	first := make([]*huntDef, hunts)
	for round := 0; round < 2; round++ {
		for i, def := range defs {
			c := &core.Call{Handler: "on_move", Action: core.Action{Hunt: fmt.Sprintf("h%d", i), Player: "p"}, HuntDef: def}
			if _, err := r.Call(c); err != nil {
				t.Fatal(err)
			}
			h, err := r.huntFor(c)
			if err != nil {
				t.Fatal(err)
			}
			if round == 0 {
				first[i] = h
			} else if h != first[i] {
				t.Fatalf("hunt h%d was converted again on the second round", i)
			}
		}
	}
}
