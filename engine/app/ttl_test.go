package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/app"
	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/store"
)

// TestEngineTTLs plays through the WebSocket gateway on a fake clock (given
// to the whole process with app.WithClock: the gateway stamps actions with
// it, and an action's time decides its session's expiry) and checks the two
// lifetimes through the running engine:
//
//   - a session idle 30 min + 1 s is unreadable at once (the engine treats
//     the player as new) and physically gone after the engine's own
//     compactor runs; one active 1 min ago stays;
//   - audit rows 89 days old stay, 91 days old go (also physically).
func TestEngineTTLs(t *testing.T) {
	// Far from the real now: were any part of the engine on the wall clock,
	// its rows would be years off and the checks below would fail.
	f0 := time.Date(2031, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := store.NewFakeClock(f0)
	data := t.TempDir()
	cfg := loadConfig(t, data, t.TempDir(),
		// The compactors check every 20 ms whether a row has expired.
		"engine.sessions.compact_every=20ms", "engine.audit.compact_every=20ms")
	a := mustStart(t, cfg, app.WithClock(clock))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	idle := dial(ctx, t, a, "idle")
	idle.join(ctx)
	if r := idle.move(ctx); r.OK == nil || !*r.OK {
		t.Fatalf("idle: move: %+v", r)
	}
	idleKey := core.SessionKey("harbour", "idle")
	sess := a.Sessions()
	exp := sessionExpiry(t, sess, idleKey)
	if want := f0.Add(30 * time.Minute).UnixMilli(); exp != want {
		t.Fatalf("idle session expires at %v, want %v (30 min after its last action, on the fake clock)",
			time.UnixMilli(exp).UTC(), time.UnixMilli(want).UTC())
	}

	clock.Advance(29 * time.Minute)
	active := dial(ctx, t, a, "active")
	active.join(ctx)
	active.move(ctx)

	// 30 min + 1 s after idle's last action.
	clock.Set(f0.Add(30*time.Minute + time.Second))
	if _, ok, err := sess.Get(idleKey); err != nil || ok {
		t.Fatalf("idle session readable 30 min + 1 s after its last action: ok=%v err=%v", ok, err)
	}
	if _, ok, err := sess.Get(core.SessionKey("harbour", "active")); err != nil || !ok {
		t.Fatalf("active session (1 min idle) unreadable: ok=%v err=%v", ok, err)
	}
	// The engine's compactor drops the expired row from disk.
	// (The compactor counts its compaction when CompactRange returns, just
	// after the filter dropped the row: wait for both.)
	waitFor(t, "the sessions compactor to drop idle's session", func() bool {
		st, err := sess.Stats()
		return err == nil && st.CompactionsTriggered >= 1 && !physically(t, cfg.Engine.Sessions.Path, idleKey)
	})
	if !physically(t, cfg.Engine.Sessions.Path, core.SessionKey("harbour", "active")) {
		t.Fatal("active's session was dropped from disk")
	}
	if st, err := sess.Stats(); err != nil || st.ExpiredDropped < 1 || st.CompactionsTriggered < 1 {
		t.Fatalf("sessions stats %+v, %v: want an expired row dropped by a triggered compaction", st, err)
	}
	// The engine reads through the same check: idle is a stranger now, and
	// the session it writes for the rejected move starts from nothing.
	if r := idle.move(ctx); r.OK == nil || *r.OK || r.Reason != "not_joined" {
		t.Fatalf("idle's move after expiry: %+v, want rejected as not_joined", r)
	}
	v, ok, err := sess.Get(idleKey)
	if err != nil || !ok {
		t.Fatalf("idle's session after the rejected move: ok=%v err=%v", ok, err)
	}
	if rec, err := core.DecodeSession(v); err != nil || rec.Seq != idle.seq || strings.Contains(string(rec.State), `"score"`) {
		t.Fatalf("idle's session after the rejected move: %+v (state %s), %v: want a new envelope without the old state", rec, rec.State, err)
	}
	if r := active.move(ctx); r.OK == nil || !*r.OK {
		t.Fatalf("active's move: %+v", r)
	}

	// Two days later a third player plays: her rows will be 89 days old
	// when the first ones are 91.
	clock.Set(f0.Add(2 * 24 * time.Hour))
	late := dial(ctx, t, a, "late")
	late.join(ctx)
	late.move(ctx)
	rowsOf := func(rows []store.Row) map[string]int {
		n := map[string]int{}
		for _, r := range rows {
			n[r.Player]++
		}
		return n
	}
	query := func() []store.Row {
		var rows []store.Row
		if err := a.Audit().Query(store.Query{Hunt: "harbour"}, func(r store.Row) bool { rows = append(rows, r); return true }); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	before := rowsOf(query())
	if before["idle"] == 0 || before["active"] == 0 || before["late"] == 0 {
		t.Fatalf("audit rows per player before: %v", before)
	}

	clock.Set(f0.Add(89 * 24 * time.Hour))
	if got := rowsOf(query()); got["idle"] != before["idle"] || got["late"] != before["late"] {
		t.Fatalf("89 days after the first actions: audit rows per player %v, want all of %v", got, before)
	}

	clock.Set(f0.Add(91 * 24 * time.Hour))
	got := rowsOf(query())
	if got["idle"] != 0 || got["active"] != 0 || got["late"] != before["late"] {
		t.Fatalf("at 91 days: audit rows per player %v: want none of idle and active (91 days old), all %d of late (89 days old)",
			got, before["late"])
	}
	waitFor(t, "the audit compactor to drop the 91-day-old rows", func() bool {
		n := rowsOf(auditOnDisk(t, cfg.Engine.Audit.Path, "harbour"))
		return n["idle"] == 0 && n["active"] == 0
	})
	if n := rowsOf(auditOnDisk(t, cfg.Engine.Audit.Path, "harbour")); n["late"] != before["late"] {
		t.Fatalf("89-day-old rows on disk after compaction: %v, want %d of late", n, before["late"])
	}
	if st, err := a.Audit().Stats(); err != nil || st.ExpiredDropped == 0 {
		t.Fatalf("audit stats %+v, %v: want expired rows dropped", st, err)
	}
}

// sessionExpiry reads the expiry the engine stored with key.
func sessionExpiry(t *testing.T, s *store.Sessions, key []byte) int64 {
	t.Helper()
	var exp int64
	found := false
	if err := s.Scan(key, func(k, _ []byte, e int64) bool {
		if string(k) == string(key) {
			exp, found = e, true
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("no row %q", key)
	}
	return exp
}
