package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const day = 24 * time.Hour

func queryAll(t *testing.T, a *Audit, q Query) []Row {
	t.Helper()
	var rows []Row
	if err := a.Query(q, func(r Row) bool { rows = append(rows, r); return true }); err != nil {
		t.Fatalf("Query(%+v): %v", q, err)
	}
	return rows
}

func TestAuditRetention(t *testing.T) {
	clock := NewFakeClock(t0)
	a := openTestAudit(t, clock)
	var rows []Row
	for i, age := range []time.Duration{89 * day, 91 * day, 89 * day, 91 * day} {
		rows = append(rows, Row{
			Hunt: "h1", Player: fmt.Sprintf("p%d", i%2), TS: ms(t0.Add(-age)),
			Offset: int64(i), Kind: "move_rejected", Data: []byte(`{}`),
		})
	}
	rows = append(rows, Row{Hunt: "h1", TS: ms(t0.Add(-91 * day)), Offset: 9, Kind: "discovery"}) // no player: one key
	if err := a.Append(rows); err != nil {
		t.Fatal(err)
	}
	// Before compaction the old rows are on disk but never returned.
	if n := len(rawKeys(t, a.kv)); n != 9 {
		t.Fatalf("raw keys before compaction = %d, want 9", n)
	}
	checkAges := func(when string) {
		t.Helper()
		got := queryAll(t, a, Query{Hunt: "h1"})
		if len(got) != 2 || got[0].Offset != 0 || got[1].Offset != 2 {
			t.Fatalf("%s: hunt query = %+v, want the two 89-day-old rows", when, got)
		}
		if got := queryAll(t, a, Query{Hunt: "h1", Player: "p1"}); len(got) != 0 {
			t.Fatalf("%s: p1 (only 91-day-old rows) = %+v", when, got)
		}
	}
	checkAges("before compaction")

	if err := a.CompactExpired(); err != nil {
		t.Fatal(err)
	}
	keys := rawKeys(t, a.kv)
	if len(keys) != 4 { // two rows, two keys each
		t.Fatalf("raw keys after compaction = %q, want 4", keys)
	}
	for _, k := range keys {
		if strings.Contains(k, "p1\x00") {
			t.Fatalf("91-day-old row still on disk: %q", k)
		}
	}
	if st := mustStats(t, a); st.ExpiredDropped != 5 || st.EstimatedKeys != 4 {
		t.Fatalf("stats = %+v, want 5 dropped and 4 keys", st)
	}
	checkAges("after compaction")

	// Two more days: the 89-day-old rows go too, via the compactor.
	clock.Advance(2 * day)
	if err := a.StartCompactor(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, "all rows dropped", func() bool { return len(rawKeys(t, a.kv)) == 0 })
}

