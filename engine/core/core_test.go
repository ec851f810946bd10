package core_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/veltrix/veltrix/engine/core"
)

// memState is a StateReader over a map, standing in for the session store.
type memState map[string][]byte

func (m memState) Get(k []byte) ([]byte, bool, error) { v, ok := m[string(k)]; return v, ok, nil }

func (m memState) apply(rd core.Ready) {
	for _, w := range rd.Writes {
		if w.Delete {
			delete(m, string(w.Key))
		} else {
			m[string(w.Key)] = w.Value
		}
	}
}

// countRules counts moves in the session and hunt state; "boom" fails.
type countRules struct{ calls []string }

func (r *countRules) Call(c *core.Call) (*core.Result, error) {
	r.calls = append(r.calls, c.Handler)
	if c.Action.Type == "move" && c.Action.Lat == 666 {
		return nil, errors.New("main.lua:3: boom")
	}
	var sess, hunt map[string]int
	_ = json.Unmarshal(c.Session, &sess)
	_ = json.Unmarshal(c.HuntState, &hunt)
	if sess == nil {
		sess = map[string]int{}
	}
	if hunt == nil {
		hunt = map[string]int{}
	}
	sess["moves"]++
	hunt["moves"]++
	res := &core.Result{}
	res.Session, _ = json.Marshal(sess)
	res.HuntState, _ = json.Marshal(hunt)
	res.Events = []core.Emit{{Type: "count", Data: json.RawMessage(`{"n":1}`)}}
	if c.Action.Lat == 1 {
		res.Reject = "too_fast"
	}
	return res, nil
}

type catalog struct{ rules core.Rules }

func (c catalog) Hunt(id string) (*core.Hunt, bool) {
	switch id {
	case "h1":
		return &core.Hunt{ID: "h1", Game: "g"}, true
	case "over":
		return &core.Hunt{ID: "over", Game: "g", EndsAt: 1000}, true
	case "long":
		return &core.Hunt{ID: "long", Game: "g", EndsAt: 10 * 3600 * 1000}, true
	}
	return nil, false
}
func (c catalog) Rules(string) (core.Rules, bool) { return c.rules, true }

func newCore(st memState) (*core.Core, *countRules) {
	r := &countRules{}
	return core.New(core.Config{Catalog: catalog{r}, State: st}), r
}

func results(t *testing.T, rd core.Ready) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range rd.Events {
		var m map[string]any
		if err := json.Unmarshal(e.Payload, &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] == "result" {
			out = append(out, m)
		}
	}
	return out
}

func TestStepAppliesOnceAndAnswersResends(t *testing.T) {
	st := memState{}
	c, rules := newCore(st)
	join := core.Action{Hunt: "h1", Player: "p", Seq: 1, Type: "join", TS: 10}
	move := core.Action{Hunt: "h1", Player: "p", Seq: 2, Type: "move", TS: 20}
	for i, a := range []core.Action{join, move, move} { // the move is resent
		if err := c.Step(core.Source{Partition: 0, Offset: int64(i)}, a); err != nil {
			t.Fatal(err)
		}
	}
	rd := c.Ready()
	if got := rd.Offsets[0]; got != 3 {
		t.Fatalf("next offset %d, want 3", got)
	}
	if len(rules.calls) != 2 {
		t.Fatalf("rules called %v, want join and one move", rules.calls)
	}
	rs := results(t, rd)
	if len(rs) != 3 || rs[2]["duplicate"] != true || rs[2]["ok"] != true {
		t.Fatalf("results %v: want the resent move answered again as a duplicate", rs)
	}
	st.apply(rd)
	c.Advance()
	sess, err := core.DecodeSession(st[string(core.SessionKey("h1", "p"))])
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]int
	_ = json.Unmarshal(sess.State, &state)
	if last, ok := sess.AnswerTo(2); sess.Seq != 2 || state["moves"] != 2 || !ok || !last.OK {
		t.Fatalf("session %+v (state %s): want seq 2, 2 calls applied, last answer ok", sess, sess.State)
	}
	// After Advance, a resend is still recognised from the store.
	if err := c.Step(core.Source{Offset: 3}, move); err != nil {
		t.Fatal(err)
	}
	if len(rules.calls) != 2 {
		t.Fatal("a resend after Advance was applied again")
	}
}

