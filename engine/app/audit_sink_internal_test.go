package app

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/store"
)

// fakeSink records what it was given; fail makes Export consume its rows
// and then fail, as a sink whose disk fills half-way would.
type fakeSink struct {
	held  map[string]int64
	got   map[string][]store.Row
	calls []string
	fail  bool
}

func (s *fakeSink) Exported(hunt string) (int64, error) { return s.held[hunt], nil }

func (s *fakeSink) Export(_ context.Context, hunt string, from, to int64, rows func(func(store.Row) bool) error) error {
	s.calls = append(s.calls, hunt)
	var got []store.Row
	if err := rows(func(r store.Row) bool {
		if r.TS < from || r.TS >= to {
			panic("row outside the range")
		}
		got = append(got, r)
		return true
	}); err != nil {
		return err
	}
	if s.fail {
		return errors.New("sink failed")
	}
	s.got[hunt] = append(s.got[hunt], got...)
	return nil
}

func TestExporterWatermarks(t *testing.T) {
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := store.NewFakeClock(t0)
	au, err := store.OpenAudit(store.AuditOptions{Path: filepath.Join(t.TempDir(), "audit"), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer au.Close()
	var rows []store.Row
	for i := range 10 {
		for _, h := range []string{"h1", "h2"} {
			rows = append(rows, store.Row{Hunt: h, Player: "p", TS: t0.Add(time.Duration(i) * 24 * time.Hour).UnixMilli(), Offset: int64(i), Kind: "action"})
		}
	}
	if err := au.Append(rows); err != nil {
		t.Fatal(err)
	}
	sink := &fakeSink{held: map[string]int64{}, got: map[string][]store.Row{}}
	e := &auditExporter{name: "fake", sink: sink, audit: au, clock: clock, olderThan: 5 * 24 * time.Hour, log: slog.Default()}
	ctx := context.Background()

	// Day 7: rows of days 0 and 1 are older than 5 days.
	clock.Set(t0.Add(7 * 24 * time.Hour))
	sink.fail = true
	if _, err := e.exportOnce(ctx); err == nil {
		t.Fatal("a failing sink reported success")
	}
	// Nothing was recorded: the next pass asks for the same rows again.
	sink.fail = false
	rep, err := e.exportOnce(ctx)
	if err != nil || rep.Rows["h1"] != 2 || rep.Rows["h2"] != 2 {
		t.Fatalf("retry after a failure: %+v, %v", rep, err)
	}
	// The sink already holds h2 up to day 4 (say a crash came between its
	// rename and the engine's watermark): day 4 on only.
	sink.held["h2"] = t0.Add(4 * 24 * time.Hour).UnixMilli()
	clock.Set(t0.Add(10 * 24 * time.Hour))
	rep, err = e.exportOnce(ctx)
	if err != nil || rep.Rows["h1"] != 3 || rep.Rows["h2"] != 1 {
		t.Fatalf("third pass: %+v, %v: want h1 days 2-4, h2 day 4", rep, err)
	}
	for h, want := range map[string][]int64{"h1": {0, 1, 2, 3, 4}, "h2": {0, 1, 4}} {
		var got []int64
		for _, r := range sink.got[h] {
			got = append(got, r.Offset)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: exported offsets %v, want %v", h, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: exported offsets %v, want %v", h, got, want)
			}
		}
	}
	if n := e.rows.Load(); n != 4+4 {
		t.Fatalf("rows counter %d", n)
	}
}
