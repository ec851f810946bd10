package jsonw

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

func TestStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "move", "h-001_x", `a"b`, `a\b`, "<&>", "tab\t", "\x00", "é", "\xff", "\u2028", "~\x7f"} {
		want, _ := json.Marshal(s)
		if got := String(nil, s); string(got) != string(want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestFloatMatchesEncodingJSON(t *testing.T) {
	fs := []float64{0, math.Copysign(0, -1), 1, -1, 45.2671, 13.6213, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 1.5e300, -2.5e-10, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		fs = append(fs, math.Float64frombits(rng.Uint64()), (rng.Float64()-0.5)*360)
	}
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		want, _ := json.Marshal(f)
		if got := Float(nil, f); string(got) != string(want) {
			t.Fatalf("Float(%v) = %s, want %s", f, got, want)
		}
	}
	if got := string(Float(nil, math.NaN())); got != "null" {
		t.Errorf("Float(NaN) = %s, want null", got)
	}
}
