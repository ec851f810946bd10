package core

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

var benchAction = Action{Hunt: "harbour", Player: "p-1f3a9c0b2d4e5f60", Seq: 2, Type: "move",
	Lat: 38.70585, Lon: -9.1448, At: 1764780000000, TS: 1764780000123, Gateway: "gw-1"}

// AppendJSON writes what json.Marshal writes, and its error.
func TestActionAppendJSONMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	strs := []string{"", "move", "join", "leave", "end", "h001", "p-1f3a9c0b2d4e5f60", "a<b>&\"c\\", "é", "\xff", "\u2028", "~\x7f\x00"}
	pick := func() string { return strs[rng.IntN(len(strs))] }
	floats := []float64{0, math.Copysign(0, -1), 1e-7, 1e21, -90, 180, 45.2671, math.MaxFloat64, math.SmallestNonzeroFloat64}
	pickf := func() float64 {
		if rng.IntN(2) == 0 {
			return floats[rng.IntN(len(floats))]
		}
		return (rng.Float64() - 0.5) * 360
	}
	for i := 0; i < 20000; i++ {
		a := Action{Hunt: pick(), Player: pick(), Session: pick(), Seq: rng.Uint64N(1 << uint(rng.IntN(64))), Type: pick(),
			Lat: pickf(), Lon: pickf(), At: rng.Int64() >> rng.IntN(64), TS: rng.Int64N(1 << 42), Gateway: pick()}
		if i%2 == 0 {
			a.At = -a.At
		}
		checkAppendJSON(t, a)
		got, err := DecodeAction(mustAppend(t, a))
		var want Action
		werr := json.Unmarshal(mustAppend(t, a), &want)
		if got != want || err != nil || werr != nil {
			t.Fatalf("DecodeAction of %+v = %+v, %v; json.Unmarshal: %+v, %v", a, got, err, want, werr)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		checkAppendJSON(t, Action{Lat: f})
		checkAppendJSON(t, Action{Lon: f})
	}
}

func mustAppend(t *testing.T, a Action) []byte {
	b, err := a.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkAppendJSON(t *testing.T, a Action) {
	t.Helper()
	want, werr := json.Marshal(a)
	got, err := a.AppendJSON([]byte("x"))
	if werr != nil {
		if err == nil || err.Error() != werr.Error() || string(got) != "x" {
			t.Fatalf("AppendJSON(%+v) = %q, %v; want x, %v", a, got, err, werr)
		}
		return
	}
	if err != nil || string(got) != "x"+string(want) {
		t.Fatalf("AppendJSON(%+v):\n got %s, %v\nwant x%s", a, got, err, want)
	}
}

func FuzzActionAppendJSON(f *testing.F) {
	a := benchAction
	f.Add(a.Hunt, a.Player, a.Session, a.Seq, a.Type, a.Lat, a.Lon, a.At, a.TS, a.Gateway)
	f.Add("<h>", "p\"", "s\\", uint64(math.MaxUint64), "\xff\u2028", 1e-7, math.Copysign(0, -1), int64(math.MinInt64), int64(-1), "é")
	f.Add("", "", "", uint64(0), "", math.NaN(), math.Inf(1), int64(0), int64(0), "")
	f.Fuzz(func(t *testing.T, hunt, player, session string, seq uint64, typ string, lat, lon float64, at, ts int64, gw string) {
		checkAppendJSON(t, Action{Hunt: hunt, Player: player, Session: session, Seq: seq, Type: typ,
			Lat: lat, Lon: lon, At: at, TS: ts, Gateway: gw})
	})
}

var actionSeeds = []string{
	// As gateways write them.
	`{"hunt":"harbour","player":"p-1f3a9c0b2d4e5f60","seq":2,"type":"move","lat":38.70585,"lon":-9.1448,"at":1764780000000,"ts":1764780000123,"gw":"gw-1"}`,
	`{"hunt":"h","player":"p1","seq":1,"type":"join","ts":1}`,
	`{"hunt":"h","player":"p1","session":"s1","seq":3,"type":"leave","ts":1,"gw":"g"}`,
	`{"hunt":"h","player":"operator","seq":0,"type":"end","ts":0}`,
	`{}`, ` {"type" : "move" }` + "\n", `{"type":"fly","lat":-0,"lon":1e-7,"at":-0}`,
	`{"seq":18446744073709551615,"at":-9223372036854775808,"ts":9223372036854775807}`,
	`{"lat":4.9e-324,"lon":1e-400}`, `{"lat":1E+2,"lon":-1.5e-3}`,
	// encoding/json's own cases: errors, partial results, keys, escapes.
	`{"seq":18446744073709551616}`, `{"seq":-1}`, `{"seq":1.5}`, `{"seq":1e2}`, `{"ts":9223372036854775808}`, `{"at":1.0}`,
	`{"lat":1e400}`, `{"hunt":"h","seq":"1","player":"p"}`, `{"hunt":1}`, `{"hunt":null}`, `{"seq":true}`, `{"hunt":["h"]}`,
	`{"hunt":"a","hunt":"b"}`, `{"Hunt":"a"}`, `{"HUNT":"a","hunt":"b"}`, `{"GW":"g"}`, `{"gateway":"g"}`, `{"x":{"y":[1,{}]}}`,
	`{"hunt":"h\u0041"}`, `{"hunt":"\ud800"}`, `{"hunt":"é"}`, "{\"hunt\":\"\xff\"}", "{\"hunt\":\"a\nb\"}", `{"hunt":"<&>~"}`,
	`{"lat":01}`, `{"lat":.5}`, `{"lat":1.}`, `{"lat":-}`, `{"lat":NaN}`, `{"lat":"NaN"}`, `{"lat":+1}`,
	`[]`, `null`, `"x"`, ``, `{`, `{"hunt":"h",}`, `{"hunt":"h"}}`, `{"hunt":"h"} {}`, "{\"hunt\":\"h\"}\x00", "\ufeff{}",
}

func FuzzDecodeAction(f *testing.F) {
	for _, s := range actionSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodeAction(t, b)
	})
}

