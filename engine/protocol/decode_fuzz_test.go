package protocol

import (
	"errors"
	"math"
	"testing"
)

// decodeSlow is Decode before the fast path: the reference.
func decodeSlow(b []byte) (ClientMessage, error) {
	m, err := decodeJSON(b)
	if err != nil {
		return m, err
	}
	return m, validate(&m)
}

var decodeSeeds = []string{
	// What clients send (docs/protocol.md).
	`{"type":"join","hunt":"harbour","seq":1}`,
	`{"type":"move","seq":2,"lat":38.70585,"lon":-9.14480,"at":1764780000000}`,
	`{"type":"leave","seq":3}`,
	`{"type":"ping"}`,
	`{"type":"ping","seq":9}`,
	`{"type":"resume","hunt":"harbour","pos":1234}`,
	` { "type" : "move" ,	"seq":2,"lat":0,"lon":0 }` + "\r\n",
	`{}`, `{"type":""}`, `{"type":"fly","seq":1}`, `{"type":"move~\u007f","seq":1}`,
	// Numbers.
	`{"type":"move","seq":1,"lat":1e-7,"lon":-0}`,
	`{"type":"move","seq":1,"lat":-0.0,"lon":-0e0,"at":-0}`,
	`{"type":"move","seq":18446744073709551615}`,
	`{"type":"move","seq":18446744073709551616}`,
	`{"type":"move","seq":1.5}`, `{"type":"move","seq":1e2}`, `{"type":"move","seq":-1}`, `{"type":"move","seq":-0}`,
	`{"type":"move","seq":1,"lat":1e400}`, `{"type":"move","seq":1,"lat":1e-400}`, `{"type":"move","seq":1,"lat":4.9e-324}`,
	`{"type":"move","seq":1,"lat":90.000000000000001,"lon":-180.0000000000001}`,
	`{"type":"move","seq":1,"at":9223372036854775807}`, `{"type":"move","seq":1,"at":9223372036854775808}`,
	`{"type":"move","seq":1,"at":-9223372036854775808}`, `{"type":"resume","hunt":"h","pos":-1}`,
	`{"type":"move","seq":1,"lat":01}`, `{"type":"move","seq":1,"lat":1.}`, `{"type":"move","seq":1,"lat":.5}`,
	`{"type":"move","seq":1,"lat":+1}`, `{"type":"move","seq":1,"lat":1e}`, `{"type":"move","seq":1,"lat":1E+2}`,
	`{"type":"move","seq":1,"lat":NaN}`, `{"type":"move","seq":1,"lat":"NaN"}`, `{"type":"move","seq":1,"lat":Infinity}`,
	`{"type":"move","seq":1,"lat":0x10}`, `{"type":"move","seq":1,"lat":1_0}`,
	// Keys encoding/json matches its own way.
	`{"type":"move","type":"join","hunt":"h","seq":1}`, `{"seq":1,"seq":2,"type":"ping"}`,
	`{"Type":"ping"}`, `{"TYPE":"ping","type":"move"}`, `{"type":"ping","Seq":3}`, `{"ſeq":1,"type":"ping"}`,
	`{"type":"ping","extra":1}`, `{"type":"ping","extra":{"a":[1]}}`, `{"typ\u0065":"ping"}`,
	// Strings.
	`{"type":"join","hunt":"h\u0041","seq":1}`, `{"type":"join","hunt":"h\"","seq":1}`, `{"type":"join","hunt":"é","seq":1}`,
	"{\"type\":\"join\",\"hunt\":\"\xff\",\"seq\":1}", "{\"type\":\"join\",\"hunt\":\"a\tb\",\"seq\":1}",
	`{"type":"join","hunt":"\ud800","seq":1}`, `{"type":"join","hunt":"<&>","seq":1}`,
	// Other values and shapes.
	`{"type":null}`, `{"type":"ping","seq":null}`, `{"type":true}`, `{"type":"ping","seq":false}`, `{"type":["ping"]}`,
	`[1,2]`, `"ping"`, `1`, `null`, ``, ` `, `{`, `{"type":`, `{"type":"ping"`, `{"type":"ping",}`, `{,}`,
	`{"type":"ping"}x`, `{"type":"ping"}{}`, `{"type":"ping"} `, "\ufeff{\"type\":\"ping\"}", "{\"type\":\"ping\"}\x00",
	"{\"type\"\v:\"ping\"}", `{"type" "ping"}`, `{type:"ping"}`, `{'type':'ping'}`,
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		wm, werr := decodeSlow(b)
		if !sameMessage(m, wm) || !sameError(err, werr) {
			t.Fatalf("Decode(%q)\n got %+v, %v\nwant %+v, %v", b, m, err, wm, werr)
		}
	})
}

// The seeds run as a test too, and the fast path must take the messages
// clients send: otherwise the fuzz test proves nothing.
func TestDecodeFastPath(t *testing.T) {
	for _, s := range decodeSeeds {
		m, err := Decode([]byte(s))
		wm, werr := decodeSlow([]byte(s))
		if !sameMessage(m, wm) || !sameError(err, werr) {
			t.Errorf("Decode(%q)\n got %+v, %v\nwant %+v, %v", s, m, err, wm, werr)
		}
	}
	for _, s := range decodeSeeds[:7] {
		if _, ok := decodeFast([]byte(s)); !ok {
			t.Errorf("decodeFast(%s) fell back", s)
		}
	}
	for _, bm := range benchMsgs {
		in := []byte(bm.in)
		if n := testing.AllocsPerRun(100, func() { _, _ = Decode(in) }); n > 1 {
			t.Errorf("Decode(%s): %v allocations", in, n)
		}
	}
}

func sameMessage(a, b ClientMessage) bool {
	return a.Type == b.Type && a.Hunt == b.Hunt && a.Seq == b.Seq && a.At == b.At && a.Pos == b.Pos &&
		math.Float64bits(a.Lat) == math.Float64bits(b.Lat) && math.Float64bits(a.Lon) == math.Float64bits(b.Lon)
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var va, vb *ValidationError
	return errors.As(a, &va) && errors.As(b, &vb) && *va == *vb && a.Error() == b.Error()
}