func TestStepRejections(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a      core.Action
		reason string
		rules  int
	}{
		{"unknown hunt", core.Action{Hunt: "nope", Player: "p", Seq: 1, Type: "join"}, "unknown_hunt", 0},
		{"unknown action", core.Action{Hunt: "h1", Player: "p", Seq: 1, Type: "fly"}, "unknown_action", 0},
		{"rules reject", core.Action{Hunt: "h1", Player: "p", Seq: 1, Type: "move", Lat: 1}, "too_fast", 1},
		{"rules error", core.Action{Hunt: "h1", Player: "p", Seq: 1, Type: "move", Lat: 666}, "rules_error", 1},
		{"hunt over", core.Action{Hunt: "over", Player: "p", Seq: 1, Type: "move", TS: 2000}, "hunt_over", 1}, // on_end
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rules := newCore(memState{})
			if err := c.Step(core.Source{}, tc.a); err != nil {
				t.Fatal(err)
			}
			rd := c.Ready()
			rs := results(t, rd)
			if len(rs) != 1 || rs[0]["ok"] != false || rs[0]["reason"] != tc.reason {
				t.Fatalf("results %v, want one rejection %s", rs, tc.reason)
			}
			if len(rules.calls) != tc.rules {
				t.Fatalf("rules calls %v, want %d", rules.calls, tc.rules)
			}
			if len(rd.Audit) == 0 {
				t.Fatal("no audit row for a rejected action")
			}
			if tc.reason == "rules_error" {
				if len(rd.Failures) != 1 || !strings.Contains(rd.Failures[0].Error(), "main.lua:3") {
					t.Fatalf("failures %v: want the script error", rd.Failures)
				}
				for _, w := range rd.Writes {
					if strings.HasPrefix(string(w.Key), "s/") {
						t.Fatal("a failed rules call wrote the session")
					}
				}
			}
		})
	}
}

