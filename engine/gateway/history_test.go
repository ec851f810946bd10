package gateway

import (
	"fmt"
	"testing"
)

func offsets(es []*entry) string {
	s := ""
	for _, e := range es {
		s += fmt.Sprintf("%d ", e.off)
	}
	return s
}

func TestHistorySince(t *testing.T) {
	h := newHistory(60_000, 1<<20)
	h.setStart(0, 10)
	// Partition 0 from offset 10: hunt a broadcasts, events to alice and
	// bob, and another hunt in between.
	add := func(off int64, hunt, to string) { h.add(0, off, hunt, to, []byte("{}"), 0, 1000) }
	add(10, "a", "")
	add(11, "a", "alice")
	add(12, "b", "")
	add(13, "a", "bob")
	add(14, "a", "alice")
	add(15, "a", "")
	for _, c := range []struct {
		last int64
		want string
		st   resumeStatus
	}{
		{9, "10 11 14 15 ", resumeOK}, // processed the event before this gateway started
		{11, "14 15 ", resumeOK},
		{15, "", resumeOK},
		{16, "", resumeAhead},
		{8, "", resumeGap}, // before what this gateway ever read
	} {
		es, st := h.since(0, "a", "alice", c.last, 100)
		if st != c.st || offsets(es) != c.want {
			t.Errorf("since(%d) = %q %v, want %q %v", c.last, offsets(es), st, c.want, c.st)
		}
	}
	if _, st := h.since(0, "a", "alice", 9, 3); st != resumeGap {
		t.Errorf("4 missed events with room for 3: want a gap, got %v", st)
	}
	if _, st := h.since(3, "a", "alice", 9, 3); st != resumeGap {
		t.Errorf("unknown partition: want a gap, got %v", st)
	}
}

func TestHistoryTrim(t *testing.T) {
	h := newHistory(1000, 1<<20)
	h.setStart(0, 0)
	h.setStart(1, 0)
	h.add(0, 0, "a", "", []byte("{}"), 0, 100)
	h.add(0, 1, "a", "alice", []byte("{}"), 0, 500)
	h.add(1, 0, "b", "", []byte("{}"), 0, 900)
	h.add(0, 2, "a", "", []byte("{}"), 0, 1200)
	h.trim(1600) // drops what was read before 600
	if es, st := h.since(0, "a", "alice", 1, 10); st != resumeOK || offsets(es) != "2 " {
		t.Fatalf("after trim, since(1) = %q %v", offsets(es), st)
	}
	if _, st := h.since(0, "a", "alice", 0, 10); st != resumeGap {
		t.Fatalf("offset 1 was evicted: since(0) must be a gap, got %v", st)
	}
	// The size bound evicts the oldest entry of any partition first.
	h.max = 2 * (2 + entryOverhead)
	h.add(1, 1, "b", "", []byte("{}"), 0, 1300)
	h.trim(1300)
	if h.bytes > h.max {
		t.Fatalf("history holds %d bytes, max %d", h.bytes, h.max)
	}
	if _, st := h.since(1, "b", "x", -1, 10); st != resumeGap {
		t.Fatal("partition 1's oldest entry (read at 900) should have gone first")
	}
	if es, st := h.since(0, "a", "alice", 1, 10); st != resumeOK || len(es) != 1 {
		t.Fatalf("partition 0's newer entry should stay: %q %v", offsets(es), st)
	}
	// Emptied chains leave no map entries behind.
	h.trim(1_000_000)
	if len(h.chains) != 0 || h.bytes != 0 {
		t.Fatalf("after expiring everything: %d chains, %d bytes", len(h.chains), h.bytes)
	}
}

func TestHistoryDisabled(t *testing.T) {
	h := newHistory(1000, -1)
	h.setStart(0, 5)
	h.add(0, 5, "a", "", []byte("{}"), 0, 1)
	h.add(0, 6, "a", "", []byte("{}"), 0, 1)
	if _, st := h.since(0, "a", "p", 5, 10); st != resumeGap {
		t.Fatal("without history a missed event is a gap")
	}
	if _, st := h.since(0, "a", "p", 6, 10); st != resumeOK {
		t.Fatal("without history, nothing missed is still fine")
	}
	if h.bytes != 0 || len(h.chains) != 0 {
		t.Fatal("a disabled history keeps entries")
	}
}
