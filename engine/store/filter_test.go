package store

import (
	"bytes"
	"math"
	"testing"
	"time"
)

type panicClock struct{}

func (panicClock) Now() time.Time { panic("clock broke") }

func TestTTLFilter(t *testing.T) {
	clock := NewFakeClock(t0)
	f := newTTLFilter(clock)
	now := ms(t0)
	for _, tc := range []struct {
		name   string
		val    []byte
		remove bool
	}{
		{"too short to judge", []byte{1, 2, 3}, false},
		{"never expires", appendValue(nil, 0, []byte("x")), false},
		{"future", appendValue(nil, now+1, nil), false},
		{"expires now", appendValue(nil, now, nil), true},
		{"past", appendValue(nil, now-1, []byte("x")), true},
	} {
		remove, newVal := f.Filter(0, []byte("k"), tc.val)
		if remove != tc.remove || newVal != nil {
			t.Errorf("%s: Filter = %v, %q; want %v, nil", tc.name, remove, newVal, tc.remove)
		}
	}
	if got := f.dropped.Load(); got != 2 {
		t.Errorf("dropped = %d, want 2", got)
	}
	if got := f.minLive.Load(); got != now+1 {
		t.Errorf("minLive = %d, want %d", got, now+1)
	}

	// A panicking clock must not unwind into RocksDB: the row is kept.
	pf := newTTLFilter(panicClock{})
	if remove, _ := pf.Filter(0, nil, appendValue(nil, 1, nil)); remove {
		t.Error("row removed when the clock panicked")
	}
}

func TestRowCodec(t *testing.T) {
	in := Row{Hunt: "h", Player: "pé", TS: 1 << 40, Partition: math.MaxInt32, Offset: math.MaxInt64, Index: 65535, Kind: "join", Data: []byte(`{"a":1}`)}
	out, err := decodeRow(appendRow(nil, &in), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if out.Hunt != in.Hunt || out.Player != in.Player || out.TS != in.TS || out.Partition != in.Partition ||
		out.Offset != in.Offset || out.Index != in.Index || out.Kind != in.Kind || !bytes.Equal(out.Data, in.Data) {
		t.Fatalf("round trip: %+v != %+v", out, in)
	}
	for _, bad := range [][]byte{nil, {rowCodecV1}, append([]byte{2}, make([]byte, 30)...), append(appendRow(nil, &in)[:23], 0xff)} {
		if _, err := decodeRow(bad, "", ""); err == nil {
			t.Errorf("decodeRow(%x) accepted", bad)
		}
	}
}

func FuzzDecodeRow(f *testing.F) {
	f.Add(appendRow(nil, &Row{Hunt: "h", Player: "p", Kind: "k", Data: []byte("{}")}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeRow(b, "h", "p") // must not panic
	})
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct{ in, want []byte }{
		{nil, nil},
		{[]byte{0xff, 0xff}, nil},
		{[]byte("a"), []byte("b")},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte("h1\x00"), []byte("h1\x01")},
	} {
		if got := prefixEnd(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("prefixEnd(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFakeClock(t *testing.T) {
	c := NewFakeClock(t0)
	c.Advance(time.Second)
	if !c.Now().Equal(t0.Add(time.Second)) {
		t.Fatal("Advance")
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Fatal("Set")
	}
	if d := time.Since(SystemClock{}.Now()); d < 0 || d > time.Minute {
		t.Fatalf("SystemClock off by %v", d)
	}
}