func TestAuditTTLOption(t *testing.T) {
	clock := NewFakeClock(t0)
	a, err := OpenAudit(AuditOptions{Path: t.TempDir() + "/audit", TTL: time.Hour, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Append([]Row{{Hunt: "h", Player: "p", TS: ms(t0)}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour - time.Millisecond)
	if n := len(queryAll(t, a, Query{Hunt: "h"})); n != 1 {
		t.Fatalf("before TTL: %d rows", n)
	}
	clock.Advance(time.Millisecond)
	if n := len(queryAll(t, a, Query{Hunt: "h"})); n != 0 {
		t.Fatalf("at TTL: %d rows", n)
	}
	if _, err := OpenAudit(AuditOptions{Path: t.TempDir(), TTL: -time.Hour}); err == nil {
		t.Fatal("negative TTL accepted")
	}
}

func testRows() []Row {
	base := ms(t0.Add(-time.Hour))
	mk := func(hunt, player string, dt int64, off int64, idx uint16, kind string) Row {
		return Row{Hunt: hunt, Player: player, TS: base + dt, Partition: 3, Offset: off, Index: idx,
			Kind: kind, Data: fmt.Appendf(nil, `{"off":%d,"idx":%d}`, off, idx)}
	}
	// Out of time order on purpose, with look-alike ids: h1/h10, p/p1.
	return []Row{
		mk("h1", "p1", 300, 7, 0, "move_rejected"),
		mk("h1", "p2", 100, 5, 0, "join"),
		mk("h1", "p1", 100, 5, 1, "join"),
		mk("h1", "", 200, 6, 0, "discovery"),
		mk("h1", "p", 250, 8, 0, "join"),
		mk("h10", "p1", 150, 9, 0, "join"),
		mk("h1", "p1", 500, 10, 0, "discovery"),
		mk("h1", "p1", 100, 4, 0, "join"),
	}
}

func offsets(rows []Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%d.%d", r.Offset, r.Index))
	}
	return out
}

func TestAuditQuery(t *testing.T) {
	a := openTestAudit(t, NewFakeClock(t0))
	in := testRows()
	if err := a.Append(in); err != nil {
		t.Fatal(err)
	}
	base := in[0].TS - 300
	for _, tc := range []struct {
		name string
		q    Query
		want []string
	}{
		{"hunt", Query{Hunt: "h1"}, []string{"4.0", "5.0", "5.1", "6.0", "8.0", "7.0", "10.0"}},
		{"other hunt", Query{Hunt: "h10"}, []string{"9.0"}},
		{"player", Query{Hunt: "h1", Player: "p1"}, []string{"4.0", "5.1", "7.0", "10.0"}},
		{"player that prefixes another", Query{Hunt: "h1", Player: "p"}, []string{"8.0"}},
		{"player in other hunt", Query{Hunt: "h10", Player: "p1"}, []string{"9.0"}},
		{"unknown player", Query{Hunt: "h1", Player: "nobody"}, nil},
		{"unknown hunt", Query{Hunt: "h"}, nil},
		{"since", Query{Hunt: "h1", Since: base + 200}, []string{"6.0", "8.0", "7.0", "10.0"}},
		{"until is exclusive", Query{Hunt: "h1", Until: base + 250}, []string{"4.0", "5.0", "5.1", "6.0"}},
		{"since until", Query{Hunt: "h1", Player: "p1", Since: base + 100, Until: base + 301}, []string{"4.0", "5.1", "7.0"}},
		{"empty window", Query{Hunt: "h1", Since: base + 300, Until: base + 300}, nil},
		{"limit", Query{Hunt: "h1", Limit: 2}, []string{"4.0", "5.0"}},
		{"limit with player", Query{Hunt: "h1", Player: "p1", Since: base + 101, Limit: 1}, []string{"7.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := offsets(queryAll(t, a, tc.q)); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}

	// Rows come back whole.
	got := queryAll(t, a, Query{Hunt: "h1", Player: "p1", Limit: 1})
	want := in[7]
	if len(got) != 1 || got[0].Hunt != want.Hunt || got[0].Player != want.Player || got[0].TS != want.TS ||
		got[0].Partition != want.Partition || got[0].Offset != want.Offset || got[0].Index != want.Index ||
		got[0].Kind != want.Kind || string(got[0].Data) != string(want.Data) {
		t.Fatalf("row = %+v, want %+v", got, want)
	}

	// fn returning false stops the query.
	n := 0
	if err := a.Query(Query{Hunt: "h1"}, func(Row) bool { n++; return false }); err != nil || n != 1 {
		t.Fatalf("early stop: n=%d err=%v", n, err)
	}
}

// Rows collected from Query own their memory (the iterator reuse pitfall),
// and Append keeps its own copy of the caller's rows.
func TestAuditCopies(t *testing.T) {
	a := openTestAudit(t, NewFakeClock(t0))
	in := testRows()
	if err := a.Append(in); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		copy(in[i].Data, "XXXXXXXX")
	}
	got := queryAll(t, a, Query{Hunt: "h1"})
	seen := map[string]bool{}
	for _, r := range got {
		key := fmt.Sprintf("%s/%d/%d.%d", r.Player, r.TS, r.Offset, r.Index)
		if seen[key] {
			t.Fatalf("duplicate row %s in %+v", key, got)
		}
		seen[key] = true
		if want := fmt.Sprintf(`{"off":%d,"idx":%d}`, r.Offset, r.Index); string(r.Data) != want {
			t.Fatalf("row %s data = %s, want %s", key, r.Data, want)
		}
	}
	if len(seen) != 7 {
		t.Fatalf("%d distinct rows, want 7", len(seen))
	}
	// Changing a returned row changes nothing stored.
	copy(got[0].Data, "YYYY")
	if again := queryAll(t, a, Query{Hunt: "h1", Limit: 1}); string(again[0].Data) != `{"off":4,"idx":0}` {
		t.Fatalf("stored row changed: %s", again[0].Data)
	}
}

// A replay after a crash appends the same rows again: same keys, no copies.
func TestAuditAppendIdempotent(t *testing.T) {
	a := openTestAudit(t, NewFakeClock(t0))
	for range 2 {
		if err := a.Append(testRows()); err != nil {
			t.Fatal(err)
		}
	}
	if got := queryAll(t, a, Query{Hunt: "h1"}); len(got) != 7 {
		t.Fatalf("hunt query after double append: %d rows, want 7", len(got))
	}
	if got := queryAll(t, a, Query{Hunt: "h1", Player: "p1"}); len(got) != 4 {
		t.Fatalf("player query after double append: %d rows, want 4", len(got))
	}
	if err := a.CompactExpired(); err != nil {
		t.Fatal(err)
	}
	if n := len(rawKeys(t, a.kv)); n != 15 { // 8 hunt keys + 7 player keys
		t.Fatalf("raw keys = %d, want 15", n)
	}
}

func TestAuditRejectsBadInput(t *testing.T) {
	a := openTestAudit(t, NewFakeClock(t0))
	for name, r := range map[string]Row{
		"empty hunt":      {Player: "p", TS: 1},
		"NUL in hunt":     {Hunt: "h\x00x", TS: 1},
		"NUL in player":   {Hunt: "h", Player: "p\x00", TS: 1},
		"negative ts":     {Hunt: "h", TS: -1},
		"negative offset": {Hunt: "h", TS: 1, Offset: -1},
		"negative part":   {Hunt: "h", TS: 1, Partition: -1},
	} {
		good := Row{Hunt: "ok", Player: "p", TS: ms(t0)}
		if err := a.Append([]Row{good, r}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if n := len(rawKeys(t, a.kv)); n != 0 {
		t.Fatalf("rejected batches wrote %d keys", n)
	}
	for name, q := range map[string]Query{
		"empty hunt":     {},
		"NUL in hunt":    {Hunt: "h\x00"},
		"NUL in player":  {Hunt: "h", Player: "\x00"},
		"negative limit": {Hunt: "h", Limit: -1},
	} {
		if err := a.Query(q, func(Row) bool { return true }); err == nil {
			t.Errorf("query %s: accepted", name)
		}
	}
}

func TestAuditClosed(t *testing.T) {
	a := openTestAudit(t, nil)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	checkClosed(t, "Append", a.Append([]Row{{Hunt: "h", TS: 1}}))
	checkClosed(t, "Query", a.Query(Query{Hunt: "h"}, func(Row) bool { return true }))
	checkClosed(t, "CompactExpired", a.CompactExpired())
	_, err := a.Stats()
	checkClosed(t, "Stats", err)
}

func TestAuditConcurrent(t *testing.T) {
	clock := NewFakeClock(t0)
	a := openTestAudit(t, clock)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 3 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				r := Row{Hunt: "h", Player: fmt.Sprint("p", w), TS: ms(clock.Now()), Partition: int32(w), Offset: int64(i), Data: []byte("{}")}
				if err := a.Append([]Row{r}); err != nil {
					if !errors.Is(err, ErrClosed) {
						errs <- err
					}
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for {
				last := int64(-1)
				err := a.Query(Query{Hunt: "h", Player: fmt.Sprint("p", w)}, func(r Row) bool {
					if r.Offset <= last {
						errs <- fmt.Errorf("out of order: %d after %d", r.Offset, last)
					}
					last = r.Offset
					return true
				})
				if err != nil {
					if !errors.Is(err, ErrClosed) {
						errs <- err
					}
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for a.CompactExpired() == nil {
			clock.Advance(time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