func TestHuntEndsOnce(t *testing.T) {
	st := memState{}
	c, rules := newCore(st)
	for i := 0; i < 3; i++ {
		a := core.Action{Hunt: "over", Player: "p", Seq: uint64(i + 1), Type: "move", TS: 5000}
		if err := c.Step(core.Source{Offset: int64(i)}, a); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(rules.calls, []string{"on_end"}) {
		t.Fatalf("rules calls %v, want on_end once", rules.calls)
	}
}

// Replaying the same log over the same state gives byte-identical effects.
func TestDeterministicReplay(t *testing.T) {
	log := []core.Action{
		{Hunt: "h1", Player: "a", Seq: 1, Type: "join", TS: 1},
		{Hunt: "h1", Player: "b", Seq: 1, Type: "join", TS: 2},
		{Hunt: "h1", Player: "a", Seq: 2, Type: "move", TS: 3},
		{Hunt: "h1", Player: "b", Seq: 2, Type: "move", Lat: 1, TS: 4},
	}
	run := func() core.Ready {
		c, _ := newCore(memState{})
		for i, a := range log {
			if err := c.Step(core.Source{Partition: 2, Offset: int64(100 + i)}, a); err != nil {
				t.Fatal(err)
			}
		}
		return c.Ready()
	}
	if a, b := run(), run(); !reflect.DeepEqual(a, b) {
		t.Fatal("two runs of the same log differ")
	}
}

func TestBadActionIsSkippedButConsumed(t *testing.T) {
	c, _ := newCore(memState{})
	if err := c.Step(core.Source{Offset: 7}, core.Action{Type: "move"}); !errors.Is(err, core.ErrBadAction) {
		t.Fatalf("err %v, want ErrBadAction", err)
	}
	if c.Ready().Offsets[0] != 8 {
		t.Fatal("offset did not move past the bad action")
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range []core.SessionRecord{
		{},
		{Seq: 7, Seen: 1234, State: json.RawMessage(`{"a":1}`)},
		{Seq: 1 << 60, Seen: -1, Recent: []core.RecentAnswer{{Seq: 1<<60 - 5, Answer: core.Answer{OK: false, Reason: "too_fast"}}, {Seq: 1 << 60, Answer: core.Answer{OK: true}}}, State: json.RawMessage(`{}`)},
		{Seq: 3, Recent: []core.RecentAnswer{{Seq: 3, Answer: core.Answer{OK: true}}}},
	} {
		b, _ := r.MarshalBinary()
		got, err := core.DecodeSession(b)
		if err != nil || !reflect.DeepEqual(*got, r) {
			t.Fatalf("round trip of %+v gave %+v, %v", r, got, err)
		}
	}
	for _, r := range []core.HuntRecord{{}, {Ended: true, Seen: 99, State: json.RawMessage(`{"top":[]}`)}} {
		b, _ := r.MarshalBinary()
		got, err := core.DecodeHunt(b)
		if err != nil || !reflect.DeepEqual(*got, r) {
			t.Fatalf("round trip of %+v gave %+v, %v", r, got, err)
		}
	}
	// Version 1 records (the last answer only) are still read.
	v1 := append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 5, 1, 8}, "too_fast{}"...)
	if got, err := core.DecodeSession(v1); err != nil || got.Seq != 9 || len(got.Recent) != 1 ||
		got.Recent[0] != (core.RecentAnswer{Seq: 9, Answer: core.Answer{Reason: "too_fast"}}) || string(got.State) != "{}" {
		t.Fatalf("version 1 record: %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {1, 2}, {9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, append(make([]byte, 18, 20), 1, 0xff)} {
		if _, err := core.DecodeSession(bad); err == nil {
			t.Fatalf("DecodeSession(%v) accepted garbage", bad)
		}
	}
}

// A hunt's live state must outlive a quiet spell before its scheduled end;
// sessions keep the plain TTL after their last action.
func TestHuntStateKeptUntilScheduledEnd(t *testing.T) {
	const ttl = 30 * 60 * 1000
	expiries := func(hunt string, ts int64) (sessExp, huntExp int64) {
		t.Helper()
		c := core.New(core.Config{Catalog: catalog{&countRules{}}, State: memState{}})
		if err := c.Step(core.Source{}, core.Action{Hunt: hunt, Player: "p", Seq: 1, Type: "join", TS: ts}); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.Ready().Writes {
			switch string(w.Key) {
			case string(core.SessionKey(hunt, "p")):
				sessExp = w.ExpiresAt
			case string(core.HuntKey(hunt)):
				huntExp = w.ExpiresAt
			}
		}
		return sessExp, huntExp
	}
	if s, h := expiries("h1", 5000); s != 5000+ttl || h != 5000+ttl+ttl/10 {
		t.Fatalf("hunt without end: session expires %d, hunt %d; want %d and %d", s, h, 5000+ttl, 5000+ttl+ttl/10)
	}
	end := int64(10 * 3600 * 1000)
	if s, h := expiries("long", 5000); s != 5000+ttl || h != end+ttl {
		t.Fatalf("scheduled hunt: session expires %d (want %d), hunt %d (want %d)", s, 5000+ttl, h, end+ttl)
	}
}

// sessionOnlyRules changes the hunt state on join only.
type sessionOnlyRules struct{}

func (sessionOnlyRules) Call(c *core.Call) (*core.Result, error) {
	res := &core.Result{Session: json.RawMessage(`{"n":1}`)}
	if c.Handler == "on_join" {
		res.HuntState = json.RawMessage(`{"players":1}`)
	}
	return res, nil
}

// A move that leaves the hunt state alone does not rewrite the hunt record,
// until a tenth of the TTL has passed since it was written.
func TestHuntRecordRewrittenOnlyWhenNeeded(t *testing.T) {
	st := memState{}
	c := core.New(core.Config{Catalog: catalog{sessionOnlyRules{}}, State: st})
	const ttl = 30 * 60 * 1000
	huntWrites := func() (n int) {
		for _, w := range c.Ready().Writes {
			if string(w.Key) == string(core.HuntKey("h1")) {
				n++
			}
		}
		st.apply(c.Ready())
		c.Advance()
		return n
	}
	steps := []struct {
		a    core.Action
		want int
	}{
		{core.Action{Type: "join", TS: 1000}, 1},
		{core.Action{Type: "move", TS: 2000}, 0},
		{core.Action{Type: "move", TS: 1000 + ttl/10 - 1}, 0},
		{core.Action{Type: "move", TS: 1000 + ttl/10}, 1},
	}
	huntExp := int64(0)
	for i, s := range steps {
		a := s.a
		a.Hunt, a.Player, a.Seq = "h1", "p", uint64(i+1)
		if err := c.Step(core.Source{Offset: int64(i)}, a); err != nil {
			t.Fatal(err)
		}
		// The hunt record must outlive every session it has seen written.
		for _, w := range c.Ready().Writes {
			if string(w.Key) == string(core.HuntKey("h1")) {
				huntExp = w.ExpiresAt
			}
		}
		for _, w := range c.Ready().Writes {
			if string(w.Key) == string(core.SessionKey("h1", "p")) && w.ExpiresAt > huntExp {
				t.Fatalf("step %d: session expires at %d, after its hunt's record (%d)", i, w.ExpiresAt, huntExp)
			}
		}
		if got := huntWrites(); got != s.want {
			t.Fatalf("step %d (%s at %d): %d hunt record writes, want %d", i, a.Type, a.TS, got, s.want)
		}
	}
	hr, err := core.DecodeHunt(st[string(core.HuntKey("h1"))])
	if err != nil || string(hr.State) != `{"players":1}` || hr.Seen != 1000+ttl/10 {
		t.Fatalf("hunt record %+v (%v): want the join's state, seen at the refresh", hr, err)
	}
}

// A resent action gets the answer it had, rejected ones included, for the
// last RecentAnswers actions; an older one is not applied and not answered
// as if it had been accepted.
func TestResendGetsItsOwnAnswer(t *testing.T) {
	st := memState{}
	c, rules := newCore(st)
	step := func(off int64, a core.Action) map[string]any {
		t.Helper()
		a.Hunt, a.Player = "h1", "p"
		if err := c.Step(core.Source{Offset: off}, a); err != nil {
			t.Fatal(err)
		}
		rs := results(t, c.Ready())
		st.apply(c.Ready())
		c.Advance()
		return rs[len(rs)-1]
	}
	step(0, core.Action{Seq: 1, Type: "join"})
	if r := step(1, core.Action{Seq: 2, Type: "move", Lat: 1}); r["ok"] != false || r["reason"] != "too_fast" {
		t.Fatalf("move 2: %v, want too_fast", r)
	}
	n := int64(2)
	for seq := uint64(3); seq <= 3+core.RecentAnswers; seq++ {
		step(n, core.Action{Seq: seq, Type: "move"})
		n++
		if seq == 4 {
			calls := len(rules.calls)
			if r := step(n, core.Action{Seq: 2, Type: "move", Lat: 1}); r["ok"] != false || r["reason"] != "too_fast" || r["duplicate"] != true {
				t.Fatalf("resent move 2 after move 4: %v, want its own too_fast again", r)
			}
			n++
			if len(rules.calls) != calls {
				t.Fatal("a resend ran the rules")
			}
		}
	}
	// Move 2 is now more than RecentAnswers actions back.
	r := step(n, core.Action{Seq: 2, Type: "move", Lat: 1})
	if _, has := r["ok"]; has || r["reason"] != "already_applied" || r["duplicate"] != true {
		t.Fatalf("resent move 2 out of the window: %v, want no ok, already_applied", r)
	}
}
