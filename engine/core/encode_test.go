package core

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/veltrix/veltrix/engine/protocol"
)

// The hand-written encoders write what json.Marshal wrote before them.
func TestEncodersMatchJSONMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	strs := []string{"", "move", "join", "leave", "end", "h001", "too_far", "a<b>&\"c\\", "é"}
	pick := func() string { return strs[rng.IntN(len(strs))] }
	datas := []json.RawMessage{nil, json.RawMessage(`{"a": 1, "b":[1, 2 ]}`), json.RawMessage(`"<x>"`), json.RawMessage(`{"beacon":"b1","points":10}`)}
	for i := 0; i < 20000; i++ {
		a := Action{Type: pick(), Seq: rng.Uint64N(1 << uint(rng.IntN(64))), Lat: (rng.Float64() - 0.5) * 180,
			Lon: (rng.Float64() - 0.5) * 360, At: rng.Int64N(1 << 42)}
		if i%7 == 0 {
			a.Lat, a.Lon = 0, 1e-9
		}
		ans := Answer{OK: rng.IntN(2) == 0, Reason: pick()}
		m := map[string]any{"type": a.Type, "seq": a.Seq, "ok": ans.OK}
		if ans.Reason != "" {
			m["reason"] = ans.Reason
		}
		if a.Type == "move" {
			m["lat"], m["lon"], m["at"] = a.Lat, a.Lon, a.At
		}
		want, _ := json.Marshal(m)
		if got := encodeActionData(&a, ans); string(got) != string(want) {
			t.Fatalf("action data of %+v %+v:\n got %s\nwant %s", a, ans, got, want)
		}

		ok := rng.IntN(2) == 0
		sm := protocol.ServerMessage{Type: pick(), Hunt: pick(), Seq: a.Seq, Reason: pick(), Duplicate: rng.IntN(4) == 0,
			Data: datas[rng.IntN(len(datas))], Version: pick(), TS: rng.Int64N(1 << 42)}
		if rng.IntN(3) > 0 {
			sm.OK = &ok
		}
		if i%50 == 0 {
			sm.Pos = 7 // a field the engine never sets: the json.Marshal path
		}
		want, _ = json.Marshal(sm)
		if got := encodeEvent(sm); string(got) != string(want) {
			t.Fatalf("event %+v:\n got %s\nwant %s", sm, got, want)
		}
	}
}