func checkDecodeAction(t *testing.T, b []byte) {
	t.Helper()
	a, err := DecodeAction(b)
	var want Action
	werr := json.Unmarshal(b, &want)
	if !sameAction(a, want) || (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		t.Fatalf("DecodeAction(%q)\n got %+v, %v\nwant %+v, %v", b, a, err, want, werr)
	}
}

func sameAction(a, b Action) bool {
	return a.Hunt == b.Hunt && a.Player == b.Player && a.Session == b.Session && a.Seq == b.Seq && a.Type == b.Type &&
		math.Float64bits(a.Lat) == math.Float64bits(b.Lat) && math.Float64bits(a.Lon) == math.Float64bits(b.Lon) &&
		a.At == b.At && a.TS == b.TS && a.Gateway == b.Gateway
}

// The seeds run as a test too, and what gateways write takes the fast path,
// in one allocation: otherwise the fuzz test proves nothing.
func TestDecodeActionFastPath(t *testing.T) {
	for _, s := range actionSeeds {
		checkDecodeAction(t, []byte(s))
	}
	for _, s := range actionSeeds[:4] {
		if _, ok := decodeActionFast([]byte(s)); !ok {
			t.Errorf("decodeActionFast(%s) fell back", s)
		}
	}
	in := mustAppend(t, benchAction)
	if n := testing.AllocsPerRun(100, func() { _, _ = DecodeAction(in) }); n > 1 {
		t.Errorf("DecodeAction: %v allocations", n)
	}
}

var benchSink []byte

// The json variants are what the gateway and the engine used before.
func BenchmarkActionCodec(b *testing.B) {
	b.Run("encode/fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := benchAction.AppendJSON(make([]byte, 0, 192))
			if err != nil {
				b.Fatal(err)
			}
			benchSink = v // a record's buffer outlives the call, as in the gateway
		}
	})
	b.Run("encode/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(benchAction); err != nil {
				b.Fatal(err)
			}
		}
	})
	in, _ := json.Marshal(benchAction)
	b.Run("decode/fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeAction(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var a Action
			if err := json.Unmarshal(in, &a); err != nil {
				b.Fatal(err)
			}
		}
	})
}
